"""The update-time look-back of incremental runs (pure Python, no Django).

A row whose update time was set inside a source transaction that commits after a run has read past
that time is never read by a cursor that only moves forward: the run could not see it, and later
runs start above it. With a look-back window, an incremental run reads from `cursor - window`
(the rows it reads again are upserts of the same values). Where the source shows its transactions
in progress, the run also holds the cursor it stores at the start of the oldest transaction in
progress when it read, so that a transaction longer than the window is covered too.

`parse_lookback`/`format_lookback` read and write the setting ("30s", "5m", "1h30m", "2d");
`in_flight_bound` turns an observation of the transactions in progress (see
connectors.base.InFlight) and the previous run's into the greatest cursor that is safe.
"""
from __future__ import annotations

import datetime as dt
import re

UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
MIN_SECONDS, MAX_SECONDS = 1, 7 * 86400
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
EXAMPLES = '"30s", "5m", "1h30m" or "2d"'


class LookbackError(ValueError):
    """str() is the message of the 400 that refuses the setting."""


def parse_lookback(text: str) -> int:
    """Seconds of a look-back window written as whole days, hours, minutes and seconds, in that
    order ("5m", "1h30m", "90s"); between 1s and 7d."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise LookbackError(f'update time look-back "{text}" is not a duration: write one such as {EXAMPLES} '
                            f"(whole days, hours, minutes and seconds, in that order)")
    seconds = sum(int(amount) * size for amount, (_, size) in zip(match.groups(), UNITS) if amount)
    if seconds < MIN_SECONDS:
        raise LookbackError(f'update time look-back "{text}" is shorter than 1s')
    if seconds > MAX_SECONDS:
        raise LookbackError(f'update time look-back "{text}" is longer than 7d')
    return seconds


def format_lookback(seconds: int | None) -> str | None:
    """The canonical text of a window: 90 -> "1m30s", 86400 -> "1d"."""
    if not seconds:
        return None
    parts = []
    for unit, size in UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def read_from(cursor: dt.datetime | None, lookback_seconds: int | None) -> dt.datetime | None:
    """Where an incremental run starts reading: the cursor, less the window."""
    if cursor is None or not lookback_seconds:
        return cursor
    try:
        return cursor - dt.timedelta(seconds=lookback_seconds)
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=cursor.tzinfo)


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def in_flight_record(in_flight, previous: dict | None) -> dict:
    """What a run keeps of its observation of the source's transactions in progress (`in_flight`,
    a connectors.base.InFlight), for itself and the next run: each transaction with the earliest
    time it may have started, or None when that is unknown.

    A transaction whose start the source does not show (PostgreSQL shows other users' only to a
    member of pg_read_all_stats) started after the previous observation when that one did not see
    it, or when that one saw it, no earlier than that one said."""
    same_source = previous is not None and previous.get("source") == in_flight.source
    known = previous.get("transactions", {}) if same_source else {}
    transactions = {}
    for key, start in in_flight.transactions.items():
        if start is not None:
            transactions[key] = _text(start - in_flight.margin)
        elif key in known:
            transactions[key] = known[key]
        elif same_source:
            transactions[key] = previous["at"]
        else:
            transactions[key] = None
    return {"source": in_flight.source, "at": _text(in_flight.at - in_flight.margin),
            "transactions": transactions}


def in_flight_bound(record: dict) -> tuple[bool, dt.datetime | None]:
    """(known, bound): no row committed after the observation has an update time below `bound`
    (assuming update times come from the source's clock inside the transaction: now(),
    CURRENT_TIMESTAMP, ON UPDATE CURRENT_TIMESTAMP). `known` is False when a transaction in
    progress started at a time nobody observed: then no cursor beyond the run's start is safe."""
    starts = list(record["transactions"].values())
    if any(start is None for start in starts):
        return False, None
    return True, min(map(_parse, [*starts, record["at"]]))


def held_cursor(cursor: dt.datetime | None, start_cursor: dt.datetime | None,
                record: dict | None) -> tuple[dt.datetime | None, bool]:
    """(cursor to store, held): the run's cursor, held below the transactions that were in progress
    when it read. An unknown start keeps the cursor where the run started."""
    if record is None or cursor is None:
        return cursor, False
    known, bound = in_flight_bound(record)
    if not known:
        return start_cursor, start_cursor != cursor
    if bound < cursor:
        return bound, True
    return cursor, False
