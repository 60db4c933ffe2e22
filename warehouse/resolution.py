"""Identity resolution in the warehouse, and reading back the profiles it produces.

What is computed
----------------
Two identities `a` and `b` of `krenalis_identities` are *linked* when

1. they come from the same connection with the same user id (`_connection`, `_identity_id`,
   `_is_anonymous`), i.e. the same source user imported by two pipelines of one connection; or
2. going through the identifiers in priority order, the **first identifier set (non-NULL) in
   both** has equal values. An identifier set in only one of the two is skipped; a differing
   value on the first identifier they share blocks the link, even when a lower-priority
   identifier is equal. With no identifiers only rule 1 applies.

Profiles are the connected components of the links: merging is transitive, so a third identity
may still bring together two identities that rule 2 keeps apart (A{email=x, phone=1} and
C{email=y, phone=1} are not linked, but B{phone=1} links to both, so A, B and C form one profile).

Each profile attribute is the most recent non-NULL value among its identities (`_updated_at`
DESC, then the latest inserted `_pk`); when a primary source connection is set for the attribute,
non-NULL values from that connection win over the others. Array attributes are the distinct
union of the members' arrays (elements ordered by the recency of the identity that has them).
`_updated_at` of a profile is the greatest of its identities'.

A profile keeps the kpid of its identities when every member that already had a kpid had the
same one (identities imported since the last resolution have none) and no other profile claims
that kpid; otherwise (two profiles merged, or one split) it gets a new random UUID.

How (set-based, never a pairwise cross join)
--------------------------------------------
Rule 2 is turned into equality *groups*, whose members are all connected:

* for identifier j, identities with value v split into classes by the mask of which
  higher-priority identifiers (1..j-1) they have set. Two classes of the same v are linked
  exactly when their masks are disjoint (the pairs they form share no higher identifier, so j is
  their first common one); a class with mask 0 is linked to itself. Each linked class is a
  group, and each linked pair of classes is a group of their two representatives. With k
  identifiers there are at most 2^(j-1) classes per value, so this stays linear in the data.
  The first identifier has a single class per value, a plain GROUP BY.

A group is identified by its smallest `_pk`. An identity in one group takes it as its label;
identities in several groups join those groups, and only that (usually small) graph of groups
goes through iterative min-label propagation with pointer jumping (`lab := lab(lab)`), which
converges in O(log n) rounds. Every step is a GROUP BY or an equality join of temporary tables.

The new profiles are built in a new table and swapped in with the `profiles` view in one
transaction; `_kpid` is then written back onto the identities whose profile changed, in short
transactions by `_pk` range so that imports running meanwhile never wait long (on PostgreSQL,
when most kpids changed, the identities table is rewritten instead: much faster than updating
each row, and writes wait only for that copy). Identities imported during a resolution keep a
NULL `_kpid` until the next one.

Cost: a few hash aggregations and joins over the identities, plus the write-back; on this
project's bench machine 1,000,000 identities from two pipelines sharing emails resolve in about
20 s the first time (18 s to write them with the identity writer alone) and 16 s afterwards.
"""
from __future__ import annotations

import math
import re
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal

from pipelines.types import RawJSON, Type, dumps_json, loads_json, parse_iso8601

from .columns import ProfileColumn, postgres_type

UTC = timezone.utc
WRITE_BACK_CHUNK = 50000
MAX_CHUNK_ATTEMPTS = 5
REWRITE_MIN_ROWS = 50000        # PostgreSQL rewrites krenalis_identities when at least this many
REWRITE_FRACTION = 0.2          # kpids, and this share of the identities, changed


@dataclass(frozen=True)
class ResolutionSpec:
    identifiers: tuple[str, ...]            # warehouse columns, highest priority first
    columns: tuple[ProfileColumn, ...]      # every profile column
    primary_sources: dict = field(default_factory=dict)   # column name -> connection id


@dataclass
class ResolutionResult:
    identities: int = 0
    profiles: int = 0
    rounds: int = 0             # propagation rounds over the graph of groups
    kpids_written: int = 0      # identities whose `_kpid` changed
    seconds: dict = field(default_factory=dict)


class ResolutionBusy(Exception):
    """Another resolution holds the warehouse."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Resolution:
    """The steps shared by the platforms; subclasses supply the dialect and the publishing."""

    # SQL of the dialect: smallest/greatest old kpid of a cluster, a new random kpid, "kpid changed".
    kpid_min = "min(old)"
    kpid_max = "max(old)"
    new_kpid = ""
    differs = "old IS NOT kpid"

    def __init__(self, conn, spec: ResolutionSpec):
        self.conn, self.spec = conn, spec
        self.result = ResolutionResult()
        self._started = clock.monotonic()

    # -- dialect hooks
    def execute(self, sql: str, params=()):
        raise NotImplementedError

    def scalar(self, sql: str, params=()):
        raise NotImplementedError

    def rows(self, sql: str, params=()):
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        pass

    def rollback(self) -> None:
        raise NotImplementedError

    def index(self, table: str, columns: str) -> None:
        """Indexes a temporary table where the platform cannot hash-join (SQLite)."""

    def analyze(self, table: str) -> None:
        pass

    def is_transient(self, exc: Exception) -> bool:
        return False

    def kpid_of(self, text: str) -> str:
        return text

    def lap(self, name: str) -> None:
        now = clock.monotonic()
        self.result.seconds[name] = round(now - self._started, 3)
        self._started = now

    # -- the algorithm
    def run(self) -> ResolutionResult:
        self.compute()
        self.lap("compute")
        self.publish()
        self.lap("publish")
        self.write_back()
        self.lap("write_back")
        return self.result

    def compute(self) -> None:
        identifiers = self.spec.identifiers
        selected = "".join(f", {_q(name)} AS i{n}" for n, name in enumerate(identifiers, 1))
        self.begin()
        self.execute("CREATE TEMP TABLE ir_ids AS SELECT _pk AS pk, _pipeline AS p, _connection AS c, "
                     f"_identity_id AS uid, _is_anonymous AS anon, _kpid AS old{selected} FROM krenalis_identities")
        self.result.identities = self.scalar("SELECT count(*) FROM ir_ids")
        self.analyze("ir_ids")
        self.execute("CREATE TEMP TABLE ir_m (node integer NOT NULL, g integer NOT NULL)")
        # Rule 1, only where a connection has identities from more than one pipeline.
        self.execute(
            "INSERT INTO ir_m SELECT s.pk, d.rep FROM (SELECT c, uid, anon, min(pk) AS rep FROM ir_ids "
            "WHERE c IN (SELECT c FROM ir_ids GROUP BY c HAVING min(p) <> max(p)) "
            "GROUP BY c, uid, anon HAVING count(*) > 1) d "
            "JOIN ir_ids s ON s.c = d.c AND s.uid = d.uid AND s.anon = d.anon")
        for j in range(1, len(identifiers) + 1):
            self._identifier_groups(j)
        self.index("ir_m", "node")
        self.analyze("ir_m")
        self.execute("CREATE TEMP TABLE ir_lab0 AS SELECT node, min(g) AS lab, max(g) AS mx FROM ir_m GROUP BY node")
        self.index("ir_lab0", "node")
        self.analyze("ir_lab0")
        self.execute("CREATE TEMP TABLE ir_h AS SELECT DISTINCT m.g AS a, l.lab AS b FROM ir_m m "
                     "JOIN ir_lab0 l ON l.node = m.node WHERE l.mx <> l.lab AND m.g <> l.lab")
        grouped = self._propagate()
        joins = " LEFT JOIN ir_lab0 l0 ON l0.node = s.pk"
        label = "COALESCE(l0.lab, s.pk)"
        if grouped:
            joins += " LEFT JOIN ir_glab gl ON gl.node = l0.lab"
            label = "COALESCE(gl.lab, l0.lab, s.pk)"
        self.execute(f"CREATE TEMP TABLE ir_assign AS SELECT s.pk, {label} AS lab, s.old FROM ir_ids s{joins}")
        self.index("ir_assign", "lab")
        self.analyze("ir_assign")
        # kpids: kept when all the members that had one share it and no other profile claims it.
        self.execute(f"CREATE TEMP TABLE ir_stats AS SELECT lab, count(*) AS n, CASE WHEN count(old) > 0 AND "
                     f"{self.kpid_min} = {self.kpid_max} THEN {self.kpid_min} END AS keep FROM ir_assign GROUP BY lab")
        self.execute(f"CREATE TEMP TABLE ir_clusters AS SELECT s.lab, s.n, CASE WHEN s.keep IS NOT NULL AND d.keep IS NULL "
                     f"THEN {self.kpid_of('s.keep')} ELSE {self.new_kpid} END AS kpid FROM ir_stats s "
                     "LEFT JOIN (SELECT keep FROM ir_stats WHERE keep IS NOT NULL GROUP BY keep HAVING count(*) > 1) d "
                     "ON d.keep = s.keep")
        self.execute("DROP TABLE ir_stats")
        self.index("ir_clusters", "lab")
        self.analyze("ir_clusters")
        self.execute("CREATE TEMP TABLE ir_final AS SELECT a.pk, c.kpid, c.n, a.old "
                     "FROM ir_assign a JOIN ir_clusters c ON c.lab = a.lab")
        self.index("ir_final", "pk")
        self.analyze("ir_final")
        self.execute(f"CREATE TEMP TABLE ir_changes AS SELECT pk, kpid FROM ir_final WHERE {self.differs}")
        self.execute("CREATE INDEX ir_changes_pk ON ir_changes (pk)")
        self.analyze("ir_changes")
        self.commit()

    def _mask(self, j: int, alias: str) -> str:
        """Bits of the identifiers of higher priority than j that are set."""
        return "(" + " | ".join(f"(CASE WHEN {alias}.i{i} IS NULL THEN 0 ELSE {1 << (i - 1)} END)"
                                for i in range(1, j)) + ")"

    def _identifier_groups(self, j: int) -> None:
        v = f"i{j}"
        if j == 1:
            self.execute(f"INSERT INTO ir_m SELECT s.pk, d.rep FROM (SELECT {v} AS v, min(pk) AS rep FROM ir_ids "
                         f"WHERE {v} IS NOT NULL GROUP BY {v} HAVING count(*) > 1) d JOIN ir_ids s ON s.{v} = d.v")
            return
        mask = self._mask(j, "s")
        self.execute(f"CREATE TEMP TABLE ir_cls AS SELECT s.{v} AS v, {mask} AS m, min(s.pk) AS rep, count(*) AS n "
                     f"FROM ir_ids s WHERE s.{v} IN (SELECT {v} FROM ir_ids WHERE {v} IS NOT NULL GROUP BY {v} "
                     f"HAVING count(*) > 1) GROUP BY s.{v}, {mask}")
        self.index("ir_cls", "v")
        self.analyze("ir_cls")
        self.execute("CREATE TEMP TABLE ir_pairs AS SELECT a.rep AS r1, b.rep AS r2 FROM ir_cls a "
                     "JOIN ir_cls b ON b.v = a.v AND a.rep < b.rep AND (a.m & b.m) = 0")
        self.execute("INSERT INTO ir_m SELECT r1, r1 FROM ir_pairs UNION ALL SELECT r2, r1 FROM ir_pairs")
        self.execute(f"INSERT INTO ir_m SELECT s.pk, l.rep FROM ir_cls l JOIN ir_ids s ON s.{v} = l.v AND {mask} = l.m "
                     "WHERE l.n > 1 AND (l.m = 0 OR l.rep IN (SELECT r1 FROM ir_pairs UNION SELECT r2 FROM ir_pairs))")
        self.execute("DROP TABLE ir_cls")
        self.execute("DROP TABLE ir_pairs")

    def _propagate(self) -> bool:
        """Components of the graph of groups that share identities (`ir_h`) into `ir_glab`."""
        if not self.scalar("SELECT count(*) FROM ir_h"):
            return False
        self.index("ir_h", "a")
        self.index("ir_h", "b")
        self.execute("CREATE TEMP TABLE ir_glab AS SELECT x AS node, min(y) AS lab FROM (SELECT a AS x, b AS y FROM ir_h "
                     "UNION ALL SELECT b, a FROM ir_h UNION ALL SELECT a, a FROM ir_h UNION ALL SELECT b, b FROM ir_h) e "
                     "GROUP BY x")
        while True:
            self.result.rounds += 1
            self.index("ir_glab", "node")
            self.analyze("ir_glab")
            self.execute("CREATE TEMP TABLE ir_gmin AS SELECT x AS node, min(y) AS lab FROM ("
                         "SELECT node AS x, lab AS y FROM ir_glab "
                         "UNION ALL SELECT h.a, l.lab FROM ir_h h JOIN ir_glab l ON l.node = h.b "
                         "UNION ALL SELECT h.b, l.lab FROM ir_h h JOIN ir_glab l ON l.node = h.a) e GROUP BY x")
            self.index("ir_gmin", "node")
            self.analyze("ir_gmin")
            # Pointer jumping: a label is a group, whose own label is at least as small.
            self.execute("CREATE TEMP TABLE ir_gnext AS SELECT m.node, j.lab FROM ir_gmin m "
                         "JOIN ir_gmin j ON j.node = m.lab")
            changed = self.scalar("SELECT count(*) FROM ir_gnext n JOIN ir_glab o ON o.node = n.node "
                                  "WHERE n.lab <> o.lab")
            self.execute("DROP TABLE ir_glab")
            self.execute("DROP TABLE ir_gmin")
            self.execute("ALTER TABLE ir_gnext RENAME TO ir_glab")
            if not changed:
                self.index("ir_glab", "node")
                return True

    def write_back(self) -> None:
        """`_kpid` onto the identities whose profile changed, one short transaction per `_pk` range."""
        self.begin()
        ranges = self.rows(f"SELECT min(pk), max(pk) FROM (SELECT pk, (row_number() OVER (ORDER BY pk) - 1) / "
                           f"{WRITE_BACK_CHUNK} AS b FROM ir_changes) x GROUP BY b ORDER BY b")
        self.commit()
        for low, high in ranges:
            for attempt in range(1, MAX_CHUNK_ATTEMPTS + 1):
                try:
                    self.begin_write()
                    self.result.kpids_written += self.update_kpids(low, high)
                    self.commit()
                    break
                except Exception as exc:
                    self.rollback()
                    if attempt == MAX_CHUNK_ATTEMPTS or not self.is_transient(exc):
                        raise
                    clock.sleep(0.05 * 2 ** attempt)

    def begin_write(self) -> None:
        self.begin()

    def update_kpids(self, low: int, high: int) -> int:
        raise NotImplementedError

    def publish(self) -> None:
        raise NotImplementedError

    # -- profile rows
    def _window_orders(self, column: ProfileColumn) -> str:
        connection = self.spec.primary_sources.get(column.name)
        preference = f"(i._connection = {int(connection)}) DESC, " if connection is not None else ""
        return f"{preference}i._updated_at DESC, i._pk DESC"


# --------------------------------------------------------------------------- PostgreSQL

POSTGRESQL_SESSION = (
    "SET work_mem = '256MB'",
    "SET temp_buffers = '256MB'",
    "SET maintenance_work_mem = '256MB'",
    "SET jit = off",
)
ADVISORY_LOCK = "hashtext('krenalis identity resolution ' || current_schema())"


class PostgreSQLResolution(_Resolution):
    kpid_min = 'min(old::text COLLATE "C")'
    kpid_max = 'max(old::text COLLATE "C")'
    new_kpid = "gen_random_uuid()"

    def kpid_of(self, text):
        return f"{text}::uuid"

    differs = "old IS DISTINCT FROM kpid"

    def __init__(self, conn, spec: ResolutionSpec):
        super().__init__(conn, spec)
        self.cur = conn.cursor()

    def execute(self, sql, params=()):
        self.cur.execute(sql, params or None)

    def scalar(self, sql, params=()):
        self.cur.execute(sql, params or None)
        return self.cur.fetchone()[0]

    def rows(self, sql, params=()):
        self.cur.execute(sql, params or None)
        return self.cur.fetchall()

    def commit(self):
        self.conn.commit()

    def rollback(self):
        self.conn.rollback()

    def analyze(self, table):
        self.execute(f"ANALYZE {table}")

    def is_transient(self, exc):
        import psycopg2.errors

        return isinstance(exc, (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure,
                                psycopg2.errors.LockNotAvailable))

    def run(self):
        for statement in POSTGRESQL_SESSION:
            self.execute(statement)
        # One resolution at a time per warehouse schema, whatever the metadata database says.
        if not self.scalar(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK})"):
            self.commit()
            raise ResolutionBusy("another identity resolution is executing on this data warehouse")
        self.commit()
        try:
            return super().run()
        finally:
            # Closing the connection would release it too, but only once the server notices.
            if not self.conn.closed:
                self.conn.rollback()
                self.execute(f"SELECT pg_advisory_unlock({ADVISORY_LOCK})")
                self.commit()

    def update_kpids(self, low, high):
        self.execute("UPDATE krenalis_identities i SET _kpid = c.kpid FROM ir_changes c WHERE c.pk = i._pk "
                     "AND c.pk BETWEEN %s AND %s AND i._pk BETWEEN %s AND %s", (low, high, low, high))
        return self.cur.rowcount

    def write_back(self):
        """Most kpids changed (typically the first resolution after a big import): rewriting the
        table is several times faster than updating every row, which PostgreSQL does as a new
        row version plus an entry in each index. Writes wait meanwhile (reads do not); if the
        table cannot be locked soon, or a deadlock occurs, the row updates are used instead."""
        import psycopg2.errors

        changes = self.scalar("SELECT count(*) FROM ir_changes")
        self.commit()
        if changes >= REWRITE_MIN_ROWS and changes >= REWRITE_FRACTION * self.result.identities:
            try:
                self.rewrite_identities()
                self.result.kpids_written = changes
                return
            except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected):
                self.rollback()
        super().write_back()

    def rewrite_identities(self) -> None:
        table, next_table = "krenalis_identities", "krenalis_identities_next"
        self.execute("SET LOCAL lock_timeout = '30s'")
        self.execute(f"LOCK TABLE {table} IN SHARE MODE")
        columns = [row[0] for row in self.rows(
            f"SELECT attname FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum")]
        indexes = self.rows(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), con.conname, con.contype FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid "
            f"AND con.conrelid = i.indrelid WHERE i.indrelid = '{table}'::regclass ORDER BY c.relname")
        sequence = self.scalar(f"SELECT pg_get_serial_sequence('{table}', '_pk')")
        last_value, is_called = self.rows(f"SELECT last_value, is_called FROM {sequence}")[0]
        self.execute(f"DROP TABLE IF EXISTS {next_table}")
        self.execute(f"CREATE TABLE {next_table} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)")
        selected = ", ".join("COALESCE(c.kpid, i._kpid)" if name == "_kpid" else f"i.{_q(name)}" for name in columns)
        self.execute(f"INSERT INTO {next_table} ({', '.join(_q(n) for n in columns)}) OVERRIDING SYSTEM VALUE "
                     f"SELECT {selected} FROM {table} i LEFT JOIN ir_changes c ON c.pk = i._pk")
        renames = []
        for name, definition, constraint, kind in indexes:
            definition = re.sub(rf"^CREATE (UNIQUE )?INDEX {re.escape(name)} ON (ONLY )?(\S+\.)?{table} ",
                                rf"CREATE \g<1>INDEX {name}_next ON {next_table} ", definition)
            self.execute(definition)
            if constraint and kind in ("p", "u"):
                key = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                self.execute(f"ALTER TABLE {next_table} ADD CONSTRAINT {constraint}_next {key} USING INDEX {name}_next")
                renames.append(f"ALTER TABLE {table} RENAME CONSTRAINT {constraint}_next TO {constraint}")
                if constraint != name:
                    renames.append(f"ALTER INDEX {constraint} RENAME TO {name}")
            else:
                renames.append(f"ALTER INDEX {name}_next RENAME TO {name}")
        new_sequence = self.scalar(f"SELECT pg_get_serial_sequence('{next_table}', '_pk')")
        self.execute("SELECT setval(%s, %s, %s)", (new_sequence, last_value, is_called))
        self.execute(f"DROP TABLE {table}")
        self.execute(f"ALTER TABLE {next_table} RENAME TO {table}")
        self.execute(f"ALTER SEQUENCE {new_sequence} RENAME TO {sequence.rpartition('.')[2]}")
        for statement in renames:
            self.execute(statement)
        self.commit()
        self.execute(f"ANALYZE {table}")
        self.commit()

    def publish(self):
        spec = self.spec
        scalars = [c for c in spec.columns if c.type.kind != "array"]
        arrays = [c for c in spec.columns if c.type.kind == "array"]
        names = [_q(c.name) for c in spec.columns]
        insert_columns = "_kpid, _identities, _updated_at" + "".join(", " + n for n in names)
        self.execute("DROP TABLE IF EXISTS krenalis_profiles_next")
        self.execute("CREATE TABLE krenalis_profiles_next (LIKE krenalis_profiles INCLUDING DEFAULTS)")
        # Profiles of one identity: its values as they are.
        self.execute(f"INSERT INTO krenalis_profiles_next ({insert_columns}) SELECT f.kpid, ARRAY[i._pk], i._updated_at"
                     + "".join(", i." + n for n in names)
                     + " FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk WHERE f.n = 1")
        # The others: one sort per distinct precedence, every attribute of a profile in one pass.
        windows = {"w": "i._updated_at DESC, i._pk DESC"}
        for column in scalars:
            order = self._window_orders(column)
            if order not in windows.values():
                windows[f"w{len(windows)}"] = order
        by_order = {order: name for name, order in windows.items()}
        inner = ["f.kpid", "row_number() OVER w AS rn", "array_agg(i._pk) OVER w AS pks",
                 "max(i._updated_at) OVER w AS updated_at"]
        outer = ["kpid", "pks", "updated_at"]
        for n, column in enumerate(spec.columns):
            if column.type.kind == "array":
                outer.append("NULL")
                continue
            name = _q(column.name)
            window = by_order[self._window_orders(column)]
            inner.append(f"array_agg(i.{name}) FILTER (WHERE i.{name} IS NOT NULL) OVER {window} AS a{n}")
            outer.append(f"a{n}[1]")
        frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
        window_sql = ", ".join(f"{name} AS (PARTITION BY f.kpid ORDER BY {order} {frame})"
                               for name, order in windows.items())
        self.execute(f"INSERT INTO krenalis_profiles_next ({insert_columns}) SELECT {', '.join(outer)} FROM ("
                     f"SELECT {', '.join(inner)} FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk "
                     f"WHERE f.n > 1 WINDOW {window_sql}) s WHERE rn = 1")
        for column in arrays:
            name = _q(column.name)
            self.execute(
                f"UPDATE krenalis_profiles_next p SET {name} = u.arr FROM ("
                "SELECT kpid, COALESCE(array_agg(e ORDER BY ua DESC, pk DESC, n) FILTER (WHERE n IS NOT NULL), "
                f"'{{}}'::{postgres_type(column.type)}) AS arr FROM ("
                "SELECT DISTINCT ON (f.kpid, x.e) f.kpid, x.e, x.n, i._updated_at AS ua, i._pk AS pk "
                "FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk AND f.n > 1 "
                f"LEFT JOIN LATERAL unnest(i.{name}) WITH ORDINALITY AS x(e, n) ON true WHERE i.{name} IS NOT NULL "
                "ORDER BY f.kpid, x.e, i._updated_at DESC, i._pk DESC, x.n) d GROUP BY kpid) u "
                "WHERE p._kpid = u.kpid")
        self.execute("ALTER TABLE krenalis_profiles_next ADD CONSTRAINT krenalis_profiles_next_pkey PRIMARY KEY (_kpid)")
        self.execute("CREATE INDEX krenalis_profiles_next_updated_at ON krenalis_profiles_next (_updated_at)")
        self.result.profiles = self.scalar("SELECT count(*) FROM krenalis_profiles_next")
        self.lap("build_profiles")
        # The swap: readers of `profiles` wait only for these few catalog changes.
        self.execute("DROP VIEW IF EXISTS profiles")
        self.execute("DROP TABLE krenalis_profiles")
        self.execute("ALTER TABLE krenalis_profiles_next RENAME TO krenalis_profiles")
        self.execute("ALTER TABLE krenalis_profiles RENAME CONSTRAINT krenalis_profiles_next_pkey "
                     "TO krenalis_profiles_pkey")
        self.execute("ALTER INDEX krenalis_profiles_next_updated_at RENAME TO krenalis_profiles_updated_at")
        self.execute(profiles_view_sql(spec.columns))
        self.commit()


def profiles_view_sql(columns) -> str:
    return ("CREATE VIEW profiles AS SELECT _kpid, _updated_at" + "".join(", " + _q(c.name) for c in columns)
            + " FROM krenalis_profiles")


# --------------------------------------------------------------------------- SQLite

SQLITE_NEW_UUID = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' "
    "|| substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
)


class SQLiteResolution(_Resolution):
    """The same steps on SQLite: temporary tables live in the connection's temp database, so the
    computation never blocks the writers of the warehouse file; publishing is one write transaction."""

    new_kpid = SQLITE_NEW_UUID
    differs = "old IS NOT kpid"

    def execute(self, sql, params=()):
        return self.conn.execute(sql, params)

    def scalar(self, sql, params=()):
        return self.conn.execute(sql, params).fetchone()[0]

    def rows(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()

    def begin(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    def begin_write(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self):
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self):
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def index(self, table, columns):
        self.execute(f"CREATE INDEX {table}_{columns.replace(', ', '_')} ON {table} ({columns})")

    def is_transient(self, exc):
        import sqlite3

        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def run(self):
        self.execute("PRAGMA temp_store = MEMORY")
        self.execute("PRAGMA cache_size = -262144")
        return super().run()

    def update_kpids(self, low, high):
        return self.execute("UPDATE krenalis_identities SET _kpid = c.kpid FROM ir_changes c "
                            "WHERE c.pk = krenalis_identities._pk AND c.pk BETWEEN ? AND ? "
                            "AND krenalis_identities._pk BETWEEN ? AND ?", (low, high, low, high)).rowcount

    def publish(self):
        spec = self.spec
        names = [_q(c.name) for c in spec.columns]
        insert_columns = "_kpid, _identities, _updated_at" + "".join(", " + n for n in names)
        self.begin_write()
        try:
            self.execute("DELETE FROM krenalis_profiles")
            self.execute(f"INSERT INTO krenalis_profiles ({insert_columns}) SELECT f.kpid, json_array(i._pk), "
                         "i._updated_at" + "".join(", i." + n for n in names)
                         + " FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk WHERE f.n = 1")
            inner = ["f.kpid AS kpid", "row_number() OVER (PARTITION BY f.kpid ORDER BY i._updated_at DESC, i._pk DESC) AS rn",
                     "json_group_array(i._pk) OVER (PARTITION BY f.kpid) AS pks",
                     "max(i._updated_at) OVER (PARTITION BY f.kpid) AS updated_at"]
            outer = ["kpid", "pks", "updated_at"]
            for n, column in enumerate(spec.columns):
                name = _q(column.name)
                inner.append(f"first_value(i.{name}) OVER (PARTITION BY f.kpid ORDER BY i.{name} IS NULL, "
                             f"{self._window_orders(column)}) AS a{n}")
                outer.append(f"a{n}")
            self.execute(f"INSERT INTO krenalis_profiles ({insert_columns}) SELECT {', '.join(outer)} FROM ("
                         f"SELECT {', '.join(inner)} FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk "
                         "WHERE f.n > 1) WHERE rn = 1")
            for column in spec.columns:
                if column.type.kind != "array":
                    continue
                name = _q(column.name)
                # `->` keeps each element's exact JSON text (numbers included).
                element = f"(i.{name} -> j.fullkey)"
                self.execute(
                    f"UPDATE krenalis_profiles SET {name} = u.arr FROM ("
                    "SELECT kpid, json_group_array(json(e)) AS arr FROM ("
                    "SELECT kpid, e FROM ("
                    f"SELECT f.kpid AS kpid, {element} AS e, i._updated_at AS ua, i._pk AS pk, j.id AS k, "
                    f"row_number() OVER (PARTITION BY f.kpid, {element} ORDER BY i._updated_at DESC, i._pk DESC, j.id) AS r "
                    f"FROM krenalis_identities i JOIN ir_final f ON f.pk = i._pk AND f.n > 1, json_each(i.{name}) j "
                    f"WHERE i.{name} IS NOT NULL) WHERE r = 1 ORDER BY kpid, ua DESC, pk DESC, k) GROUP BY kpid) u "
                    "WHERE krenalis_profiles._kpid = u.kpid")
            self.result.profiles = self.scalar("SELECT count(*) FROM krenalis_profiles")
            self.commit()
        except BaseException:
            self.rollback()
            raise


# --------------------------------------------------------------------------- reading values back

def from_json_storage(value, t: Type):
    """A value in its stored JSON form (SQLite arrays and maps, PostgreSQL maps; see
    `warehouse.writer.json_storage_value`) or PostgreSQL's `to_jsonb` form, in the value model."""
    if value is None:
        return None
    kind = t.kind
    if kind == "int":
        return int(value)
    if kind == "year":
        return int(value)
    if kind == "float":
        if isinstance(value, str):
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
        return float(value)
    if kind == "decimal":
        return Decimal(value) if not isinstance(value, Decimal) else value
    if kind == "datetime":
        return parse_iso8601(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "json":
        return RawJSON(dumps_json(value))
    if kind == "array":
        return [from_json_storage(item, t.element_type) for item in value]
    if kind == "map":
        return {key: from_json_storage(item, t.element_type) for key, item in value.items()}
    return value  # string, boolean, uuid, ip


def postgresql_select(column: ProfileColumn, alias: str = "") -> str:
    """How a profile column is read from PostgreSQL so that `postgresql_value` can decode it."""
    name = alias + _q(column.name)
    kind = column.type.kind
    if kind == "json":
        return f"{name}::text"
    if kind in ("array", "map"):
        return f"to_jsonb({name})::text"
    return name


def postgresql_value(value, t: Type):
    if value is None:
        return None
    kind = t.kind
    if kind in ("json",):
        return RawJSON(value)
    if kind in ("array", "map"):
        return from_json_storage(loads_json(value), t)
    if kind == "int" and isinstance(value, Decimal):
        return int(value)
    if kind == "datetime":
        return value.replace(tzinfo=UTC)
    return value


def sqlite_value(value, t: Type):
    if value is None:
        return None
    kind = t.kind
    if kind == "boolean":
        return bool(value)
    if kind == "int":
        return int(value) if not isinstance(value, bytes) else int(value.decode("ascii"))
    if kind == "float":
        return math.nan if value == "NaN" else float(value)
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "datetime":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "json":
        return RawJSON(value)
    if kind in ("array", "map"):
        return from_json_storage(loads_json(value), t)
    return value


# --------------------------------------------------------------------------- profile queries

COMPARISONS = {
    "is": "=", "is not": "<>",
    "is less than": "<", "is less than or equal to": "<=", "is greater than": ">", "is greater than or equal to": ">=",
    "is before": "<", "is on or before": "<=", "is after": ">", "is on or after": ">=",
}


@dataclass(frozen=True)
class Condition:
    """One filter condition, already validated: `values` are in the value model of the column's
    type (of its element type for "contains" on arrays)."""

    column: ProfileColumn
    operator: str
    values: tuple = ()


@dataclass(frozen=True)
class ProfileQuery:
    columns: tuple[ProfileColumn, ...]
    conditions: tuple[Condition, ...] = ()
    logical: str = "and"
    order: ProfileColumn | None = None      # None: the profile's `_updated_at`
    descending: bool = False
    first: int = 0
    limit: int = 100


def _pg_param(value, t: Type):
    if t.kind == "datetime":
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _sqlite_param(value, t: Type):
    from .writer import sqlite_encoder

    if t.kind == "decimal":
        return float(value)
    if t.kind == "boolean":
        return int(value)
    encode = sqlite_encoder(t)
    return value if encode is None else encode(value)


def _sqlite_element_param(value, t: Type):
    """An array element as `json_each` reports it (from its JSON storage form)."""
    from .writer import json_storage_value

    stored = json_storage_value(value, t)
    if isinstance(stored, bool):
        return int(stored)
    if isinstance(stored, Decimal):
        return float(stored)
    return stored


def condition_sql(condition: Condition, platform: str) -> tuple[str, list]:
    """SQL of a condition and its parameters, NULL values never matching (SQL semantics)."""
    pg = platform == "PostgreSQL"
    mark = "%s" if pg else "?"
    column, op, values = condition.column, condition.operator, condition.values
    t = column.type
    kind = t.kind
    expr = _q(column.name)
    param = (lambda v: _pg_param(v, t)) if pg else (lambda v: _sqlite_param(v, t))
    if not pg and kind == "decimal":
        expr = f"CAST({expr} AS REAL)"
    if op in ("is null", "does not exist"):
        return f"{expr} IS NULL", []
    if op in ("is not null", "exists"):
        return f"{expr} IS NOT NULL", []
    if op in ("is true", "is false"):
        truth = op == "is true"
        return f"{expr} = {('true' if truth else 'false') if pg else int(truth)}", []
    if op in COMPARISONS:
        return f"{expr} {COMPARISONS[op]} {mark}", [param(values[0])]
    if op in ("is between", "is not between"):
        negation = "NOT " if op == "is not between" else ""
        return f"{expr} {negation}BETWEEN {mark} AND {mark}", [param(values[0]), param(values[1])]
    if op in ("is one of", "is not one of"):
        negation = "NOT " if op == "is not one of" else ""
        return f"{expr} {negation}IN ({', '.join([mark] * len(values))})", [param(v) for v in values]
    if op in ("is empty", "is not empty"):
        empty = op == "is empty"
        if kind == "string":
            return f"{expr} {'=' if empty else '<>'} ''", []
        if kind == "array":
            size = f"cardinality({expr})" if pg else f"json_array_length({expr})"
            return f"{size} {'=' if empty else '>'} 0", []
        if kind == "map":
            text = f"{expr} = '{{}}'::jsonb" if pg else f"json({expr}) = '{{}}'"
            return (text if empty else f"NOT ({text})"), []
    if op in ("contains", "does not contain"):
        negation = "NOT " if op == "does not contain" else ""
        if kind == "array":
            element = t.element_type
            if pg:
                return f"{negation}({mark} = ANY({expr}))", [_pg_param(values[0], element)]
            return (f"{negation}EXISTS (SELECT 1 FROM json_each({expr}) WHERE json_each.value = ?)",
                    [_sqlite_element_param(values[0], element)])
        if pg:
            return f"{negation}(strpos({expr}, %s) > 0)", [values[0]]
        return f"{negation}(instr({expr}, ?) > 0)", [values[0]]
    if op == "starts with":
        if pg:
            return f"starts_with({expr}, %s)", [values[0]]
        return f"substr({expr}, 1, length(?)) = ?", [values[0], values[0]]
    if op == "ends with":
        if pg:
            return f"right({expr}, length(%s)) = %s", [values[0], values[0]]
        return f"(length(?) = 0 OR substr({expr}, -length(?)) = ?)", [values[0], values[0], values[0]]
    raise ValueError(f"operator {op!r} is not supported for {kind} properties")


def where_sql(query: ProfileQuery, platform: str) -> tuple[str, list]:
    if not query.conditions:
        return "", []
    parts, params = [], []
    for condition in query.conditions:
        sql, condition_params = condition_sql(condition, platform)
        parts.append(f"({sql})")
        params.extend(condition_params)
    joiner = " AND " if query.logical == "and" else " OR "
    return " WHERE " + joiner.join(parts), params


def order_sql(query: ProfileQuery, platform: str) -> str:
    direction = " DESC" if query.descending else ""
    if query.order is None:
        expr = "_updated_at"
    else:
        expr = _q(query.order.name)
        if platform != "PostgreSQL" and query.order.type.kind == "decimal":
            expr = f"CAST({expr} AS REAL)"
    return f" ORDER BY {expr}{direction} NULLS LAST, _kpid{direction}"
