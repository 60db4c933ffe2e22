"""The change log (warehouse.changes): every path that writes krenalis_identities records what it
did, in the same transaction, on PostgreSQL and SQLite; and which resolutions are full."""
from datetime import timedelta

import pytest

from pipelines.types import parse_type
from tests.warehouse.test_resolution import (  # noqa: F401 (wh, pg_wh: the fixtures)
    COLUMNS, SCHEMA, SCHEMA_JSON, T0, groups, kpid_of, pg_wh, resolve, sql, wh, write,
)
from warehouse import changes
from warehouse.alter_schema import alter_statements, plan_schema_change
from warehouse.resolution import FULL, INCREMENTAL

NAMES = [c.name for c in COLUMNS]


def log(wh) -> list[tuple]:
    """The change log as (pk, kpid), in order."""
    return [(pk, None if kpid is None else str(kpid))
            for pk, kpid in sql(wh, "SELECT pk, kpid FROM krenalis_changes ORDER BY seq")]


def pk_of(wh, pipeline, identity_id) -> int:
    return sql(wh, "SELECT _pk FROM krenalis_identities WHERE _pipeline = ? AND _identity_id = ?",
               (pipeline, identity_id))[0][0]


def state(wh) -> tuple:
    return tuple(sql(wh, "SELECT spec IS NOT NULL, identities FROM krenalis_resolution_state")[0])


def test_an_incremental_resolution_finds_every_link_of_the_changed_identities(wh):
    """The expansion's lookups skip each changed identity itself (its own pipeline for rule 1, its
    own `_pk` in the identifier's index for rule 2), never its links: to an older identity of
    another pipeline of its connection, to an older or a newer identity with its identifier."""
    write(wh, 1, 10, [("u1", 1, {"email": "a@example.com"}), ("u2", 1, {"email": "b@example.com"}),
                      ("u3", 1, {"email": "c@example.com"})])
    write(wh, 3, 20, [("w", 1, {"email": "d@example.com"})])
    assert resolve(wh).kind == FULL
    write(wh, 2, 10, [("u1", 2, {"phone": "1"})])                    # rule 1, the same user of connection 10
    write(wh, 3, 20, [("v", 2, {"email": "b@example.com"})], run=2)    # a new identity, an older one's email
    write(wh, 1, 10, [("u3", 2, {"email": "d@example.com"})], run=2, columns=["email"])   # a newer one's
    assert pk_of(wh, 1, "u3") < pk_of(wh, 3, "w") and pk_of(wh, 1, "u2") < pk_of(wh, 3, "v")
    result = resolve(wh)
    assert (result.kind, result.identities) == (INCREMENTAL, 6)   # the 3 written, the 3 they link to
    assert groups(wh) == {frozenset({(1, "u1"), (2, "u1")}), frozenset({(1, "u2"), (3, "v")}),
                          frozenset({(1, "u3"), (3, "w")})}


def test_writes_record_the_identities_they_insert_and_change(wh):
    assert log(wh) == [] and state(wh) == (False, 0)
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 1, {"email": "b@example.com"})])
    a, b = pk_of(wh, 1, "a"), pk_of(wh, 1, "b")
    assert sorted(log(wh)) == [(a, None), (b, None)]
    result = resolve(wh)
    assert (result.kind, log(wh), state(wh)) == (FULL, [], (True, 2))   # consumed
    write(wh, 1, 10, [("a", 2, {"email": "a@example.com", "name": "changed"})], run=2)
    assert log(wh) == [(a, None)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=3, columns=[]) as writer:
        writer.keep(["a", "b"])        # marks them seen by a run: nothing a profile shows
    assert log(wh) == [(a, None)]


def test_deletes_record_the_profile_each_identity_was_in(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 1, {"email": "b@example.com"})])
    write(wh, 2, 10, [("a", 1, {"email": "a@example.com"})])
    write(wh, 3, 20, [("c", 1, {"email": "c@example.com"})])
    resolve(wh)
    a, b, a2, c = pk_of(wh, 1, "a"), pk_of(wh, 1, "b"), pk_of(wh, 2, "a"), pk_of(wh, 3, "c")
    kpid_a, kpid_b, kpid_c = kpid_of(wh, 1, "a"), kpid_of(wh, 1, "b"), kpid_of(wh, 3, "c")
    # A full run that reads only "a": its purge deletes "b".
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=7, columns=[("email", COLUMNS[0].type)]) as writer:
        writer.write([("a", T0, ("a@example.com",))])
        assert writer.purge() == 1
    assert log(wh) == [(a, None), (b, kpid_b)]
    assert wh.delete_pipeline_identities(2) == 1
    assert wh.delete_connection_identities(20) == 1
    assert log(wh)[2:] == [(a2, kpid_a), (c, kpid_c)]
    result = resolve(wh)
    assert (result.kind, result.identities, result.profiles) == (INCREMENTAL, 1, 1)   # only "a" is left
    assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 1 and kpid_of(wh, 1, "a") == kpid_a


def test_bulk_writes_record_anything_changed(wh, monkeypatch):
    monkeypatch.setattr(changes, "INCREMENTAL_MIN_ROWS", 3)
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"})])
    resolve(wh)
    assert resolve(wh).kind == INCREMENTAL
    # A run writing more than a writer records one by one: "anything changed" instead.
    write(wh, 1, 10, [(f"u{i}", 1, {"email": f"u{i}@example.com"}) for i in range(4)], run=2)
    assert log(wh) == [(None, None)]
    result = resolve(wh)
    assert (result.kind, result.reason, result.profiles) == (FULL, "bulk changes", 5)
    # Unset columns and a profile schema change too.
    wh.unset_identity_columns(1, ["email"])
    assert log(wh) == [(None, None)]
    assert resolve(wh).kind == FULL
    assert wh.unset_identity_columns(1, ["email"]) == 0 and log(wh) == []     # nothing changed: nothing recorded
    # "name" dropped and added again (its values are lost): the same columns.
    wh.alter_profile_schema(alter_statements(wh.platform, plan_schema_change(SCHEMA, SCHEMA, {"name": None}), SCHEMA))
    assert log(wh) == [(None, None)]
    assert resolve(wh).reason == "bulk changes"


def test_many_changes_resolve_fully(wh, monkeypatch):
    monkeypatch.setattr(changes, "INCREMENTAL_MIN_ROWS", 2)
    monkeypatch.setattr(changes, "INCREMENTAL_MAX_SHARE", 0.5)
    write(wh, 1, 10, [(f"u{i}", 1, {"email": f"u{i}@example.com"}) for i in range(6)])
    resolve(wh)                                                  # the limit is now 3 identities
    write(wh, 1, 10, [("u0", 2, {"email": "x@example.com"}), ("u1", 2, {"email": "y@example.com"})], run=2)
    assert resolve(wh).kind == INCREMENTAL
    for run, ids in ((3, (0, 1)), (4, (2, 3))):                  # each run records its two one by one
        write(wh, 1, 10, [(f"u{i}", run, {"email": f"z{i}@example.com"}) for i in ids], run=run)
    assert len(log(wh)) == 4
    assert (lambda r: (r.kind, r.reason))(resolve(wh)) == (FULL, "many changes")
    # One change in a large profile: the set to regroup outgrows the limit while expanding.
    write(wh, 2, 20, [(f"v{i}", 1, {"email": "shared@example.com"}) for i in range(8)], run=5)
    assert resolve(wh).reason == "bulk changes"                 # 8 written: more than a writer records
    write(wh, 2, 20, [("v0", 5, {"email": "shared@example.com", "name": "n"})], run=6)
    result = resolve(wh)
    assert (result.kind, result.reason, result.identities, result.profiles) == (FULL, "many changes", 14, 7)


@pytest.mark.parametrize("change", ["identifiers", "primary sources", "columns"])
def test_a_change_of_what_resolution_depends_on_resolves_fully(wh, change):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "phone": "1"})])
    write(wh, 2, 20, [("b", 1, {"email": "b@example.com", "phone": "1"})])
    resolve(wh)
    assert resolve(wh).kind == INCREMENTAL
    if change == "identifiers":
        result = resolve(wh, identifiers=("phone", "email"))
        assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 1
    elif change == "primary sources":
        result = resolve(wh, primary_sources={"name": 20})
    else:
        result = resolve(wh, schema=parse_type({**SCHEMA_JSON, "properties": SCHEMA_JSON["properties"][:-1]}))
    assert (result.kind, result.reason) == (FULL, "identifiers, primary sources or profile columns changed")


def test_warehouses_made_before_the_change_log_get_one(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"})])
    sql(wh, "DROP TABLE krenalis_changes")
    sql(wh, "DROP TABLE krenalis_resolution_state")
    write(wh, 1, 10, [("b", 1, {"email": "b@example.com"})], run=2)     # the writer makes it
    assert log(wh) == [(pk_of(wh, 1, "b"), None)]
    sql(wh, "DROP TABLE krenalis_changes")
    sql(wh, "DROP TABLE krenalis_resolution_state")
    assert wh.delete_pipeline_identities(1) == 2                       # so does a delete
    assert len(log(wh)) == 2
    sql(wh, "DROP TABLE krenalis_changes")
    sql(wh, "DROP TABLE krenalis_resolution_state")
    assert resolve(wh).reason == "no complete resolution before"       # and a resolution


def test_postgresql_log_says_where_each_written_row_is(pg_wh):
    write(pg_wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 1, {"email": "b@example.com"})])
    resolve(pg_wh)
    write(pg_wh, 1, 10, [("a", 2, {"email": "a@example.com", "name": "Ann"})], run=2)
    assert sql(pg_wh, "SELECT l.pk = i._pk FROM krenalis_changes l JOIN krenalis_identities i ON i.ctid = l.tid") \
        == [(True,)]


def test_postgresql_resolution_reads_by_primary_key_the_rows_the_log_no_longer_locates(pg_wh):
    """The row version a log row locates may be gone, or the slot may hold another identity's
    row: the resolution regroups each identity from its current row all the same."""
    write(pg_wh, 1, 10, [(name, 1, {"email": f"{name}@example.com"}) for name in "abc"])
    resolve(pg_wh)
    write(pg_wh, 1, 10, [("a", 2, {"email": "a@example.com", "name": "Ann"}),
                         ("b", 2, {"email": "c@example.com", "name": "Bob"}),
                         ("c", 3, {"email": "c@example.com", "name": "Cid"})], run=2)
    a, b, c = (pk_of(pg_wh, 1, name) for name in "abc")
    (b_tid,) = sql(pg_wh, "SELECT ctid::text FROM krenalis_identities WHERE _pk = ?", (b,))[0]
    sql(pg_wh, "UPDATE krenalis_changes SET tid = ?::tid WHERE pk = ?", (b_tid, a))        # b's row
    sql(pg_wh, "UPDATE krenalis_changes SET tid = '(4000,1)' WHERE pk = ?", (c,))           # nothing there
    result = resolve(pg_wh)
    assert (result.kind, result.identities, result.profiles) == (INCREMENTAL, 3, 2)   # b now has c's email
    members = sorted(sorted(row[0]) for row in sql(pg_wh, "SELECT _identities FROM krenalis_profiles"))
    assert members == [[a], sorted([b, c])]
    names = dict(sql(pg_wh, "SELECT email, name FROM profiles"))
    assert names == {"a@example.com": "Ann", "c@example.com": "Cid"}


def test_postgresql_logs_made_before_tid_existed_get_it(pg_wh):
    sql(pg_wh, "ALTER TABLE krenalis_changes DROP COLUMN tid")
    write(pg_wh, 1, 10, [("a", 1, {"email": "a@example.com"})])       # the writer adds it
    assert sql(pg_wh, "SELECT count(tid) FROM krenalis_changes") == [(1,)]


def test_postgresql_publishing_replaces_profiles_that_moved_since_they_were_read(pg_wh, monkeypatch):
    """The incremental resolution deletes the profiles it replaces where it read them; a row
    version moved meanwhile (here by an UPDATE from another session) is deleted by its kpid."""
    from warehouse.resolution import PostgreSQLResolution

    write(pg_wh, 1, 10, [(name, 1, {"email": f"{name}@example.com"}) for name in "abc"])
    resolve(pg_wh)
    write(pg_wh, 1, 10, [("a", 2, {"email": "a@example.com", "name": "Ann"})], run=2)
    begin_publish = PostgreSQLResolution.begin_publish

    def moved_first(self):
        sql(pg_wh, "UPDATE krenalis_profiles SET _updated_at = _updated_at")
        begin_publish(self)

    monkeypatch.setattr(PostgreSQLResolution, "begin_publish", moved_first)
    result = resolve(pg_wh)
    assert (result.kind, result.profiles) == (INCREMENTAL, 1)
    assert sorted(sql(pg_wh, "SELECT email, name FROM profiles")) == [
        ("a@example.com", "Ann"), ("b@example.com", None), ("c@example.com", None)]


def staged_rows(wh, pipeline) -> dict:
    """identity id -> (_pk, _kpid, _run, email, name) of the pipeline's identities."""
    return {row[0]: (row[1], None if row[2] is None else str(row[2]), *row[3:])
            for row in sql(wh, "SELECT _identity_id, _pk, _kpid, _run, email, name FROM krenalis_identities "
                               "WHERE _pipeline = ?", (pipeline,))}


def test_a_staged_full_run_writes_and_logs_only_the_difference(pg_wh):
    """A full run into identities that exist stages its rows and, at its end, writes in one transaction
    what differs: changed identities keep their _pk and kpid, unchanged ones are not touched at all (their
    _run stays), kept ones stay, the others are purged; the log holds exactly that difference, so the
    next resolution is incremental however many identities the run read."""
    wh = pg_wh
    rows = [(x, 1, {"email": f"{x}@example.com", "name": x}) for x in "abcd"]
    write(wh, 1, 10, rows)
    write(wh, 2, 20, [("a", 1, {"email": "other@example.com"})])     # another pipeline: untouched
    resolve(wh)
    before = staged_rows(wh, 1)
    columns = [(n, COLUMNS[NAMES.index(n)].type) for n in ("email", "name")]
    at = T0 + timedelta(minutes=1)
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", at, ("a@example.com", "a")), ("b", at, ("b@example.com", "old b"))])
        writer.write([("b", at, ("b@example.com", "B")), ("e", at, ("e@example.com", "e"))])  # the last b wins
        writer.keep(["c"])                                                  # failed with its user ID
        assert staged_rows(wh, 1) == before and log(wh) == []             # nothing visible yet
        assert writer.finish_full_run(purge=True) == 1                     # d
    after = staged_rows(wh, 1)
    assert set(after) == {"a", "b", "c", "e"}
    assert after["a"] == before["a"] and after["c"] == before["c"]     # untouched: same _pk, kpid, _run
    assert after["b"] == (before["b"][0], before["b"][1], 2, "b@example.com", "B")
    assert after["e"][1:] == (None, 2, "e@example.com", "e")
    assert sorted(log(wh), key=str) == sorted([(before["b"][0], None), (after["e"][0], None),
                                               (before["d"][0], before["d"][1])], key=str)
    assert sql(wh, "SELECT count(*) FROM krenalis_identities WHERE _pipeline = 2")[0][0] == 1
    result = resolve(wh)
    assert (result.kind, result.identities) == (INCREMENTAL, 2)         # b and e (d is gone)
    assert kpid_of(wh, 1, "b") == before["b"][1]                       # its profile keeps its ID

    # Nothing changed: nothing written, nothing logged. A failed run applies what it staged, never purges.
    before = staged_rows(wh, 1)
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=3, columns=columns) as writer:
        writer.stage_full_run()
        writer.write([("a", at, ("a@example.com", "a")), ("b", at, ("b@example.com", "B"))])
        assert writer.finish_full_run(purge=False) == 0
    assert staged_rows(wh, 1) == before and log(wh) == []


def test_a_staged_full_run_whose_session_ends_changes_nothing(pg_wh):
    """The staged rows live in the writer's session: closed (or killed) before finish_full_run, the
    identities and the log are exactly as they were, and nothing is left behind in the warehouse."""
    wh = pg_wh
    write(wh, 1, 10, [(x, 1, {"email": f"{x}@example.com"}) for x in "ab"])
    resolve(wh)
    before = staged_rows(wh, 1)
    columns = [("email", COLUMNS[0].type)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        writer.stage_full_run()
        writer.write([("c", T0, ("c@example.com",))])
    assert staged_rows(wh, 1) == before and log(wh) == []
    tables = sql(wh, "SELECT relname FROM pg_class WHERE relname LIKE 'krenalis_identities%%' AND relkind = 'r'")
    assert tables == [("krenalis_identities",)]


def index_definitions(wh) -> list[tuple]:
    return sorted(sql(wh, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'krenalis_identities'"))


def identity_tables(wh) -> list[tuple]:
    return sql(wh, "SELECT relname FROM pg_class WHERE relname LIKE 'krenalis_identities%%' AND relkind = 'r' "
                   "AND relpersistence = 'p'")


def test_a_first_import_into_an_empty_warehouse_loads_a_new_table_and_swaps_it_in(pg_wh):
    """A full run into a warehouse with no identity loads its rows into a new table, indexes it at the
    end and swaps it in: until then readers see no identity; afterwards they see all of them, the last
    row of a user ID read twice winning, with keys that never repeat one used before, the same indexes
    as before, and each identity in the change log; what comes next (writes, resolution) works on it."""
    wh = pg_wh
    write(wh, 9, 90, [("gone", 1, {"email": "gone@example.com"})])
    resolve(wh)
    gone = pk_of(wh, 9, "gone")
    assert wh.delete_pipeline_identities(9) == 1                        # empty again, its key used
    indexes, gone_log = index_definitions(wh), log(wh)
    columns = [(n, COLUMNS[NAMES.index(n)].type) for n in ("email", "name")]
    at = T0 + timedelta(minutes=1)
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", at, ("a@example.com", "a")), ("b", at, ("b@example.com", "old b"))])
        writer.keep(["c"])                                      # nothing to keep: no effect
        writer.write([("b", at, ("b@example.com", "B")), ("e", at, (None, "e"))])   # the last b wins
        assert staged_rows(wh, 1) == {} and log(wh) == gone_log                # nothing visible yet
        assert identity_tables(wh) == [("krenalis_identities",)]
        assert writer.finish_full_run(purge=True) == 0
        writer.flush()
    after = staged_rows(wh, 1)
    assert {i: row[2:] for i, row in after.items()} == {
        "a": (2, "a@example.com", "a"), "b": (2, "b@example.com", "B"), "e": (2, None, "e")}
    assert min(row[0] for row in after.values()) > gone
    assert index_definitions(wh) == indexes and identity_tables(wh) == [("krenalis_identities",)]
    assert sorted(log(wh), key=str) == sorted(gone_log + [(row[0], None) for row in after.values()], key=str)
    assert sql(wh, "SELECT _connection, _is_anonymous, to_char(_updated_at, 'YYYY-MM-DD HH24:MI') "
                   "FROM krenalis_identities WHERE _identity_id = 'b'") == [(10, False, "2024-01-01 00:01")]
    write(wh, 2, 20, [("a", 1, {"email": "a@example.com"})])            # another pipeline, directly
    assert pk_of(wh, 2, "a") > max(row[0] for row in after.values())
    result = resolve(wh)
    assert result.profiles == 3 and kpid_of(wh, 1, "a") == kpid_of(wh, 2, "a")
    # The next full run of the pipeline is staged against the identities it loaded: nothing changed.
    before = staged_rows(wh, 1)
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=3, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", at, ("a@example.com", "a")), ("b", at, ("b@example.com", "B")), ("e", at, (None, "e"))])
        assert writer.finish_full_run(purge=True) == 0
    assert staged_rows(wh, 1) == before and log(wh) == []


def user_id_collation(wh) -> list[tuple]:
    return sql(wh, "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
                   "WHERE a.attrelid = 'krenalis_identities'::regclass AND a.attname = '_identity_id'")


def test_user_ids_compare_bytewise_in_a_new_warehouse_and_after_a_first_import(pg_wh):
    """The key's user IDs are only ever matched for equality: "C" (bytewise, as in SQLite) makes the
    key's build after a load a third cheaper than a locale's collation, and the load keeps it."""
    wh = pg_wh
    assert user_id_collation(wh) == [("C",)]
    columns = [("email", COLUMNS[0].type)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("b", T0, ("b@example.com",)), ("B", T0, ("B@example.com",)), ("é", T0, (None,))])
        assert writer.finish_full_run(purge=True) == 0
    assert user_id_collation(wh) == [("C",)] and identity_tables(wh) == [("krenalis_identities",)]
    assert sql(wh, "SELECT _identity_id FROM krenalis_identities ORDER BY _identity_id") == [("B",), ("b",), ("é",)]


def test_a_first_import_moves_its_batches_into_its_table_a_few_at_a_time(pg_wh, monkeypatch):
    """The batches wait in the batch table until enough rows came (_LOAD_MOVE_ROWS), then move into
    the load's table together; the last row of a user ID still wins, whether it moved with the rows
    before it, after them, or waited until the end."""
    from warehouse.backends import postgresql

    monkeypatch.setattr(postgresql, "_LOAD_MOVE_ROWS", 3)
    wh = pg_wh
    columns = [("email", COLUMNS[0].type)]
    at = T0 + timedelta(minutes=1)
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", at, ("a1@example.com",)), ("b", at, ("b1@example.com",))])   # waits
        writer.write([("a", at, ("a2@example.com",)), ("c", at, ("c1@example.com",))])   # 4 rows: moved
        writer.write([("c", at, ("c2@example.com",))])                                    # waits
        writer.write([("d", at, ("d1@example.com",)), ("b", at, ("b2@example.com",))])   # 3 rows: moved
        writer.write([("d", at, ("d2@example.com",))])                     # waits until the end
        assert staged_rows(wh, 1) == {}
        assert writer.finish_full_run(purge=True) == 0
    rows = staged_rows(wh, 1)
    assert {i: row[3] for i, row in rows.items()} == {
        "a": "a2@example.com", "b": "b2@example.com", "c": "c2@example.com", "d": "d2@example.com"}
    # Keys in the order the rows came, each row inserted once (a new warehouse's keys start at 1: of the
    # 8 rows, a2 is the 3rd, c2 the 5th, b2 the 7th, d2 the 8th).
    assert [rows[i][0] for i in "acbd"] == [3, 5, 7, 8]
    assert identity_tables(wh) == [("krenalis_identities",)]


def test_a_first_import_whose_session_ends_before_the_swap_leaves_nothing(pg_wh):
    wh = pg_wh
    columns = [("email", COLUMNS[0].type)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", T0, ("a@example.com",))])
    assert staged_rows(wh, 1) == {} and log(wh) == []
    assert identity_tables(wh) == [("krenalis_identities",)]
    write(wh, 1, 10, [("b", 1, {"email": "b@example.com"})])            # the warehouse works as before
    assert set(staged_rows(wh, 1)) == {"b"}


def test_a_first_import_into_a_warehouse_filled_meanwhile_adds_its_rows_to_it(pg_wh):
    """Identities written by another pipeline during the load: at its end the table is not empty any
    more, so the loaded rows go into it (nothing replaced, nothing lost). A first import beside
    identities that exist is not loaded at all: it writes as before."""
    wh = pg_wh
    columns = [("email", COLUMNS[0].type)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as writer:
        assert writer.stage_full_run() is True
        writer.write([("a", T0, ("a@example.com",)), ("b", T0, ("b@example.com",))])
        write(wh, 2, 20, [("x", 1, {"email": "x@example.com"})])
        writer.finish_full_run(purge=True)
    assert set(staged_rows(wh, 1)) == {"a", "b"} and set(staged_rows(wh, 2)) == {"x"}
    assert len(log(wh)) == 3 and identity_tables(wh) == [("krenalis_identities",)]
    with wh.identity_writer(pipeline_id=3, connection_id=30, run_id=4, columns=columns) as writer:
        assert writer.stage_full_run() is False


def test_two_first_imports_loading_at_once_both_land(pg_wh):
    """Two pipelines' first imports into the same empty warehouse at once: the first to end swaps its
    table in, the other (which then finds identities) adds its rows to it; no key is used twice."""
    wh = pg_wh
    columns = [("email", COLUMNS[0].type)]
    with wh.identity_writer(pipeline_id=1, connection_id=10, run_id=2, columns=columns) as one, \
            wh.identity_writer(pipeline_id=2, connection_id=20, run_id=3, columns=columns) as two:
        assert one.stage_full_run() is True and two.stage_full_run() is True
        one.write([("a", T0, ("a@example.com",)), ("b", T0, ("b@example.com",))])
        two.write([("a", T0, ("a2@example.com",))])
        one.finish_full_run(purge=True)
        two.write([("c", T0, ("c@example.com",))])
        two.finish_full_run(purge=True)
    assert set(staged_rows(wh, 1)) == {"a", "b"} and set(staged_rows(wh, 2)) == {"a", "c"}
    keys = [row[0] for row in sql(wh, "SELECT _pk FROM krenalis_identities")]
    assert len(set(keys)) == 4 and identity_tables(wh) == [("krenalis_identities",)]
    assert sorted(pk for pk, _ in log(wh)) == sorted(keys)
