"""Identity resolution in the warehouse (warehouse.resolution), on PostgreSQL and SQLite: the merge
rules, attribute precedence, kpid stability, deletes, unsets and schema changes (profile queries:
test_profile_queries.py).

Identities are written with the real identity writer; a brute-force Python model of the rule
(pairwise, O(n^2)) checks the set-based SQL on random data."""
import itertools
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg2
import pytest

from pipelines.types import parse_type
from tests import support
from warehouse.alter_schema import SchemaChangeError, alter_statements, plan_schema_change
from warehouse.backends import PostgreSQLWarehouse, SQLiteWarehouse
from warehouse.columns import profile_columns
from warehouse.profile_queries import ProfileQuery
from warehouse.resolution import ResolutionSpec

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def prop(name, type_):
    return {"name": name, "type": type_, "readOptional": True}


SCHEMA_JSON = {"kind": "object", "properties": [
    prop("email", {"kind": "string"}),
    prop("phone", {"kind": "string"}),
    prop("customer", {"kind": "int", "bitSize": 64}),
    prop("name", {"kind": "string"}),
    prop("score", {"kind": "decimal", "precision": 10, "scale": 2}),
    prop("tags", {"kind": "array", "elementType": {"kind": "string"}}),
    prop("address", {"kind": "object", "properties": [prop("city", {"kind": "string"})]}),
]}
SCHEMA = parse_type(SCHEMA_JSON)
COLUMNS = profile_columns(SCHEMA)
NAMES = [c.name for c in COLUMNS]
IDENTIFIERS = ("email", "phone", "customer")


@pytest.fixture
def pg_wh():
    name = support.create_pg_database("krenalis_test_ir")
    try:
        warehouse = PostgreSQLWarehouse({"host": support.PG["host"], "port": support.PG["port"],
                                         "username": support.PG["user"], "password": "", "database": name,
                                         "schema": "public"})
        warehouse.initialize(SCHEMA)
        yield warehouse
    finally:
        support.drop_pg_database(name)


@pytest.fixture(params=["PostgreSQL", "SQLite"])
def wh(request, tmp_path):
    if request.param == "PostgreSQL":
        yield request.getfixturevalue("pg_wh")
        return
    warehouse = SQLiteWarehouse({"path": str(tmp_path / "warehouse.sqlite3")})
    warehouse.initialize(SCHEMA)
    yield warehouse


def write(wh, pipeline, connection, rows, run=1, columns=None):
    """rows: (identity id, minutes after T0, {column: value})."""
    names = columns or NAMES
    types = {c.name: c.type for c in profile_columns(SCHEMA)}
    writer_columns = [(n, types[n]) for n in names]
    with wh.identity_writer(pipeline_id=pipeline, connection_id=connection, run_id=run, columns=writer_columns) as w:
        w.write([(identity_id, T0 + timedelta(minutes=minute), tuple(values.get(n) for n in names))
                 for identity_id, minute, values in rows])


def resolve(wh, identifiers=IDENTIFIERS, primary_sources=None, schema=SCHEMA, full=False):
    return wh.resolve_identities(ResolutionSpec(identifiers=tuple(identifiers),
                                                columns=tuple(profile_columns(schema)),
                                                primary_sources=primary_sources or {}), full=full)


def sql(wh, statement, params=()):
    if isinstance(wh, PostgreSQLWarehouse):
        with wh.connect() as conn, conn.cursor() as cur:
            cur.execute(statement.replace("?", "%s"), params or None)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows
    with wh.connect() as conn:
        return conn.execute(statement, params).fetchall()


def groups(wh) -> set[frozenset]:
    """The profiles as sets of (pipeline, identity id), from the identities' `_kpid`."""
    by_kpid: dict = {}
    for kpid, pipeline, identity_id in sql(wh, "SELECT _kpid, _pipeline, _identity_id FROM krenalis_identities"):
        assert kpid is not None
        by_kpid.setdefault(str(kpid), set()).add((pipeline, identity_id))
    return {frozenset(members) for members in by_kpid.values()}


def kpid_of(wh, pipeline, identity_id) -> str:
    return str(sql(wh, "SELECT _kpid FROM krenalis_identities WHERE _pipeline = ? AND _identity_id = ?",
                   (pipeline, identity_id))[0][0])


def profile(wh, pipeline, identity_id) -> dict:
    kpid = kpid_of(wh, pipeline, identity_id)
    item = wh.get_profile(kpid, COLUMNS)
    assert item is not None
    return item["values"]


def test_empty_warehouse(wh):
    result = resolve(wh)
    assert (result.identities, result.profiles, result.kpids_written) == (0, 0, 0)
    assert wh.query_profiles(ProfileQuery(columns=tuple(COLUMNS))) == ([], 0)


def test_same_connection_and_user_id_merge(wh):
    write(wh, 1, 10, [("u1", 1, {"name": "a"}), ("u2", 1, {})])
    write(wh, 2, 10, [("u1", 2, {"name": "b"})])
    write(wh, 3, 20, [("u1", 3, {})])  # another connection: another user
    resolve(wh, identifiers=())
    assert groups(wh) == {frozenset({(1, "u1"), (2, "u1")}), frozenset({(1, "u2")}), frozenset({(3, "u1")})}


def test_first_shared_identifier_merges(wh):
    write(wh, 1, 10, [("a", 1, {"email": "x@example.com"}), ("b", 1, {"phone": "555"}),
                      ("c", 1, {"email": "z@example.com", "phone": "777"})])
    write(wh, 2, 20, [("a", 2, {"email": "x@example.com", "phone": "111"}), ("b", 2, {"phone": "555"}),
                      ("c", 2, {"phone": "777"})])  # email unset: phone is the first shared identifier
    resolve(wh)
    assert groups(wh) == {frozenset({(1, "a"), (2, "a")}), frozenset({(1, "b"), (2, "b")}),
                          frozenset({(1, "c"), (2, "c")})}


def test_a_differing_higher_identifier_blocks_a_lower_match(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "phone": "555"}),
                      ("m", 1, {"email": "m@example.com", "customer": 7})])
    write(wh, 2, 20, [("b", 1, {"email": "b@example.com", "phone": "555"}),
                      ("n", 1, {"phone": "9", "customer": 7})])
    resolve(wh)
    # a/b differ on email; m (email) and n (phone) share no identifier before customer, so they merge.
    assert groups(wh) == {frozenset({(1, "a")}), frozenset({(2, "b")}), frozenset({(1, "m"), (2, "n")})}
    # With phone first, a and b merge.
    resolve(wh, identifiers=("phone", "email"))
    assert frozenset({(1, "a"), (2, "b")}) in groups(wh)


def test_merging_is_transitive(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("c", 1, {"phone": "2", "customer": 3})])
    write(wh, 2, 20, [("a", 1, {"email": "a@example.com", "phone": "2"}), ("x", 1, {"customer": 3})])
    write(wh, 3, 30, [("p", 1, {"email": "p@example.com", "phone": "1"}),
                      ("q", 1, {"email": "q@example.com", "phone": "1"}),
                      ("r", 1, {"phone": "1"})])  # r bridges p and q, which email keeps apart directly
    result = resolve(wh)
    assert groups(wh) == {frozenset({(1, "a"), (2, "a"), (1, "c"), (2, "x")}),
                          frozenset({(3, "p"), (3, "q"), (3, "r")})}
    assert result.profiles == 2


def test_long_chains_converge(wh):
    # A_m{email e_m, customer m} - B_m{phone p_m, customer m} - C_m{phone p_m, customer m+1} - A_{m+1}...:
    # one chain of 120 identities (no shortcut), written in shuffled order.
    rows = []
    for m in range(40):
        rows.append((f"a{m}", m, {"email": f"e{m}", "customer": m}))
        rows.append((f"b{m}", m, {"phone": f"p{m}", "customer": m}))
        rows.append((f"c{m}", m, {"phone": f"p{m}", "customer": m + 1}))
    random.Random(4).shuffle(rows)
    write(wh, 1, 10, rows[:50])
    write(wh, 2, 20, rows[50:])
    result = resolve(wh)
    assert len(groups(wh)) == 1 and result.rounds > 1
    # Cut in the middle (c20 links b20 to a21): two profiles.
    wh.delete_pipeline_identities(1 if ("c20", 20, {"phone": "p20", "customer": 21}) in rows[:50] else 2)
    remaining = {r[0] for r in (rows[50:] if ("c20", 20, {"phone": "p20", "customer": 21}) in rows[:50] else rows[:50])}
    resolve(wh)
    expected = _expected_components([(1, 10, r[0], r[2]) for r in rows if r[0] in remaining], IDENTIFIERS)
    assert {frozenset(i for _, i in g) for g in groups(wh)} == {frozenset(i for _, i in g) for g in expected}


def _expected_components(identities, identifiers) -> set[frozenset]:
    """The rule, pairwise: same connection + user id, or equal first identifier set in both."""
    parent = list(range(len(identities)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in itertools.combinations(range(len(identities)), 2):
        (p1, c1, u1, v1), (p2, c2, u2, v2) = identities[i], identities[j]
        linked = c1 == c2 and u1 == u2
        if not linked:
            for name in identifiers:
                if v1.get(name) is not None and v2.get(name) is not None:
                    linked = v1[name] == v2[name]
                    break
        if linked:
            parent[find(i)] = find(j)
    components: dict = {}
    for i, (pipeline, _, identity_id, _) in enumerate(identities):
        components.setdefault(find(i), set()).add((pipeline, identity_id))
    return {frozenset(c) for c in components.values()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_pairwise_rule_on_random_data(wh, seed):
    rnd = random.Random(seed)
    pipelines = {1: 10, 2: 10, 3: 20, 4: 30}
    identities = []
    for pipeline, connection in pipelines.items():
        rows = []
        for n in range(rnd.randint(15, 40)):
            identity_id = f"u{rnd.randint(0, 30)}"
            if any(i[0] == pipeline and i[2] == identity_id for i in identities):
                continue
            values = {"email": rnd.choice([None, None, "e1", "e2", "e3", "e4"]),
                      "phone": rnd.choice([None, None, "p1", "p2", "p3"]),
                      "customer": rnd.choice([None, 1, 2, 3, 4, 5])}
            identities.append((pipeline, connection, identity_id, values))
            rows.append((identity_id, n, values))
        write(wh, pipeline, connection, rows)
    order = list(IDENTIFIERS)
    rnd.shuffle(order)
    resolve(wh, identifiers=order)
    assert groups(wh) == _expected_components(identities, order)
    resolve(wh, identifiers=order[:1])
    assert groups(wh) == _expected_components(identities, order[:1])


def test_attributes_take_the_most_recent_non_null_value(wh):
    write(wh, 1, 10, [("a", 5, {"email": "a@example.com", "name": "old", "score": Decimal("1.50"),
                                "address_city": "Rome", "tags": ["x", "y"]})])
    write(wh, 2, 20, [("a", 9, {"email": "a@example.com", "name": None, "tags": ["z", "x"]})])
    write(wh, 3, 30, [("a", 7, {"email": "a@example.com", "name": "middle", "address_city": "Paris", "tags": []})])
    resolve(wh)
    values = profile(wh, 1, "a")
    assert values["name"] == "middle"            # the newest identity has no name
    assert values["address_city"] == "Paris"
    assert values["score"] == Decimal("1.50")
    assert values["tags"] == ["z", "x", "y"]      # the union, newest identity first
    item = wh.get_profile(kpid_of(wh, 1, "a"), COLUMNS)
    assert item["updatedAt"] == T0 + timedelta(minutes=9)


def test_ties_go_to_the_latest_written_identity(wh):
    write(wh, 1, 10, [("a", 5, {"email": "t@example.com", "name": "first"})])
    write(wh, 2, 20, [("a", 5, {"email": "t@example.com", "name": "second"})])
    resolve(wh)
    assert profile(wh, 1, "a")["name"] == "second"


def test_a_primary_source_wins(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "name": "crm", "address_city": None})])
    write(wh, 2, 20, [("a", 9, {"email": "a@example.com", "name": "shop", "address_city": "Oslo"})])
    resolve(wh, primary_sources={"name": 10, "address_city": 10})
    values = profile(wh, 1, "a")
    assert values["name"] == "crm"
    assert values["address_city"] == "Oslo"     # the primary source has none: the others' newest


def test_singletons_keep_their_values(wh):
    write(wh, 1, 10, [("solo", 3, {"email": "s@example.com", "name": "Solo", "tags": ["t"], "customer": 2**40})])
    resolve(wh)
    values = profile(wh, 1, "solo")
    assert (values["name"], values["tags"], values["customer"]) == ("Solo", ["t"], 2**40)


def test_kpids_are_stable_while_membership_is_unchanged(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 1, {"email": "b@example.com"})])
    write(wh, 2, 20, [("a", 1, {"email": "a@example.com"})])
    first = resolve(wh)
    assert first.kpids_written == 3
    kpid_a, kpid_b = kpid_of(wh, 1, "a"), kpid_of(wh, 1, "b")
    write(wh, 1, 10, [("a", 30, {"email": "a@example.com", "name": "changed"})], run=2)
    second = resolve(wh)
    assert second.kpids_written == 0
    assert (kpid_of(wh, 1, "a"), kpid_of(wh, 2, "a"), kpid_of(wh, 1, "b")) == (kpid_a, kpid_a, kpid_b)
    assert profile(wh, 1, "a")["name"] == "changed"
    # A new identity joining a profile keeps its kpid.
    write(wh, 3, 30, [("new", 40, {"email": "b@example.com"})])
    resolve(wh)
    assert kpid_of(wh, 3, "new") == kpid_b == kpid_of(wh, 1, "b")
    # Two profiles merging: a new kpid.
    write(wh, 3, 30, [("bridge", 50, {"email": "a@example.com", "phone": "1"})])
    write(wh, 4, 40, [("b2", 50, {"phone": "1"}), ("b3", 50, {"email": "b@example.com", "phone": "1"})])
    resolve(wh)
    merged = kpid_of(wh, 1, "a")
    assert merged not in (kpid_a, kpid_b) and merged == kpid_of(wh, 1, "b")
    assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 1


def test_a_split_profile_gets_new_kpids(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 1, {"email": "b@example.com"})])
    write(wh, 2, 20, [("bridge", 1, {"phone": "1"})])
    write(wh, 3, 30, [("a", 1, {"email": "a@example.com", "phone": "1"}),
                      ("b", 1, {"email": "b@example.com", "phone": "1"})])
    resolve(wh)
    old = kpid_of(wh, 1, "a")
    assert old == kpid_of(wh, 1, "b")
    wh.delete_pipeline_identities(2)
    wh.delete_pipeline_identities(3)
    resolve(wh)
    assert kpid_of(wh, 1, "a") != kpid_of(wh, 1, "b")
    assert old not in (kpid_of(wh, 1, "a"), kpid_of(wh, 1, "b"))


def test_deletes_update_the_profiles_at_the_next_resolution(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "name": "one"}), ("b", 1, {"email": "b@example.com"})])
    write(wh, 2, 20, [("a", 5, {"email": "a@example.com", "name": "two"})])
    write(wh, 3, 30, [("c", 1, {"email": "c@example.com"})])
    resolve(wh)
    kpid = kpid_of(wh, 1, "a")
    assert profile(wh, 1, "a")["name"] == "two"
    assert wh.delete_pipeline_identities(2) == 1
    assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 3  # not before the resolution
    resolve(wh)
    assert kpid_of(wh, 1, "a") == kpid                                  # fewer members, same profile
    assert profile(wh, 1, "a")["name"] == "one"
    assert wh.delete_connection_identities(30) == 1
    resolve(wh)
    assert sql(wh, "SELECT count(*) FROM krenalis_profiles")[0][0] == 2
    assert wh.profile_identities(kpid, pipeline_ids=[1, 2, 3]) == (
        [{"userId": "a", "connection": 10, "pipeline": 1, "updatedAt": T0 + timedelta(minutes=1)}], 1)


def test_an_unset_column_is_cleared_from_the_profile(wh):
    write(wh, 1, 10, [("a", 9, {"email": "a@example.com", "name": "from pipeline 1"})])
    write(wh, 2, 20, [("a", 1, {"email": "a@example.com", "name": "from pipeline 2"})])
    resolve(wh)
    assert profile(wh, 1, "a")["name"] == "from pipeline 1"
    assert wh.unset_identity_columns(1, ["name"]) == 1
    resolve(wh)
    assert profile(wh, 1, "a")["name"] == "from pipeline 2"
    wh.unset_identity_columns(2, ["name"])
    resolve(wh)
    assert profile(wh, 1, "a")["name"] is None


def test_profiles_record_their_identities_and_identities_their_kpid(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com"}), ("b", 2, {"email": "b@example.com"})])
    write(wh, 2, 20, [("a", 3, {"email": "a@example.com"})])
    resolve(wh)
    kpid = kpid_of(wh, 1, "a")
    items, total = wh.profile_identities(kpid, pipeline_ids=[1, 2])
    assert total == 2 and [(i["pipeline"], i["userId"]) for i in items] == [(2, "a"), (1, "a")]
    assert wh.profile_identities(kpid, pipeline_ids=[1]) == (
        [{"userId": "a", "connection": 10, "pipeline": 1, "updatedAt": T0 + timedelta(minutes=1)}], 1)
    assert wh.profile_identities(kpid, pipeline_ids=[1, 2], first=1, limit=5)[0][0]["pipeline"] == 1
    assert wh.profile_identities("00000000-0000-4000-8000-000000000000", pipeline_ids=[1]) is None
    # Identities written after a resolution wait for the next one.
    write(wh, 3, 30, [("late", 9, {"email": "a@example.com"})])
    assert sql(wh, "SELECT _kpid FROM krenalis_identities WHERE _pipeline = 3")[0][0] is None
    resolve(wh)
    assert kpid_of(wh, 3, "late") == kpid


def test_one_resolution_at_a_time_on_postgresql(pg_wh):
    wh = pg_wh
    from warehouse.resolution import ADVISORY_LOCK, ResolutionBusy

    with wh.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT pg_advisory_lock({ADVISORY_LOCK})")
        with pytest.raises(ResolutionBusy):
            resolve(wh)
    resolve(wh)


# --------------------------------------------------------------------------- schema changes

def test_schema_change_plan():
    old = parse_type({"kind": "object", "properties": [
        prop("email", {"kind": "string"}), prop("age", {"kind": "int", "bitSize": 32}),
        prop("gone", {"kind": "string"}),
        prop("address", {"kind": "object", "properties": [prop("city", {"kind": "string"}),
                                                          prop("zip", {"kind": "string"})]})]})
    new = parse_type({"kind": "object", "properties": [
        prop("mail", {"kind": "string"}), prop("age", {"kind": "int", "bitSize": 64}),
        prop("added", {"kind": "boolean"}),
        prop("addr", {"kind": "object", "properties": [prop("town", {"kind": "string"}),
                                                       prop("zip", {"kind": "string"})]})]})
    change = plan_schema_change(old, new, {"mail": "email", "addr": "address", "addr.town": "address.city"})
    assert change.renames == [("email", "mail"), ("address_city", "addr_town"), ("address_zip", "addr_zip")]
    assert sorted(change.drops) == ["age", "gone"]          # age changed type: dropped and added
    assert [c.name for c in change.adds] == ["age", "added"]
    assert change.new_path("email") == "mail" and change.new_path("gone") is None
    assert change.new_path("address") == "addr"
    for re_paths, message in [
        ({"mail": "nope"}, "is not a property of the current profile schema"),
        ({"addr.town": "email"}, "within the same object"),
        ({"addr": "email"}, "only an object"),
        ({"mail": "email", "added": "email"}, "renamed more than once"),
        ({"missing": "email"}, "is not a property of the new profile schema"),
    ]:
        with pytest.raises(SchemaChangeError, match=message):
            plan_schema_change(old, new, re_paths)
    # null: a new property even with an old path
    change = plan_schema_change(old, parse_type({"kind": "object", "properties": [prop("email", {"kind": "string"})]}),
                                {"email": None})
    assert (change.drops[:1], [c.name for c in change.adds]) == (["email"], ["email"])


def test_alter_schema_then_resolve(wh):
    write(wh, 1, 10, [("a", 1, {"email": "a@example.com", "name": "Ann", "phone": "1"})])
    write(wh, 2, 20, [("a", 2, {"email": "a@example.com", "phone": "1"})])
    resolve(wh)
    new_json = {"kind": "object", "properties": [
        prop("email", {"kind": "string"}), prop("mobile", {"kind": "string"}),
        prop("customer", {"kind": "int", "bitSize": 64}), prop("full_name", {"kind": "string"}),
        prop("score", {"kind": "decimal", "precision": 10, "scale": 2}),
        prop("tags", {"kind": "array", "elementType": {"kind": "string"}}),
        prop("vip", {"kind": "boolean"})]}
    new = parse_type(new_json)
    change = plan_schema_change(SCHEMA, new, {"mobile": "phone", "full_name": "name"})
    statements = alter_statements(wh.platform, change, new)
    wh.alter_profile_schema(statements)
    resolve(wh, identifiers=("email", "mobile"), schema=new)
    kpid = kpid_of(wh, 1, "a")
    item = wh.get_profile(kpid, profile_columns(new))
    assert item["values"]["full_name"] == "Ann" and item["values"]["mobile"] == "1"
    assert item["values"]["vip"] is None
    if isinstance(wh, PostgreSQLWarehouse):
        with wh.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT * FROM profiles LIMIT 0")
            columns = [d[0] for d in cur.description]
    else:
        with wh.connect() as conn:
            columns = [d[0] for d in conn.execute("SELECT * FROM profiles LIMIT 0").description]
    assert columns == ["_kpid", "_updated_at", "email", "mobile", "customer", "full_name", "score", "tags", "vip"]


def test_alter_schema_swaps_names(wh):
    write(wh, 1, 10, [("a", 1, {"email": "e", "phone": "p"})])
    new = parse_type({"kind": "object", "properties": [
        prop("email", {"kind": "string"}), prop("phone", {"kind": "string"}),
        prop("customer", {"kind": "int", "bitSize": 64}), prop("name", {"kind": "string"}),
        prop("score", {"kind": "decimal", "precision": 10, "scale": 2}),
        prop("tags", {"kind": "array", "elementType": {"kind": "string"}}),
        prop("address", {"kind": "object", "properties": [prop("city", {"kind": "string"})]})]})
    wh.alter_profile_schema(alter_statements(wh.platform, plan_schema_change(SCHEMA, new, {"email": "phone",
                                                                                           "phone": "email"}), new))
    assert sql(wh, "SELECT email, phone FROM krenalis_identities") == [("p", "e")]


def test_failed_alter_changes_nothing_on_postgresql(pg_wh):
    wh = pg_wh
    from pipelines.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):
        wh.alter_profile_schema(["DROP VIEW profiles", "ALTER TABLE krenalis_identities ADD COLUMN x integer",
                                 "ALTER TABLE missing ADD COLUMN y integer"])
    assert sql(wh, "SELECT count(*) FROM profiles")[0][0] == 0
    with pytest.raises(psycopg2.Error):
        with wh.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT x FROM krenalis_identities")


def test_many_new_kpids_rewrite_the_identities_table_on_postgresql(pg_wh, monkeypatch):
    wh = pg_wh
    from warehouse import resolution

    monkeypatch.setattr(resolution, "REWRITE_MIN_ROWS", 1)
    write(wh, 1, 10, [(f"u{i}", i, {"email": f"u{i}@example.com", "name": f"n{i}"}) for i in range(20)])
    write(wh, 2, 20, [(f"v{i}", i, {"email": f"u{i}@example.com"}) for i in range(10)])
    wh.delete_pipeline_identities(2)          # pks beyond the max are never reused
    write(wh, 2, 20, [(f"v{i}", i, {"email": f"u{i}@example.com"}) for i in range(10)])
    catalog = ("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'krenalis_identities' "
               "AND indexname NOT LIKE 'krenalis_identities_ident_%' ORDER BY 1")
    constraints = "SELECT conname, contype FROM pg_constraint WHERE conrelid = 'krenalis_identities'::regclass ORDER BY 1"
    before_catalog, before_constraints = sql(wh, catalog), sql(wh, constraints)
    before_rows = sql(wh, "SELECT _pk, _pipeline, _identity_id, name FROM krenalis_identities ORDER BY _pk")
    last_pk = before_rows[-1][0]
    result = resolve(wh)
    assert result.kpids_written == 30 and len(groups(wh)) == 20
    assert sql(wh, catalog) == before_catalog and sql(wh, constraints) == before_constraints
    # ... plus one index per identifier, for the lookups of incremental resolutions.
    assert sorted(row[0].split(" USING btree ")[1] for row in sql(
        wh, "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'krenalis_identities_ident_%'")) == [
        "(customer, _pk)", "(email, _pk)", "(phone, _pk)"]
    assert sql(wh, "SELECT _pk, _pipeline, _identity_id, name FROM krenalis_identities ORDER BY _pk") == before_rows
    # The writer's upsert and the identity column still work on the new table.
    write(wh, 1, 10, [("u0", 99, {"email": "u0@example.com", "name": "again"}), ("new", 99, {"email": "x"})], run=2)
    assert sql(wh, "SELECT _pk FROM krenalis_identities WHERE _identity_id = 'new'")[0][0] > last_pk
    assert sql(wh, "SELECT count(*), count(_kpid) FROM krenalis_identities") == [(31, 30)]
    resolve(wh)
    assert profile(wh, 1, "u0")["name"] == "again"
    assert sql(wh, "SELECT count(*) FROM pg_class WHERE relname LIKE '%_next%'") == [(0,)]


def test_a_rewrite_of_the_identities_table_keeps_its_storage_options_on_postgresql(pg_wh, monkeypatch):
    """fillfactor 70 leaves room on each page, so that the kpids written back by the next
    resolutions and the rows rewritten by imports stay HOT updates (no new index entries)."""
    wh = pg_wh
    from warehouse import resolution

    monkeypatch.setattr(resolution, "REWRITE_MIN_ROWS", 1)
    options = "SELECT reloptions FROM pg_class WHERE oid = 'krenalis_identities'::regclass"
    assert sql(wh, options) == [(["fillfactor=70"],)]
    oid = sql(wh, "SELECT 'krenalis_identities'::regclass::oid")
    write(wh, 1, 10, [(f"u{i}", i, {"email": f"u{i}@example.com"}) for i in range(20)])
    assert resolve(wh).kpids_written == 20
    assert sql(wh, "SELECT 'krenalis_identities'::regclass::oid") != oid      # rewritten, ...
    assert sql(wh, options) == [(["fillfactor=70"],)]                          # ... options kept
    assert sql(wh, "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE "
                   "a.attrelid = 'krenalis_identities'::regclass AND a.attname = '_identity_id'") == [("C",)]
    oid = sql(wh, "SELECT 'krenalis_identities'::regclass::oid")
    write(wh, 2, 20, [(f"v{i}", i, {"email": f"v{i}@example.com"}) for i in range(20)])
    assert resolve(wh, full=True).kpids_written == 20
    assert sql(wh, "SELECT 'krenalis_identities'::regclass::oid") != oid
    assert sql(wh, options) == [(["fillfactor=70"],)]
