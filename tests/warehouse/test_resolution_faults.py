"""Identity resolution while imports write, and a resolution's process killed midway, on
PostgreSQL and SQLite: a change committed during a resolution is resolved by the next one, never
lost; a killed resolution leaves consistent profiles, and the next one completes the work.

"The same as a full resolution" is checked on the warehouse itself: after a resolution, a full
one of the unchanged data keeps every kpid, so the profiles (members, attributes, kpids) must not
change at all."""
import json
import sys
import threading
import time

import pytest
from django.conf import settings

from tests import support
from tests.warehouse.test_incremental_resolution import check_consistent, profiles
from tests.warehouse.test_resolution import groups, kpid_of, resolve, sql, write
from tests.warehouse.test_resolution import pg_wh, wh  # noqa: F401 (fixtures)
from warehouse.backends import PostgreSQLWarehouse
from warehouse.resolution import FULL, INCREMENTAL, PostgreSQLResolution, SQLiteResolution


def log(wh) -> list[tuple]:
    return sorted((pk, None if kpid is None else str(kpid)) for pk, kpid in sql(wh, "SELECT pk, kpid FROM krenalis_changes"))


def pk_of(wh, pipeline, identity_id) -> int:
    return sql(wh, "SELECT _pk FROM krenalis_identities WHERE _pipeline = ? AND _identity_id = ?",
               (pipeline, identity_id))[0][0]


def assert_same_as_full(wh) -> dict:
    """The profiles are consistent and a full resolution changes nothing of them; returns them."""
    before = profiles(wh)
    check_consistent(wh, before, "before the full resolution")
    resolve(wh, full=True)
    assert profiles(wh) == before
    return before


def resolution_class(wh):
    return PostgreSQLResolution if isinstance(wh, PostgreSQLWarehouse) else SQLiteResolution


def baseline(wh) -> None:
    """{a, b} share an email (pipelines 1 and 2); c (pipeline 3) and d (pipeline 1) are alone;
    then c takes a's email, so that the next resolution merges {a, b} and {c} under a new kpid."""
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "name": "A"}), ("d", 1, {"email": "d@example.com"})])
    write(wh, 2, 20, [("b", 2, {"email": "a@example.com", "name": "B"})])
    write(wh, 3, 30, [("c", 3, {"email": "c@example.com"})])
    resolve(wh)
    write(wh, 3, 30, [("c", 4, {"email": "a@example.com"})], run=2)


def late_changes(wh) -> None:
    """What imports commit while the resolution runs: b is deleted (from the profile being merged
    under a new kpid), e joins d's profile (which the resolution does not touch)."""
    assert wh.delete_pipeline_identities(2) == 1
    write(wh, 4, 40, [("e", 9, {"email": "d@example.com", "name": "E"})], run=9)


@pytest.mark.parametrize("kind", [INCREMENTAL, FULL])
def test_changes_committed_during_a_resolution_are_resolved_by_the_next(wh, monkeypatch, kind):
    baseline(wh)
    old = kpid_of(wh, 1, "a")
    b = pk_of(wh, 2, "b")
    cls = resolution_class(wh)
    # After the snapshot: before an incremental resolution publishes; for a full one, after it
    # swapped its profiles in, before the kpids are written back.
    method = "publish_changes" if kind == INCREMENTAL else "write_back"
    original = getattr(cls, method)

    def meanwhile(self):
        late_changes(wh)
        original(self)

    monkeypatch.setattr(cls, method, meanwhile)
    result = resolve(wh, full=kind == FULL)
    monkeypatch.undo()
    assert result.kind == kind
    merged = kpid_of(wh, 1, "a")
    assert merged != old and kpid_of(wh, 3, "c") == merged
    # What the resolution read is consumed; what was committed meanwhile is left, the deleted b
    # with the profile the resolution just put it in (so that the next one rewrites that profile).
    assert log(wh) == [(b, merged), (pk_of(wh, 4, "e"), None)]
    assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 2     # {a, b, c} and {d}: e not yet
    result = resolve(wh)
    assert (result.kind, log(wh)) == (INCREMENTAL, [])
    assert groups(wh) == {frozenset({(1, "a"), (3, "c")}), frozenset({(1, "d"), (4, "e")})}
    found = assert_same_as_full(wh)
    assert found[merged][2]["name"] == "A" and kpid_of(wh, 1, "a") == merged


def test_an_import_committing_while_a_resolution_publishes_waits_and_is_kept(wh, monkeypatch):
    baseline(wh)
    cls = resolution_class(wh)
    original = cls.consume_log
    done = threading.Event()

    def import_now():
        write(wh, 4, 40, [("e", 9, {"email": "d@example.com"})], run=9)
        done.set()

    def publishing(self):
        # Inside the publishing transaction: an import starts, and must wait for it.
        thread = threading.Thread(target=import_now)
        thread.start()
        if isinstance(wh, PostgreSQLWarehouse):
            assert support.wait_for(lambda: sql(wh, "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                                                    "ON c.oid = l.relation WHERE c.relname = 'krenalis_changes' "
                                                    "AND NOT l.granted")[0][0], timeout=20)
        else:
            time.sleep(0.5)
        assert not done.is_set()
        original(self)
        self.thread = thread

    monkeypatch.setattr(cls, "consume_log", publishing)
    resolution = []
    original_init = cls.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        resolution.append(self)

    monkeypatch.setattr(cls, "__init__", init)
    assert resolve(wh).kind == INCREMENTAL
    resolution[0].thread.join(30)
    monkeypatch.undo()
    assert done.is_set() and log(wh) == [(pk_of(wh, 4, "e"), None)]
    assert resolve(wh).kind == INCREMENTAL
    assert frozenset({(1, "d"), (4, "e")}) in groups(wh)
    assert_same_as_full(wh)


# --------------------------------------------------------------------------- killed with SIGKILL

def start_child(wh, tmp_path, *, full=False) -> support.Child:
    job = {"platform": wh.platform, "settings": wh.settings, "full": full}
    return support.Child([sys.executable, "-m", "tests.warehouse.resolve_child", json.dumps(job)],
                         support.child_env(settings.CELERY_BROKER_URL), tmp_path / "child.log", ready=b"resolving")


def blocked_by(wh, blocker, child, statement: str) -> int:
    """The PID of the child's server session once it waits for a lock `blocker` holds, in a query
    that begins with `statement` (so the child is at that very step, not any other wait); fails
    with the child's output if that does not happen within a minute (a loaded machine starts the
    child slowly) or if the child exits first."""
    def waiting():
        if child.process.poll() is not None:
            return -1
        rows = sql(wh, "SELECT pid FROM pg_stat_activity WHERE application_name = 'krenalis-warehouse' "
                       "AND datname = current_database() AND wait_event_type = 'Lock' "
                       "AND %s = ANY(pg_blocking_pids(pid)) AND starts_with(query, %s)",
                   (blocker.get_backend_pid(), statement))
        return rows[0][0] if rows else None

    pid = support.wait_for(waiting, timeout=60)
    assert pid and pid > 0, f"the resolution never waited at {statement!r}:\n{child.output()}"
    return pid


def ended(wh, pid: int) -> None:
    """Waits until the server has ended a killed child's session. The server notices a client's
    death only when it next talks to it: a session waiting for a lock lives on, and holds the
    resolution's advisory lock (the next resolution would be refused as busy), until it gets
    the lock, runs its statement and finds the socket closed; its transaction is then rolled back."""
    assert support.wait_for(lambda: not sql(wh, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)),
                            timeout=30), f"the killed resolution's session {pid} is still there"


def test_a_resolution_killed_before_publishing_changed_nothing(wh, tmp_path):
    baseline(wh)
    before = {kpid: value for kpid, value in sql(wh, "SELECT _kpid, _identities FROM krenalis_profiles")}
    pending = log(wh)
    if isinstance(wh, PostgreSQLWarehouse):
        # An import in flight holds the change log: the resolution computes, then waits to publish.
        with wh.connect() as blocker, blocker.cursor() as cur:
            cur.execute("LOCK TABLE krenalis_changes IN ROW EXCLUSIVE MODE")
            child = start_child(wh, tmp_path)
            pid = blocked_by(wh, blocker, child, "LOCK TABLE krenalis_changes IN EXCLUSIVE MODE")
            child.kill()
            blocker.rollback()
        ended(wh, pid)
    else:
        with wh.connect() as blocker:
            blocker.execute("BEGIN IMMEDIATE")        # a writer's transaction: the resolution waits to publish
            child = start_child(wh, tmp_path)
            assert support.wait_for(lambda: "compute done" in child.output(), timeout=30), child.output()
            time.sleep(0.3)
            child.kill()
            blocker.execute("ROLLBACK")
    assert "resolved" not in child.output()
    assert {kpid: value for kpid, value in sql(wh, "SELECT _kpid, _identities FROM krenalis_profiles")} == before
    assert log(wh) == pending
    result = resolve(wh)
    assert (result.kind, log(wh)) == (INCREMENTAL, [])
    assert groups(wh) == {frozenset({(1, "a"), (2, "b"), (3, "c")}), frozenset({(1, "d")})}
    assert_same_as_full(wh)


def test_a_full_resolution_killed_while_writing_kpids_back_is_completed_by_the_next(pg_wh, tmp_path):
    wh = pg_wh
    baseline(wh)
    pending = log(wh)
    with wh.connect() as blocker, blocker.cursor() as cur:
        # A row the write-back must change, locked: the resolution swaps its profiles in, then waits.
        cur.execute("SELECT 1 FROM krenalis_identities WHERE _identity_id = 'a' FOR UPDATE")
        child = start_child(wh, tmp_path, full=True)
        pid = blocked_by(wh, blocker, child, "UPDATE krenalis_identities")
        assert "publish done" in child.output()
        child.kill()
        blocker.rollback()
    ended(wh, pid)
    # The profiles are those it swapped in, whole and consistent; its identities' kpids are not.
    found = profiles(wh)
    assert {members for members, _, _ in found.values()} == {
        frozenset({(1, "a"), (2, "b"), (3, "c")}), frozenset({(1, "d")})}
    assert sql(wh, "SELECT spec FROM krenalis_resolution_state") == [(None,)]
    assert log(wh) == pending
    result = resolve(wh)
    assert (result.kind, result.reason, log(wh)) == (FULL, "no complete resolution before", [])
    assert_same_as_full(wh)
    assert resolve(wh).kind == INCREMENTAL
