"""Identity resolution in the warehouse (reading the profiles back is warehouse.profile_queries).

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

Incremental resolution: the cost of the change
----------------------------------------------
Every write to `krenalis_identities` records the identities it inserted, changed or deleted in
the change log (warehouse.changes). A link depends only on its two identities' values, and each
profile of the last resolution is a whole component of the links as they were. So the profiles
that can differ now are those of the changed identities (their `_kpid`, or for a deleted one the
kpid the log kept) and those that a changed identity now links to, transitively: the
*expansion* starts from the changed identities and the members of their profiles (from
`krenalis_profiles._identities`), looks up the identities linked to the changed ones (an index per
identifier on (value, `_pk`), the unique key for rule 1, then the mask test of rule 2 pair by pair;
never the changed identity itself, whose row is not fetched again), adds their
whole profiles, and repeats from what it added until nothing is (an unchanged identity links only
within its profile or to a changed one, so one round suffices in a consistent warehouse). The
identities needed are read once into a temporary table. That set is closed under the links, so the
steps above applied to it alone give exactly the components a full resolution gives there; and
since the kpids of its profiles are claimed by its identities only, the kpid rule gives the same
answer too. Only those profiles and their identities' kpids are rewritten.

A full resolution is the right tool, and is used, for the first one, after a change of the
identifiers, the primary sources or the profile columns (the fingerprint the last resolution
left in `krenalis_resolution_state` differs), after one that did not complete, after bulk writes
(the log says "anything changed"), and when the set to regroup outgrows
`changes.incremental_limit` (a full one costs less there).

Consistency, concurrency, faults
--------------------------------
The change log and the identities are read in one snapshot (REPEATABLE READ on PostgreSQL, one
read transaction on SQLite). Publishing takes the change log's lock, so that no import commits
meanwhile: it writes the profiles (and, for an incremental resolution, the kpids), gives each log
row committed since the snapshot about an identity it regrouped that identity's new kpid (so the
next resolution finds the profile a deleted identity was in), and deletes exactly the log rows it
read. A change committed meanwhile stays in the log for the next resolution.

An incremental resolution publishes everything in that one transaction: killed before, it
changed nothing. A full one builds the new profiles table and swaps it in with the `profiles`
view in one transaction (marking the state incomplete), writes `_kpid` back onto the identities
whose profile changed, in short transactions by `_pk` range so that imports running meanwhile
never wait long (on PostgreSQL, when most kpids changed, the identities table is rewritten
instead: much faster than updating each row, and writes wait only for that copy), then consumes
the log and records its fingerprint. Killed in between, the profiles are those it swapped in, and
the next resolution is a full one.

Cost: a few hash aggregations and joins over the identities, plus the write-back; on this
project's bench machine 1,000,000 identities from two pipelines sharing emails resolve in about
20 s the first time (18 s to write them with the identity writer alone) and 16 s afterwards. An
incremental one costs index lookups and the same steps over the identities it regroups only; on
PostgreSQL its statements go in a few round trips (see PostgreSQLResolution.send). What bounds it is
rewriting the profiles: with 1 % of 1,000,000 identities changed, spread over the whole table, the
10,000 profiles replaced lie on about 7,500 of the profiles table's 16,500 pages and their kpids on
about 3,500 leaf pages of its primary key, and the first change of a page after a checkpoint
writes the whole page to the WAL: about 11,000 full-page images, 90 MB (bench/README.md).
"""
from __future__ import annotations

import hashlib
import logging
import re
import time as clock
from dataclasses import dataclass, field
from datetime import timezone

from . import changes
from .columns import ProfileColumn, postgres_type
from .columns import quote_identifier as _q

log = logging.getLogger(__name__)

UTC = timezone.utc
FULL, INCREMENTAL = "Full", "Incremental"
WRITE_BACK_CHUNK = 50000
MAX_CHUNK_ATTEMPTS = 5
REWRITE_MIN_ROWS = 50000        # PostgreSQL rewrites krenalis_identities when at least this many
REWRITE_FRACTION = 0.2          # kpids, and this share of the identities, changed
IDENTIFIER_INDEX = "krenalis_identities_ident_"   # + a digest of its columns: the expansion's lookups


@dataclass(frozen=True)
class ResolutionSpec:
    identifiers: tuple[str, ...]            # warehouse columns, highest priority first
    columns: tuple[ProfileColumn, ...]      # every profile column
    primary_sources: dict = field(default_factory=dict)   # column name -> connection id


@dataclass
class ResolutionResult:
    kind: str = FULL            # FULL or INCREMENTAL
    reason: str = ""            # why a full resolution
    identities: int = 0         # identities regrouped (all of them in a full resolution)
    profiles: int = 0           # profiles written (all of them in a full resolution)
    rounds: int = 0             # propagation rounds over the graph of groups
    expansions: int = 0         # incremental: rounds of looking up the identities linked to the set
    kpids_written: int = 0      # identities whose `_kpid` changed
    seconds: dict = field(default_factory=dict)


class ResolutionBusy(Exception):
    """Another resolution holds the warehouse."""


def identifier_index_columns(column: str) -> str:
    """An identifier's index is on (the identifier, `_pk`): the expansion looks up the identities with
    a changed identity's value *other than itself* by two index ranges (`_pk` below and above its
    own), so it never fetches the changed rows again, nor prunes their pages (see expand)."""
    return f"{_q(column)}, _pk"


def identifier_index(column: str) -> str:
    # The digest covers the index's columns: an index of another shape (an older one on the column
    # alone) has another name, and the next full resolution replaces it.
    return IDENTIFIER_INDEX + hashlib.sha1(identifier_index_columns(column).encode()).hexdigest()[:12]


class _Resolution:
    """The steps shared by the platforms; subclasses supply the dialect and the publishing."""

    # SQL of the dialect: smallest/greatest old kpid of a cluster, a new random kpid, "kpid changed".
    log_columns = "seq, pk, kpid"     # what a resolution reads of the change log
    kpid_min = "min(old)"
    kpid_max = "max(old)"
    new_kpid = ""
    differs = "old IS NOT kpid"
    mark = "?"

    def __init__(self, conn, spec: ResolutionSpec):
        self.conn, self.spec = conn, spec
        self.result = ResolutionResult()
        self.statistics = True      # whether `analyze` analyzes (not the small tables of a subset)
        self._started = clock.monotonic()
        self.fingerprint = changes.spec_fingerprint(spec.identifiers, spec.columns, spec.primary_sources,
                                                    postgres_type)

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

    def begin_snapshot(self) -> None:
        """A transaction whose reads all see one snapshot."""
        raise NotImplementedError

    def begin_publish(self) -> None:
        """A write transaction in which no import commits (they wait)."""
        raise NotImplementedError

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

    def members_sql(self, kpids: str) -> str:
        """The `pk`s listed by the profiles whose kpids are in table `kpids`."""
        raise NotImplementedError

    def prefer_indexes(self) -> None:
        """An incremental resolution looks up a few rows of large tables: by index."""

    def index_names(self) -> list[str]:
        raise NotImplementedError

    def lap(self, name: str) -> None:
        now = clock.monotonic()
        self.result.seconds[name] = round(now - self._started, 3)
        self._started = now
        log.debug("identity resolution (%s): %s done", self.result.kind, name)

    # -- the algorithm
    def run(self, full: bool = False) -> ResolutionResult:
        """Resolves incrementally when it can (see the module's docstring), fully when `full` is
        true or when it must."""
        previous, known = self.rows(f"SELECT spec, identities FROM {changes.STATE}")[0]
        self.commit()
        if full:
            reason = "requested"
        elif previous is None:
            reason = "no complete resolution before"
        elif previous != self.fingerprint:
            reason = "identifiers, primary sources or profile columns changed"
        else:
            reason = ""
        limit = changes.incremental_limit(known)
        self.begin_snapshot()
        self.execute(f"CREATE TEMP TABLE ir_log AS SELECT {self.log_columns} FROM {changes.CHANGES}")
        if not reason:
            anything, distinct = self.rows("SELECT count(*) - count(pk), count(DISTINCT pk) FROM ir_log")[0]
            if anything:
                reason = "bulk changes"
            elif distinct > limit:
                reason = "many changes"
        if not reason:
            self.result.kind = INCREMENTAL
            self.prefer_indexes()
            reason = self.expand(limit)
            self.lap("expand")
        if reason:
            self.result.kind, self.result.reason = FULL, reason
            self.compute()
            self.commit()
            self.lap("compute")
            self.publish()
            self.lap("publish")
            self.write_back()
            self.lap("write_back")
            self.identifier_indexes()
            self.finish()
            self.lap("finish")
        else:
            self.compute(subset=True)
            self.create_profiles_table("ir_prof")
            self.build_profiles("ir_prof", "ir_rows")
            self.result.profiles = self.scalar("SELECT count(*) FROM ir_prof")
            self.commit()
            self.lap("compute")
            self.publish_changes()
            self.lap("publish")
        return self.result

    def expand(self, limit: int) -> str:
        """`ir_set`: the changed identities, the members of the profiles they were in (`ir_tk`: their
        kpids) and, transitively, every identity linked to them with its whole profile; `ir_rows`:
        their rows, each read once from krenalis_identities. Returns why to resolve fully
        instead ("" when done).

        Lookups start from the changed identities only: an unchanged identity was linked, and
        still is, only to members of its own profile (profiles were whole components) or to a
        changed identity. For the same reason the second round, from what the first added, finds
        nothing in a consistent warehouse; the loop still runs to the fixed point.

        Its temporary tables are not analyzed: the planner's estimate from their size is enough
        to probe the large tables by index (and ANALYZE would cost as much as the probes)."""
        identifiers = self.spec.identifiers
        self.read_changed_rows()
        self.index("ir_rows", "_pk")
        self.execute("CREATE TEMP TABLE ir_new AS SELECT _pk AS pk FROM ir_rows")
        self.execute("CREATE TEMP TABLE ir_tk AS SELECT kpid FROM ir_log WHERE kpid IS NOT NULL "
                     "UNION SELECT _kpid FROM ir_rows WHERE _kpid IS NOT NULL")
        self.index("ir_tk", "kpid")
        self.execute("CREATE TEMP TABLE ir_set (pk integer PRIMARY KEY)")
        self.execute(f"INSERT INTO ir_set SELECT _pk FROM ir_rows UNION {self.members_sql('ir_tk')}")
        front = "".join(f", {_q(name)} AS i{n}" for n, name in enumerate(identifiers, 1))
        # The lookups never return an identity of the front itself (nor fetch its row: its page
        # holds the row version the import replaced, and visiting it would prune the page then,
        # writing it to the WAL): rule 1 skips its own pipeline, rule 2 reads the identifier's
        # index, on (value, `_pk`), below and above its `_pk`.
        links = []
        if self._connections_with_pipelines():     # rule 1
            links.append("SELECT u._pk AS pk, u._kpid AS kpid FROM ir_front f JOIN ir_pipes p ON p.c = f.c "
                         "AND p.p <> f.pipe JOIN krenalis_identities u ON u._pipeline = p.p "
                         "AND u._identity_id = f.uid AND u._is_anonymous = f.anon")
        for j, name in enumerate(identifiers, 1):   # rule 2: equal on j, no common identifier before
            blocked = ""
            if j > 1:
                mine = self._mask(j, lambda i: f"f.i{i}")
                theirs = self._mask(j, lambda i: f"u.{_q(identifiers[i - 1])}")
                blocked = f" WHERE ({mine} & {theirs}) = 0"
            for side in ("<", ">"):
                links.append(f"SELECT u._pk AS pk, u._kpid AS kpid FROM ir_front f JOIN krenalis_identities u "
                             f"ON u.{_q(name)} = f.i{j} AND u._pk {side} f.pk{blocked}")
        while links and self.scalar("SELECT count(*) FROM ir_new"):
            if self.scalar("SELECT count(*) FROM ir_set") > limit:
                return "many changes"
            self.result.expansions += 1
            self.execute("CREATE TEMP TABLE ir_front AS SELECT _pk AS pk, _pipeline AS pipe, _connection AS c, "
                         f"_identity_id AS uid, _is_anonymous AS anon{front} FROM ir_rows "
                         "WHERE _pk IN (SELECT pk FROM ir_new)")
            self.execute("CREATE TEMP TABLE ir_link AS SELECT pk, kpid FROM (" + " UNION ".join(links) + ") l "
                         "WHERE NOT EXISTS (SELECT 1 FROM ir_set s WHERE s.pk = l.pk)")
            self.execute("CREATE TEMP TABLE ir_tknew AS SELECT DISTINCT kpid FROM ir_link l WHERE kpid IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM ir_tk t WHERE t.kpid = l.kpid)")
            self.execute("INSERT INTO ir_tk SELECT kpid FROM ir_tknew")
            self.execute("DROP TABLE ir_new")
            self.execute(f"CREATE TEMP TABLE ir_new AS SELECT pk FROM ir_link UNION {self.members_sql('ir_tknew')}")
            self.execute("DELETE FROM ir_new WHERE pk IN (SELECT pk FROM ir_set)")
            self.execute("INSERT INTO ir_set SELECT pk FROM ir_new")
            self._read_rows("ir_new")
            self.execute("DELETE FROM ir_new WHERE pk NOT IN (SELECT _pk FROM ir_rows)")
            for table in ("ir_front", "ir_link", "ir_tknew"):
                self.execute(f"DROP TABLE {table}")
        self.execute("DROP TABLE ir_new")
        if self.scalar("SELECT count(*) FROM ir_set") > limit:
            return "many changes"
        # The members of the profiles the changes were in, when not changed themselves.
        self._read_rows("ir_set")
        return ""

    def read_changed_rows(self) -> None:
        """`ir_rows`: the current rows of the identities of the log (those that exist)."""
        self.execute("CREATE TEMP TABLE ir_rows AS SELECT i.* FROM krenalis_identities i "
                     "WHERE i._pk IN (SELECT pk FROM ir_log)")

    def _read_rows(self, pks: str) -> None:
        """Adds to `ir_rows` the identities of table `pks` it lacks (those that exist)."""
        self.execute(f"CREATE TEMP TABLE ir_missing AS SELECT pk FROM {pks} p "
                     "WHERE NOT EXISTS (SELECT 1 FROM ir_rows r WHERE r._pk = p.pk)")
        self.execute("INSERT INTO ir_rows SELECT i.* FROM ir_missing m JOIN krenalis_identities i ON i._pk = m.pk")
        self.execute("DROP TABLE ir_missing")

    def _connections_with_pipelines(self) -> bool:
        """`ir_pipes` (p, c): the pipelines of the connections that have identities from several
        (rule 1 links only those); whether there are any. One index probe per pipeline."""
        self.execute("CREATE TEMP TABLE ir_pipes AS WITH RECURSIVE v(p) AS (SELECT min(_pipeline) FROM krenalis_identities "
                     "UNION ALL SELECT (SELECT min(_pipeline) FROM krenalis_identities WHERE _pipeline > v.p) FROM v "
                     "WHERE v.p IS NOT NULL) SELECT p, (SELECT _connection FROM krenalis_identities i "
                     "WHERE i._pipeline = v.p LIMIT 1) AS c FROM v WHERE p IS NOT NULL")
        self.execute("DELETE FROM ir_pipes WHERE c IN (SELECT c FROM ir_pipes GROUP BY c HAVING count(*) = 1)")
        return self.scalar("SELECT count(*) FROM ir_pipes") > 0

    def compute(self, subset: bool = False) -> None:
        """Components and kpids (`ir_final`, `ir_changes`) of every identity, or of those of
        `ir_rows` (then the temporary tables are small: no statistics needed)."""
        self.statistics = not subset
        identifiers = self.spec.identifiers
        selected = "".join(f", i.{_q(name)} AS i{n}" for n, name in enumerate(identifiers, 1))
        source = "ir_rows i" if subset else "krenalis_identities i"
        self.execute("CREATE TEMP TABLE ir_ids AS SELECT i._pk AS pk, i._pipeline AS p, i._connection AS c, "
                     f"i._identity_id AS uid, i._is_anonymous AS anon, i._kpid AS old{selected} FROM {source}")
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
        if subset:  # the profiles to replace: every one a regrouped identity was in
            self.execute("INSERT INTO ir_tk SELECT DISTINCT old FROM ir_final f WHERE old IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM ir_tk t WHERE t.kpid = f.old)")

    def _mask(self, j: int, column) -> str:
        """Bits of the identifiers of higher priority than j that are set; column(i) is the SQL of
        identifier i."""
        return "(" + " | ".join(f"(CASE WHEN {column(i)} IS NULL THEN 0 ELSE {1 << (i - 1)} END)"
                                for i in range(1, j)) + ")"

    def _identifier_groups(self, j: int) -> None:
        v = f"i{j}"
        if j == 1:
            self.execute(f"INSERT INTO ir_m SELECT s.pk, d.rep FROM (SELECT {v} AS v, min(pk) AS rep FROM ir_ids "
                         f"WHERE {v} IS NOT NULL GROUP BY {v} HAVING count(*) > 1) d JOIN ir_ids s ON s.{v} = d.v")
            return
        mask = self._mask(j, lambda i: f"s.i{i}")
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
        """A full resolution's profiles in place of all the others (the state marked incomplete)."""
        raise NotImplementedError

    def publish_changes(self) -> None:
        """An incremental resolution's whole result, in one transaction: the profiles it regrouped
        replace those they were (`ir_tk`), kpids, and the log."""
        self.begin_publish()
        try:
            self.execute("DELETE FROM krenalis_profiles WHERE _kpid IN (SELECT kpid FROM ir_tk)")
            self.execute("INSERT INTO krenalis_profiles SELECT * FROM ir_prof")
            low, high = self.rows("SELECT min(pk), max(pk) FROM ir_changes")[0]
            if low is not None:
                self.result.kpids_written = self.update_kpids(low, high)
            self.consume_log()
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def finish(self) -> None:
        """A full resolution's end: the log it read is consumed and the state is complete."""
        self.begin_publish()
        try:
            self.consume_log()
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def consume_log(self) -> None:
        """In the publishing transaction: log rows committed since the snapshot about identities
        regrouped here get their new kpid; the rows read are deleted; the state records the
        fingerprint and how many identities there are now."""
        table = changes.CHANGES
        late = self.scalar(f"SELECT count(*) FROM {table}") > self.scalar("SELECT count(*) FROM ir_log")
        if late:
            self.execute(f"UPDATE {table} SET kpid = f.kpid FROM ir_final f WHERE f.pk = {table}.pk "
                         f"AND NOT EXISTS (SELECT 1 FROM ir_log l WHERE l.seq = {table}.seq)")
        if self.result.kind == FULL:
            identities = self.result.identities
        else:   # those imported since the last resolution, less those it saw that are gone
            identities = self.scalar(
                f"SELECT identities + (SELECT count(*) FROM ir_ids WHERE old IS NULL) - (SELECT count(DISTINCT pk) "
                "FROM ir_log l WHERE kpid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ir_ids i WHERE i.pk = l.pk)) "
                f"FROM {changes.STATE}")
        if late:
            self.execute(f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM ir_log)")
        else:
            self.empty_log()
        self.execute(f"UPDATE {changes.STATE} SET spec = {self.mark}, identities = {self.mark}",
                     (self.fingerprint, max(0, identities)))

    def identifier_indexes(self) -> None:
        """An index per identifier, on (identifier, `_pk`) (the expansion's lookups); those of former
        identifiers, or of another shape, go."""
        wanted = {identifier_index(name): name for name in self.spec.identifiers}
        existing = {name for name in self.index_names() if name.startswith(IDENTIFIER_INDEX)}
        if existing == set(wanted):
            return
        self.begin_write()
        try:
            for name in sorted(existing - set(wanted)):
                self.execute(f"DROP INDEX {name}")
            for name, column in wanted.items():
                self.execute(f"CREATE INDEX IF NOT EXISTS {name} ON krenalis_identities "
                             f"({identifier_index_columns(column)})")
            self.commit()
        except BaseException:
            self.rollback()
            raise
        self.lap("identifier_indexes")

    def empty_log(self) -> None:
        """Deletes every row of the change log (in the publishing transaction)."""
        self.execute(f"DELETE FROM {changes.CHANGES}")

    def create_profiles_table(self, table: str) -> None:
        """A temporary table like krenalis_profiles."""
        raise NotImplementedError

    def build_profiles(self, table: str, source: str) -> None:
        """Inserts into `table` the profile of each cluster of `ir_final`, from the identity rows
        of `source` (krenalis_identities, or the temporary copy of those needed)."""
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
    differs = "old IS DISTINCT FROM kpid"
    mark = "%s"
    log_columns = "seq, pk, kpid, tid"

    def kpid_of(self, text):
        return f"{text}::uuid"

    def __init__(self, conn, spec: ResolutionSpec):
        super().__init__(conn, spec)
        self.cur = conn.cursor()
        self.pending: list[str] = []    # statements whose results nobody reads, not sent yet

    # Round trips: a statement whose result is not read waits, and goes with the next one that is
    # read (or the commit) in one multi-statement query. An incremental resolution is a few dozen
    # small statements; on a busy server each round trip costs milliseconds, as much as their work.
    # An error surfaces at that next round trip, inside the same transaction: nothing else differs.
    def execute(self, sql, params=()):
        self.pending.append(self.cur.mogrify(sql, params).decode() if params else sql)

    def send(self, sql=None, params=()):
        """Sends the pending statements, then `sql` (whose result the cursor then holds)."""
        if sql is not None:
            self.execute(sql, params)
        if self.pending:
            batch, self.pending = self.pending, []
            self.cur.execute(";\n".join(batch))

    def scalar(self, sql, params=()):
        self.send(sql, params)
        return self.cur.fetchone()[0]

    def rows(self, sql, params=()):
        self.send(sql, params)
        return self.cur.fetchall()

    def commit(self):
        self.send()
        self.conn.commit()

    def rollback(self):
        self.pending = []
        self.conn.rollback()

    def begin_snapshot(self):
        self.commit()
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def begin_publish(self):
        # Writers take ROW EXCLUSIVE on the log in the statement that changes identities: they
        # wait here before touching any identity, and this waits for those in flight.
        self.execute(f"LOCK TABLE {changes.CHANGES} IN EXCLUSIVE MODE")

    def analyze(self, table):
        if self.statistics:
            self.execute(f"ANALYZE {table}")

    def is_transient(self, exc):
        import psycopg2.errors

        return isinstance(exc, (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure,
                                psycopg2.errors.LockNotAvailable))

    def members_sql(self, kpids):
        return f"SELECT unnest(p._identities) AS pk FROM krenalis_profiles p JOIN {kpids} t ON t.kpid = p._kpid"

    def read_changed_rows(self):
        # Where the log says each row version is (see warehouse.changes), when that version is
        # still the identity's current one (the only one a TID scan can find with its `_pk`);
        # the others by primary key.
        self.execute("CREATE TEMP TABLE ir_rows AS SELECT i.* FROM (SELECT DISTINCT tid, pk FROM ir_log "
                     "WHERE tid IS NOT NULL) l JOIN krenalis_identities i ON i.ctid = l.tid AND i._pk = l.pk")
        self.execute("CREATE TEMP TABLE ir_missing AS SELECT DISTINCT pk FROM ir_log l WHERE pk IS NOT NULL "
                     "AND NOT EXISTS (SELECT 1 FROM ir_rows r WHERE r._pk = l.pk)")
        self.execute("INSERT INTO ir_rows SELECT i.* FROM ir_missing m JOIN krenalis_identities i ON i._pk = m.pk")
        self.execute("DROP TABLE ir_missing")

    def prefer_indexes(self):
        # The warehouse's hot pages are cached: with the default cost of a random read (4x a
        # sequential one), a thousand index probes look dearer than scanning 100,000 rows.
        self.execute("SET random_page_cost = 1.1")

    def index_names(self):
        names = [row[0] for row in self.rows("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                             "AND tablename = 'krenalis_identities'")]
        self.commit()
        return names

    def run(self, full=False):
        for statement in POSTGRESQL_SESSION:
            self.execute(statement)
        # One resolution at a time per warehouse schema, whatever the metadata database says.
        if not self.scalar(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK})"):
            self.commit()
            raise ResolutionBusy("another identity resolution is executing on this data warehouse")
        self.commit()
        try:
            return super().run(full)
        finally:
            # Closing the connection would release it too, but only once the server notices.
            if not self.conn.closed:
                self.rollback()
                self.execute(f"SELECT pg_advisory_unlock({ADVISORY_LOCK})")
                self.commit()

    def update_kpids(self, low, high):
        self.send("UPDATE krenalis_identities i SET _kpid = c.kpid FROM ir_changes c WHERE c.pk = i._pk "
                  "AND c.pk BETWEEN %s AND %s AND i._pk BETWEEN %s AND %s", (low, high, low, high))
        return self.cur.rowcount

    def write_back(self):
        """Most kpids changed (typically the first resolution after a big import): rewriting the
        table is several times faster than updating every row, which PostgreSQL does as a new
        row version plus an entry in each index. Writes wait meanwhile (reads do not); if the
        table cannot be locked soon, or a deadlock occurs, the row updates are used instead."""
        import psycopg2.errors

        changes_count = self.scalar("SELECT count(*) FROM ir_changes")
        self.commit()
        if changes_count >= REWRITE_MIN_ROWS and changes_count >= REWRITE_FRACTION * self.result.identities:
            try:
                self.rewrite_identities()
                self.result.kpids_written = changes_count
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
        # LIKE copies neither the storage options (fillfactor 70: room for the HOT updates of the
        # next write-backs and imports) nor the indexes (made after the copy, faster).
        options = self.scalar(f"SELECT reloptions FROM pg_class WHERE oid = '{table}'::regclass")
        storage = f" WITH ({', '.join(options)})" if options else ""
        self.execute(f"DROP TABLE IF EXISTS {next_table}")
        self.execute(f"CREATE TABLE {next_table} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES){storage}")
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

    def empty_log(self):
        # Writers wait for the publishing transaction anyway; TRUNCATE is atomic with it, and
        # costs nothing per row (and keeps the sequence of `seq` going).
        self.execute(f"TRUNCATE {changes.CHANGES}")

    def create_profiles_table(self, table):
        self.execute(f"CREATE TEMP TABLE {table} (LIKE krenalis_profiles INCLUDING DEFAULTS)")

    def build_profiles(self, table, source):
        spec = self.spec
        scalars = [c for c in spec.columns if c.type.kind != "array"]
        arrays = [c for c in spec.columns if c.type.kind == "array"]
        names = [_q(c.name) for c in spec.columns]
        insert_columns = "_kpid, _identities, _updated_at" + "".join(", " + n for n in names)
        # Profiles of one identity: its values as they are.
        self.execute(f"INSERT INTO {table} ({insert_columns}) SELECT f.kpid, ARRAY[i._pk], i._updated_at"
                     + "".join(", i." + n for n in names)
                     + f" FROM ir_final f JOIN {source} i ON i._pk = f.pk WHERE f.n = 1")
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
        self.execute(f"INSERT INTO {table} ({insert_columns}) SELECT {', '.join(outer)} FROM ("
                     f"SELECT {', '.join(inner)} FROM ir_final f JOIN {source} i ON i._pk = f.pk "
                     f"WHERE f.n > 1 WINDOW {window_sql}) s WHERE rn = 1")
        for column in arrays:
            name = _q(column.name)
            self.execute(
                f"UPDATE {table} p SET {name} = u.arr FROM ("
                "SELECT kpid, COALESCE(array_agg(e ORDER BY ua DESC, pk DESC, n) FILTER (WHERE n IS NOT NULL), "
                f"'{{}}'::{postgres_type(column.type)}) AS arr FROM ("
                "SELECT DISTINCT ON (f.kpid, x.e) f.kpid, x.e, x.n, i._updated_at AS ua, i._pk AS pk "
                f"FROM ir_final f JOIN {source} i ON i._pk = f.pk AND f.n > 1 "
                f"LEFT JOIN LATERAL unnest(i.{name}) WITH ORDINALITY AS x(e, n) ON true WHERE i.{name} IS NOT NULL "
                "ORDER BY f.kpid, x.e, i._updated_at DESC, i._pk DESC, x.n) d GROUP BY kpid) u "
                "WHERE p._kpid = u.kpid")

    def publish(self):
        self.execute("DROP TABLE IF EXISTS krenalis_profiles_next")
        self.execute("CREATE TABLE krenalis_profiles_next (LIKE krenalis_profiles INCLUDING DEFAULTS)")
        self.build_profiles("krenalis_profiles_next", "krenalis_identities")
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
        self.execute(profiles_view_sql(self.spec.columns))
        self.execute(f"UPDATE {changes.STATE} SET spec = NULL")   # until the kpids are written back
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

    def begin_snapshot(self):
        self.commit()
        self.conn.execute("BEGIN")

    def begin_publish(self):
        self.begin_write()

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

    def members_sql(self, kpids):
        return (f"SELECT j.value AS pk FROM krenalis_profiles p JOIN {kpids} t ON t.kpid = p._kpid, "
                "json_each(p._identities) j")

    def index_names(self):
        return [row[0] for row in self.rows("SELECT name FROM sqlite_master WHERE type = 'index' "
                                            "AND tbl_name = 'krenalis_identities'")]

    def run(self, full=False):
        self.execute("PRAGMA temp_store = MEMORY")
        self.execute("PRAGMA cache_size = -262144")
        return super().run(full)

    def update_kpids(self, low, high):
        return self.execute("UPDATE krenalis_identities SET _kpid = c.kpid FROM ir_changes c "
                            "WHERE c.pk = krenalis_identities._pk AND c.pk BETWEEN ? AND ? "
                            "AND krenalis_identities._pk BETWEEN ? AND ?", (low, high, low, high)).rowcount

    def create_profiles_table(self, table):
        ddl = self.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'krenalis_profiles'")
        self.execute(re.sub(r'^CREATE TABLE\s+"?krenalis_profiles"?', f"CREATE TEMP TABLE {table}", ddl))

    def build_profiles(self, table, source):
        spec = self.spec
        names = [_q(c.name) for c in spec.columns]
        insert_columns = "_kpid, _identities, _updated_at" + "".join(", " + n for n in names)
        self.execute(f"INSERT INTO {table} ({insert_columns}) SELECT f.kpid, json_array(i._pk), "
                     "i._updated_at" + "".join(", i." + n for n in names)
                     + f" FROM ir_final f JOIN {source} i ON i._pk = f.pk WHERE f.n = 1")
        inner = ["f.kpid AS kpid", "row_number() OVER (PARTITION BY f.kpid ORDER BY i._updated_at DESC, i._pk DESC) AS rn",
                 "json_group_array(i._pk) OVER (PARTITION BY f.kpid) AS pks",
                 "max(i._updated_at) OVER (PARTITION BY f.kpid) AS updated_at"]
        outer = ["kpid", "pks", "updated_at"]
        for n, column in enumerate(spec.columns):
            name = _q(column.name)
            inner.append(f"first_value(i.{name}) OVER (PARTITION BY f.kpid ORDER BY i.{name} IS NULL, "
                         f"{self._window_orders(column)}) AS a{n}")
            outer.append(f"a{n}")
        self.execute(f"INSERT INTO {table} ({insert_columns}) SELECT {', '.join(outer)} FROM ("
                     f"SELECT {', '.join(inner)} FROM ir_final f JOIN {source} i ON i._pk = f.pk "
                     "WHERE f.n > 1) WHERE rn = 1")
        for column in spec.columns:
            if column.type.kind != "array":
                continue
            name = _q(column.name)
            # `->` keeps each element's exact JSON text (numbers included).
            element = f"(i.{name} -> j.fullkey)"
            self.execute(
                f"UPDATE {table} SET {name} = u.arr FROM ("
                "SELECT kpid, json_group_array(json(e)) AS arr FROM ("
                "SELECT kpid, e FROM ("
                f"SELECT f.kpid AS kpid, {element} AS e, i._updated_at AS ua, i._pk AS pk, j.id AS k, "
                f"row_number() OVER (PARTITION BY f.kpid, {element} ORDER BY i._updated_at DESC, i._pk DESC, j.id) AS r "
                f"FROM ir_final f JOIN {source} i ON i._pk = f.pk AND f.n > 1, json_each(i.{name}) j "
                f"WHERE i.{name} IS NOT NULL) WHERE r = 1 ORDER BY kpid, ua DESC, pk DESC, k) GROUP BY kpid) u "
                f"WHERE {table}._kpid = u.kpid")

    def publish(self):
        self.begin_write()
        try:
            self.execute("DELETE FROM krenalis_profiles")
            self.build_profiles("krenalis_profiles", "krenalis_identities")
            self.result.profiles = self.scalar("SELECT count(*) FROM krenalis_profiles")
            self.execute(f"UPDATE {changes.STATE} SET spec = NULL")   # until the kpids are written back
            self.commit()
        except BaseException:
            self.rollback()
            raise
