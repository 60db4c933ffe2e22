"""Rows committed late: a source transaction stamps a row's update time, a run reads past that time
before the transaction commits, and the next run must still import the row (issue 20). Real
PostgreSQL and MariaDB; the transaction is held open on a second connection of the test.

Timing: the tests wait only for what they need to be true (a transaction older than the window),
never for something to happen within a time, so a loaded machine makes them slower, not flaky."""
import datetime as dt
import secrets
import time

import MySQLdb
import pytest

from pipelines.models import Pipeline, Run
from tests import support
from tests.pipelines.services import (counts, create_connection, create_pipeline, create_workspace, cursor_of,
                                      identities, pipeline_body, run_now)

UTC = dt.timezone.utc
T0 = support.BASE_TIME  # customer i was updated at T0 + i minutes


@pytest.fixture
def ws(api, warehouse_db):
    return create_workspace(api, warehouse_db)


class OpenTransaction:
    """A transaction of another client of the source, left open until `commit()`."""

    def __init__(self, source: support.Source):
        self.source = source
        if source.kind == "postgresql":
            self.conn = support.pg_connect(source.dbname)
            self.conn.autocommit = False
        else:
            self.conn = MySQLdb.connect(**support.MYSQL, db=source.dbname, charset="utf8mb4", autocommit=False)

    def execute(self, sql: str, params=()):
        cur = self.conn.cursor()
        cur.execute(sql, params or None)
        cur.close()

    def commit(self):
        self.conn.commit()
        self.conn.close()

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


class Lab:
    """The test's sources and the transactions it holds open on them. The transactions end before
    the sources are dropped: MariaDB's DROP DATABASE waits for an open transaction's locks."""

    def __init__(self):
        self.sources, self.transactions, self.roles = [], [], []

    def source(self, kind: str, *, unprivileged: bool = False) -> support.Source:
        self.sources.append(support.create_source(kind))
        source = self.sources[-1]
        if unprivileged:  # a PostgreSQL role that sees other roles' sessions but not their start
            role = f"kt_{secrets.token_hex(4)}"
            conn = support.pg_connect(source.dbname)
            with conn.cursor() as cur:
                cur.execute(f'CREATE ROLE "{role}" LOGIN')
                cur.execute(f'GRANT SELECT ON customers TO "{role}"')
            conn.close()
            self.roles.append(role)
            source.settings = dict(source.settings, username=role)
        return source

    def begin(self, source: support.Source) -> OpenTransaction:
        self.transactions.append(OpenTransaction(source))
        return self.transactions[-1]

    def close(self):
        for each in self.transactions:
            each.close()
        for source in self.sources:
            if source.kind == "mysql" or source.settings["username"] == support.PG["user"]:
                support.drop_source(source)
            else:
                support.drop_pg_database(source.dbname)
        conn = support.pg_connect("postgres")
        with conn.cursor() as cur:
            for role in self.roles:
                cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        conn.close()


@pytest.fixture
def lab():
    lab = Lab()
    yield lab
    lab.close()


def now_sql(source: support.Source) -> str:
    """The source's clock in UTC, as a value of `updated_ts` (a timestamp without time zone)."""
    return "(now() AT TIME ZONE 'UTC')" if source.kind == "postgresql" else "UTC_TIMESTAMP(6)"


def set_lookback(ws, pipeline_id: int, lookback):
    body = pipeline_body(ws, Pipeline.objects.get(id=pipeline_id).connection_id, incremental=True)
    resp = ws.api.put(f"/v1/pipelines/{pipeline_id}", body | {"updatedAtLookback": lookback})
    assert resp.status_code == 200, resp.content


def run_json(ws, run: Run) -> dict:
    resp = ws.api.get(f"/v1/pipelines/runs/{run.id}")
    assert resp.status_code == 200, resp.content
    return resp.json()


def first_names(ws, pipeline_id) -> dict:
    return identities(ws, pipeline_id)


def late_commit(lab, source):
    """Customer 3 is stamped T0+10m30s by a transaction still open; customer 4 is stamped T0+11m and
    committed. Returns the open transaction."""
    late = lab.begin(source)
    late.execute("UPDATE customers SET firstname = 'Late', updated_ts = %s WHERE id = 3",
                 (T0 + dt.timedelta(minutes=10, seconds=30),))
    source.execute("UPDATE customers SET firstname = 'After', updated_ts = %s WHERE id = 4",
                   (T0 + dt.timedelta(minutes=11),))
    return late


@pytest.mark.parametrize("source_kind", ["postgresql", "mysql"])
def test_without_the_lookback_a_row_committed_late_is_never_imported(ws, lab, source_kind):
    """Today's loss, which the setting is for (the default stays as it was)."""
    source = lab.source(source_kind)
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    assert counts(run_now(pid)) == ([10, 10, 0, 0, 10, 10, 10], [0] * 7)
    late = late_commit(lab, source)
    second = run_now(pid)
    assert counts(second)[0] == [2, 2, 0, 0, 2, 2, 2]  # customers 10 (at the cursor) and 4
    assert cursor_of(pid) == (T0 + dt.timedelta(minutes=11)).replace(tzinfo=UTC)
    late.commit()
    third = run_now(pid)
    assert counts(third)[0] == [1, 1, 0, 0, 1, 1, 1]  # customer 4 again, never customer 3
    assert first_names(ws, pid)["3"] == "First3"
    assert "lookback" not in run_json(ws, third)  # the reference's run object
    assert (second.lookback, third.reread, third.cursor_held, third.in_flight) == (None, 0, False, None)


@pytest.mark.parametrize("source_kind", ["postgresql", "mysql"])
def test_with_the_lookback_the_next_run_imports_the_late_row_once(ws, lab, source_kind):
    source = lab.source(source_kind)
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    set_lookback(ws, pid, "5m")
    assert counts(run_now(pid)) == ([10, 10, 0, 0, 10, 10, 10], [0] * 7)
    late = late_commit(lab, source)
    # Reads from T0+10m - 5m: customers 5 to 9 again (re-read), 10 (at the cursor), and 4.
    second = run_now(pid)
    assert counts(second)[0] == [7, 7, 0, 0, 7, 7, 7] and second.reread == 5
    assert cursor_of(pid) == (T0 + dt.timedelta(minutes=11)).replace(tzinfo=UTC)
    late.commit()
    third = run_now(pid)
    # From T0+11m - 5m: customers 6 to 10 and 3 (late) again, and 4 (at the cursor).
    assert counts(third) == ([7, 7, 0, 0, 7, 7, 7], [0] * 7)
    names = first_names(ws, pid)
    assert len(names) == 10 and names["3"] == "Late" and names["4"] == "After"
    conn = support.pg_connect(ws.warehouse_db)
    with conn.cursor() as cur:
        cur.execute("SELECT _identity_id, count(*) FROM krenalis_identities WHERE _pipeline = %s "
                    "GROUP BY _identity_id HAVING count(*) > 1", (pid,))
        assert cur.fetchall() == []  # nothing duplicated
    conn.close()
    shown = run_json(ws, third)["lookback"]
    assert (shown["window"], shown["reread"], shown["cursorHeld"]) == ("5m", 6, False)
    assert cursor_of(pid) == (T0 + dt.timedelta(minutes=11)).replace(tzinfo=UTC)
    if source_kind == "mysql":  # the test's source user has no PROCESS privilege
        assert shown["note"] == (
            "MySQL shows its transactions in progress (information_schema.INNODB_TRX) only to a user with the "
            f"PROCESS privilege, which '{source.settings['username']}' lacks (GRANT PROCESS ON *.* TO ...): only "
            "the look-back window covers late commits")
    else:
        assert shown["note"] == ""


def stamp_in_transaction(lab, source, window_seconds: float):
    """Customer 3 stamped with the source's clock by a transaction left open, then customer 4 stamped
    and committed once that transaction is older than the window."""
    late = lab.begin(source)
    late.execute(f"UPDATE customers SET firstname = 'Late', updated_ts = {now_sql(source)} WHERE id = 3")
    # MySQL keeps a transaction's start in whole seconds (and the bound has a second of margin).
    time.sleep(window_seconds + (2.5 if source.kind == "mysql" else 1.5))
    source.execute(f"UPDATE customers SET firstname = 'After', updated_ts = {now_sql(source)} WHERE id = 4")
    return late


def updated_ts(source, customer_id: int) -> dt.datetime:
    return source.execute("SELECT updated_ts FROM customers WHERE id = %s", (customer_id,))[0][0].replace(tzinfo=UTC)


def grant_process(source):
    conn = support._mysql()
    conn.cursor().execute(f"GRANT PROCESS ON *.* TO '{source.settings['username']}'@'%'")
    conn.close()


@pytest.mark.parametrize("source_kind", ["postgresql", "mysql"])
def test_a_transaction_longer_than_the_window_holds_the_cursor(ws, lab, source_kind):
    """The transaction-aware bound: the run that reads while the transaction is open stores a cursor
    below the transaction's start, so the next run reads its row though the window is shorter."""
    source = lab.source(source_kind)
    if source_kind == "mysql":
        grant_process(source)
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    set_lookback(ws, pid, "1s")
    assert counts(run_now(pid))[0] == [10] * 2 + [0] * 2 + [10] * 3
    late = stamp_in_transaction(lab, source, 1)
    second = run_now(pid)
    assert counts(second)[0] == [2, 2, 0, 0, 2, 2, 2]  # customers 10 (at the cursor) and 4
    after = updated_ts(source, 4)
    assert second.cursor_held and cursor_of(pid) < after - dt.timedelta(seconds=1)
    assert run_json(ws, second)["lookback"] == {"window": "1s", "reread": 0, "cursorHeld": True, "note": ""}
    late.commit()
    third = run_now(pid)
    assert first_names(ws, pid)["3"] == "Late"
    assert counts(third) == ([2, 2, 0, 0, 2, 2, 2], [0] * 7)  # customers 3 and 4, once each
    assert len(first_names(ws, pid)) == 10
    if source_kind == "postgresql":
        assert not third.cursor_held and cursor_of(pid) == after
    else:  # MariaDB's transactions are the server's: another session's may hold the cursor a moment
        assert cursor_of(pid) == after or (third.cursor_held and cursor_of(pid) < after)


def test_without_the_bound_the_same_transaction_is_lost_with_a_short_window(ws, lab):
    """The same story on MariaDB without the PROCESS privilege (no bound): the 1s window alone does
    not cover a transaction that lasted longer, so the bound test above is not vacuous."""
    source = lab.source("mysql")
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    set_lookback(ws, pid, "1s")
    run_now(pid)
    late = stamp_in_transaction(lab, source, 1)
    second = run_now(pid)
    assert not second.cursor_held and cursor_of(pid) == updated_ts(source, 4)
    late.commit()
    run_now(pid)
    assert first_names(ws, pid)["3"] == "First3"


def test_a_start_postgresql_hides_is_bounded_by_the_previous_observation(ws, lab):
    """pg_stat_activity hides other roles' transaction starts; a transaction the previous run did not
    see started after that run looked, which holds the cursor there."""
    source = lab.source("postgresql", unprivileged=True)
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    set_lookback(ws, pid, "1s")
    first = run_now(pid)
    assert first.in_flight["transactions"] == {}
    looked = dt.datetime.fromisoformat(first.in_flight["at"])
    late = stamp_in_transaction(lab, source, 1)
    second = run_now(pid)
    [start] = second.in_flight["transactions"].values()
    assert start == first.in_flight["at"]  # not shown: after the previous observation
    assert second.cursor_held and cursor_of(pid) == looked
    late.commit()
    run_now(pid)
    assert first_names(ws, pid)["3"] == "Late"
    assert cursor_of(pid) == updated_ts(source, 4)


def test_a_start_nobody_saw_keeps_the_cursor_where_it_was(ws, lab):
    """The look-back switched on while a transaction whose start PostgreSQL hides is open: no
    observation says when it started, so the run does not move the cursor."""
    source = lab.source("postgresql", unprivileged=True)
    pid = create_pipeline(ws, create_connection(ws, source), incremental=True)
    run_now(pid)
    before = cursor_of(pid)
    late = stamp_in_transaction(lab, source, 1)
    set_lookback(ws, pid, "1s")
    assert cursor_of(pid) == before  # changing the window keeps the cursor
    second = run_now(pid)
    assert counts(second)[0] == [2, 2, 0, 0, 2, 2, 2]  # customers 10 (at the cursor) and 4
    assert second.cursor_held and cursor_of(pid) == before
    late.commit()
    run_now(pid)
    assert first_names(ws, pid)["3"] == "Late"
