"""The look-back's pure core: the window's text, where a run reads from, and the cursor bound of the
source's transactions in progress (pipelines/lookback.py)."""
import datetime as dt

import pytest

from pipelines.connectors.base import InFlight
from pipelines.lookback import (LookbackError, format_lookback, held_cursor, in_flight_record, parse_lookback,
                                read_from)

UTC = dt.timezone.utc
NOON = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text, seconds, canonical", [
    ("1s", 1, "1s"), ("30s", 30, "30s"), ("90s", 90, "1m30s"), ("5m", 300, "5m"), ("1h30m", 5400, "1h30m"),
    ("2d", 172800, "2d"), ("1d2h3m4s", 93784, "1d2h3m4s"), ("7d", 604800, "7d"), ("05m", 300, "5m"),
    ("1d0h", 86400, "1d"),
])
def test_windows_read_and_written(text, seconds, canonical):
    assert parse_lookback(text) == seconds
    assert format_lookback(seconds) == canonical


@pytest.mark.parametrize("text, message", [
    ("5x", 'update time look-back "5x" is not a duration: write one such as "30s", "5m", "1h30m" or "2d" '
           '(whole days, hours, minutes and seconds, in that order)'),
    ("5", 'update time look-back "5" is not a duration'),
    ("1m1h", 'update time look-back "1m1h" is not a duration'),
    ("5 m", 'update time look-back "5 m" is not a duration'),
    ("-5m", 'update time look-back "-5m" is not a duration'),
    ("PT5M", 'update time look-back "PT5M" is not a duration'),
    ("0s", 'update time look-back "0s" is shorter than 1s'),
    ("0d0h", 'update time look-back "0d0h" is shorter than 1s'),
    ("7d1s", 'update time look-back "7d1s" is longer than 7d'),
    ("99999999999999999999d", 'update time look-back "99999999999999999999d" is longer than 7d'),
])
def test_bad_windows_say_why(text, message):
    with pytest.raises(LookbackError) as refused:
        parse_lookback(text)
    assert str(refused.value).startswith(message)


def test_a_run_reads_from_the_cursor_less_the_window():
    assert read_from(NOON, 300) == NOON - dt.timedelta(minutes=5)
    assert read_from(NOON, None) == NOON and read_from(None, 300) is None
    tiny = dt.datetime(1, 1, 1, 0, 1, tzinfo=UTC)
    assert read_from(tiny, 3600) == dt.datetime.min.replace(tzinfo=UTC)


def observed(at, margin=0, **transactions):
    return InFlight(source="pg 1", at=at, transactions=transactions, margin=dt.timedelta(seconds=margin))


def test_starts_the_source_shows_bound_the_cursor_with_their_margin():
    record = in_flight_record(observed(NOON, margin=1, a=NOON - dt.timedelta(hours=1)), None)
    assert record["transactions"] == {"a": (NOON - dt.timedelta(hours=1, seconds=1)).isoformat()}
    later = NOON + dt.timedelta(minutes=5)
    assert held_cursor(later, NOON, record) == (NOON - dt.timedelta(hours=1, seconds=1), True)
    # Nothing in progress: the observation's own time (less the margin) is the bound.
    quiet = in_flight_record(observed(NOON, margin=1), None)
    assert held_cursor(NOON - dt.timedelta(seconds=5), None, quiet) == (NOON - dt.timedelta(seconds=5), False)
    assert held_cursor(later, NOON, quiet) == (NOON - dt.timedelta(seconds=1), True)


def test_a_hidden_start_is_bounded_by_the_previous_observation():
    first = in_flight_record(observed(NOON, old=None), None)
    assert first["transactions"] == {"old": None}  # nobody saw it start
    later = NOON + dt.timedelta(minutes=10)
    # Unknown: the cursor stays where the run started (or at zero).
    assert held_cursor(later, NOON - dt.timedelta(hours=1), first) == (NOON - dt.timedelta(hours=1), True)
    assert held_cursor(later, None, first) == (None, True)
    second = in_flight_record(observed(later, old=None, new=None), first)
    # "new" started after the first observation; "old" stays unknown.
    assert second["transactions"] == {"old": None, "new": NOON.isoformat()}
    third = in_flight_record(observed(later + dt.timedelta(minutes=1), new=None), second)
    assert third["transactions"] == {"new": NOON.isoformat()}  # carried, not moved to the second's time
    assert held_cursor(later, NOON - dt.timedelta(hours=1), third) == (NOON, True)


def test_another_source_s_observation_says_nothing():
    first = in_flight_record(observed(NOON), None)
    moved = InFlight(source="pg 2", at=NOON + dt.timedelta(minutes=1), transactions={"x": None})
    assert in_flight_record(moved, first)["transactions"] == {"x": None}


def test_no_observation_no_hold():
    assert held_cursor(NOON, None, None) == (NOON, False)
    assert held_cursor(None, None, in_flight_record(observed(NOON, a=NOON), None)) == (None, False)
