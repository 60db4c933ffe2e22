"""Incremental identity resolution gives what a full one gives, on PostgreSQL and SQLite.

Two warehouses receive the same random changes through the real identity writer and the backends'
deletes: new identities, identifier changes that merge and split profiles, attribute updates
(arrays, primary sources, recency), full runs that purge, deleted pipelines and connections,
unset columns, changed identifiers. After every step the first resolves as it chooses (mostly
incrementally) and the second fully, starting from the same kpids: the profiles (members,
attributes, update times) must be equal, a kept kpid the same on both sides, a new one new on
both; the pairwise model of the rule must agree on the members; and the incremental side's
identities, profiles and kpids must agree with each other.

    KRENALIS_IR_SEED=123 KRENALIS_IR_STEPS=500 bin/test tests/warehouse/test_incremental_resolution.py

The seed (random unless given) is printed and named in every failure."""
import json
import os
import random
from datetime import timedelta
from decimal import Decimal

import pytest

from tests import support
from tests.warehouse.test_resolution import (
    COLUMNS, IDENTIFIERS, SCHEMA, T0, _expected_components, sql, write,
)
from warehouse.backends import PostgreSQLWarehouse, SQLiteWarehouse
from warehouse.profile_queries import ProfileQuery
from warehouse.resolution import FULL, INCREMENTAL, ResolutionSpec

SEED = int(os.environ.get("KRENALIS_IR_SEED") or random.SystemRandom().randrange(10**9))
STEPS = int(os.environ.get("KRENALIS_IR_STEPS") or 25)
PIPELINES = {1: 10, 2: 10, 3: 20, 4: 30}    # pipeline -> connection: rule 1 links 1 and 2
NAMES = [c.name for c in COLUMNS]


def pg_warehouse(name: str) -> PostgreSQLWarehouse:
    return PostgreSQLWarehouse({"host": support.PG["host"], "port": support.PG["port"], "username": support.PG["user"],
                                "password": "", "database": name, "schema": "public"})


@pytest.fixture(params=["PostgreSQL", "SQLite"])
def pair(request, tmp_path):
    """Two empty warehouses of the platform: the incremental side and the full side."""
    if request.param == "PostgreSQL":
        names = [support.create_pg_database("krenalis_test_iri") for _ in range(2)]
        try:
            warehouses = [pg_warehouse(name) for name in names]
            for warehouse in warehouses:
                warehouse.initialize(SCHEMA)
            yield warehouses
        finally:
            for name in names:
                support.drop_pg_database(name)
        return
    warehouses = [SQLiteWarehouse({"path": str(tmp_path / f"{side}.sqlite3")}) for side in ("inc", "full")]
    for warehouse in warehouses:
        warehouse.initialize(SCHEMA)
    yield warehouses


class Model:
    """The source data of every pipeline, and the random changes applied to both warehouses."""

    def __init__(self, rnd: random.Random, warehouses):
        self.rnd, self.warehouses = rnd, warehouses
        self.data = {p: {} for p in PIPELINES}     # pipeline -> identity id -> values
        self.run = 1
        self.identifiers = list(IDENTIFIERS)
        rnd.shuffle(self.identifiers)
        self.primary_sources = {}

    def values(self) -> dict:
        rnd = self.rnd
        return {"email": rnd.choice([None, None, "e1", "e2", "e3", "e4", "e5"]),
                "phone": rnd.choice([None, None, "p1", "p2", "p3"]),
                "customer": rnd.choice([None, None, 1, 2, 3]),
                "name": rnd.choice([None, "ann", "bob", "cid"]),
                "score": rnd.choice([None, Decimal("1.50"), Decimal("7.25")]),
                "tags": rnd.choice([None, [], ["a"], ["b", "a"], ["c", "d", "a"]]),
                "address_city": rnd.choice([None, "Rome", "Oslo"])}

    def row(self, pipeline: int, identity_id: str, values: dict) -> tuple:
        self.data[pipeline][identity_id] = values
        return identity_id, self.rnd.randint(0, 50), values

    def write(self, pipeline: int, rows) -> None:
        self.run += 1
        for warehouse in self.warehouses:
            write(warehouse, pipeline, PIPELINES[pipeline], rows, run=self.run)

    def upsert(self) -> str:
        pipeline = self.rnd.choice(list(PIPELINES))
        rows = [self.row(pipeline, f"u{self.rnd.randint(0, 11)}", self.values()) for _ in range(self.rnd.randint(1, 4))]
        self.write(pipeline, list({r[0]: r for r in rows}.values()))
        return f"upsert {len(rows)} into pipeline {pipeline}"

    def change_identifier(self) -> str:
        """One identifier (or attribute) of an existing identity: merges and splits."""
        pipeline = self.rnd.choice([p for p in PIPELINES if self.data[p]] or [1])
        if not self.data[pipeline]:
            return self.upsert()
        identity_id = self.rnd.choice(sorted(self.data[pipeline]))
        values = dict(self.data[pipeline][identity_id])
        column = self.rnd.choice(["email", "phone", "customer", "name", "tags"])
        values[column] = self.values()[column]
        self.write(pipeline, [self.row(pipeline, identity_id, values)])
        return f"change {column} of {pipeline}/{identity_id}"

    def full_run(self) -> str:
        """A full run: rewrites some identities, and its purge deletes those it did not read."""
        pipeline = self.rnd.choice(list(PIPELINES))
        kept = [i for i in sorted(self.data[pipeline]) if self.rnd.random() < 0.6]
        rows = [self.row(pipeline, i, self.data[pipeline][i] if self.rnd.random() < 0.5 else self.values())
                for i in kept]
        self.run += 1
        columns = [(c.name, c.type) for c in COLUMNS]
        for warehouse in self.warehouses:
            with warehouse.identity_writer(pipeline_id=pipeline, connection_id=PIPELINES[pipeline], run_id=self.run,
                                           columns=columns) as writer:
                writer.write([(i, T0 + timedelta(minutes=m), tuple(v.get(n) for n in NAMES)) for i, m, v in rows])
                writer.purge()
        self.data[pipeline] = {i: self.data[pipeline][i] for i in kept}
        return f"full run of pipeline {pipeline} keeping {len(kept)}"

    def delete_pipeline(self) -> str:
        pipeline = self.rnd.choice(list(PIPELINES))
        for warehouse in self.warehouses:
            warehouse.delete_pipeline_identities(pipeline)
        self.data[pipeline] = {}
        return f"delete pipeline {pipeline}"

    def delete_connection(self) -> str:
        connection = self.rnd.choice(sorted(set(PIPELINES.values())))
        for warehouse in self.warehouses:
            warehouse.delete_connection_identities(connection)
        for pipeline, c in PIPELINES.items():
            if c == connection:
                self.data[pipeline] = {}
        return f"delete connection {connection}"

    def unset(self) -> str:
        pipeline = self.rnd.choice(list(PIPELINES))
        column = self.rnd.choice(["name", "phone"])
        for warehouse in self.warehouses:
            warehouse.unset_identity_columns(pipeline, [column])
        for values in self.data[pipeline].values():
            values[column] = None
        return f"unset {column} of pipeline {pipeline}"

    def settings(self) -> str:
        if self.rnd.random() < 0.5:
            self.rnd.shuffle(self.identifiers)
            self.identifiers = self.identifiers[:self.rnd.randint(1, 3)] if self.rnd.random() < 0.3 else self.identifiers
            return f"identifiers {self.identifiers}"
        self.primary_sources = self.rnd.choice([{}, {"name": 10}, {"name": 20, "address_city": 30}])
        return f"primary sources {self.primary_sources}"

    def step(self) -> list[str]:
        operations = [(self.upsert, 30), (self.change_identifier, 40), (self.full_run, 8),
                      (self.delete_pipeline, 2), (self.delete_connection, 1), (self.unset, 2), (self.settings, 2)]
        chosen = self.rnd.choices([f for f, _ in operations], weights=[w for _, w in operations],
                                  k=self.rnd.randint(1, 3))
        return [operation() for operation in chosen]

    def spec(self) -> ResolutionSpec:
        return ResolutionSpec(identifiers=tuple(self.identifiers), columns=tuple(COLUMNS),
                              primary_sources=dict(self.primary_sources))


def identities(wh) -> dict:
    """(pipeline, identity id) -> (pk, kpid as text or None)."""
    return {(p, i): (pk, None if kpid is None else str(kpid))
            for pk, p, i, kpid in sql(wh, "SELECT _pk, _pipeline, _identity_id, _kpid FROM krenalis_identities")}


def set_kpids(wh, pairs: list[tuple]) -> None:
    """(kpid, pk) pairs written straight into the identities (no change recorded)."""
    statement = "UPDATE krenalis_identities SET _kpid = ? WHERE _pk = ?"
    if isinstance(wh, PostgreSQLWarehouse):
        with wh.connect() as conn, conn.cursor() as cur:
            cur.executemany(statement.replace("?", "%s"), pairs)
            conn.commit()
        return
    with wh.connect() as conn:
        conn.executemany(statement, pairs)


def profiles(wh) -> dict:
    """kpid -> (members, updatedAt, values), members as (pipeline, identity id)."""
    by_pk = {pk: key for key, (pk, _) in identities(wh).items()}
    listed = {}
    for kpid, members in sql(wh, "SELECT _kpid, _identities FROM krenalis_profiles"):
        listed[str(kpid)] = json.loads(members) if isinstance(members, str) else members
    items, total = wh.query_profiles(ProfileQuery(columns=tuple(COLUMNS), limit=1000))
    assert total == len(items) == len(listed)
    result = {}
    for item in items:
        pks = listed[item["kpid"]]
        assert all(pk in by_pk for pk in pks), f"profile {item['kpid']} lists a deleted identity"
        result[item["kpid"]] = (frozenset(by_pk[pk] for pk in pks), item["updatedAt"], item["values"])
    return result


def check_consistent(wh, found: dict, context: str) -> None:
    """Every identity in exactly one profile, whose kpid it holds."""
    owner = {}
    for kpid, (members, _, _) in found.items():
        for member in members:
            assert member not in owner, f"{context}: {member} is in two profiles"
            owner[member] = kpid
    assert {key: kpid for key, (_, kpid) in identities(wh).items()} == owner, context


def test_incremental_resolution_equals_full_resolution(pair):
    print(f"KRENALIS_IR_SEED={SEED} KRENALIS_IR_STEPS={STEPS}")
    incremental, full = pair
    model = Model(random.Random(SEED), pair)
    kinds = []
    for step in range(STEPS):
        done = model.step()
        context = f"seed {SEED}, step {step}: {done}"
        before = {str(row[0]) for row in sql(incremental, "SELECT _kpid FROM krenalis_profiles")}
        # Both sides start from the same kpids (the full side's are overwritten with the other's).
        kpids = identities(incremental)
        set_kpids(full, [(kpids[key][1], pk) for key, (pk, _) in identities(full).items()])
        spec = model.spec()
        result = incremental.resolve_identities(spec)
        assert full.resolve_identities(spec, full=True).kind == FULL
        kinds.append(result.kind)
        got, expected = profiles(incremental), profiles(full)
        assert sorted(map(str, (p[0] for p in got.values()))) == sorted(map(str, (p[0] for p in expected.values()))), \
            f"{context}: members differ ({result.kind})"
        by_members = {members: (kpid, rest) for kpid, (members, *rest) in expected.items()}
        for kpid, (members, *rest) in got.items():
            full_kpid, full_rest = by_members[members]
            assert rest == full_rest, f"{context}: profile {sorted(members)} differs ({result.kind})"
            if kpid in before or full_kpid in before:
                assert kpid == full_kpid, f"{context}: kpid of {sorted(members)} kept on one side only"
        assert len(got) == len(set(got)), context
        model_identities = [(p, PIPELINES[p], i, v) for p, rows in model.data.items() for i, v in rows.items()]
        assert {p[0] for p in got.values()} == _expected_components(model_identities, model.identifiers), context
        check_consistent(incremental, got, context)
        if result.kind == INCREMENTAL:
            assert result.identities <= len(kpids) and result.profiles <= len(got), context
    assert kinds.count(INCREMENTAL) >= STEPS // 2, f"seed {SEED}: {kinds}"
