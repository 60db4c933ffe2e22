"""The change log of `krenalis_identities`: what identity resolution has not seen yet.

Every statement that inserts, changes or deletes identities records it in `krenalis_changes`, in
the same transaction, so that the next resolution recomputes only the profiles those identities
belong to (warehouse.resolution). A row is

* `(seq, pk, NULL)`: identity `pk` was inserted or changed (its row holds its current `_kpid`);
* `(seq, pk, kpid)`: identity `pk` was deleted; `kpid` is the profile it was in (NULL if none);
* `(seq, NULL, NULL)`: *anything* may have changed (a bulk write, a column unset, a schema
  change): the next resolution is a full one.

On PostgreSQL a row about an inserted or changed identity also has `tid`, where the row version it
wrote is (its `ctid`): the resolution reads the identity there, a few pages at the end of the
table, rather than through the primary key, which visits the page of each replaced version too
(and prunes it, a full-page write after each checkpoint). The version there may be gone (changed
again, moved by a resolution's kpid write-back or a rewrite): the resolution checks that the row
it finds there is the identity's, and looks the others up by primary key.

A resolution reads the log in the snapshot it computes from and, when it publishes, deletes
exactly the rows it read: a row committed meanwhile, whatever its `seq`, stays for the next one.

`krenalis_resolution_state` (one row) says what the last resolution left: `spec`, the fingerprint
of what it resolved with (identifiers, columns, primary sources; NULL while none has completed,
or while a full one is publishing), and `identities`, how many there were. An incremental
resolution needs the same fingerprint.

The one rule for code that changes identities: go through these helpers (or the backends'
`delete_pipeline_identities`, `delete_connection_identities`, which use them), never a bare
DELETE or UPDATE of `krenalis_identities`.
"""
from __future__ import annotations

import json

CHANGES = "krenalis_changes"
STATE = "krenalis_resolution_state"

# A resolution is incremental while the identities it has to regroup are at most this share of
# those the last one saw (or at most INCREMENTAL_MIN_ROWS); beyond, a full one costs less.
INCREMENTAL_MAX_SHARE = 0.2
INCREMENTAL_MIN_ROWS = 10000

RECORD_ANYTHING = f"INSERT INTO {CHANGES} (pk) VALUES (NULL)"


def create_statements(platform: str) -> list[str]:
    """The tables (idempotent: also run on warehouses made before the change log existed)."""
    if platform == "PostgreSQL":
        return [f"CREATE TABLE IF NOT EXISTS {CHANGES} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "pk integer, kpid uuid, tid tid)",
                f"ALTER TABLE {CHANGES} ADD COLUMN IF NOT EXISTS tid tid",    # logs made before it existed
                f"CREATE TABLE IF NOT EXISTS {STATE} (id integer PRIMARY KEY CHECK (id = 1), spec text, "
                "identities bigint NOT NULL DEFAULT 0)",
                f"INSERT INTO {STATE} (id, identities) VALUES (1, 0) ON CONFLICT DO NOTHING"]
    changes = f"CREATE TABLE IF NOT EXISTS {CHANGES} (seq INTEGER PRIMARY KEY AUTOINCREMENT, pk INTEGER, kpid TEXT)"
    state = (f"CREATE TABLE IF NOT EXISTS {STATE} (id INTEGER PRIMARY KEY CHECK (id = 1), spec TEXT, "
             "identities INTEGER NOT NULL DEFAULT 0)")
    return [changes, state, f"INSERT INTO {STATE} (id, identities) VALUES (1, 0) ON CONFLICT DO NOTHING"]


def delete_statements(platform: str, where: str) -> list[str]:
    """The statements (one transaction) that delete the identities matching `where` (SQL over the
    columns of krenalis_identities, with the platform's parameter marks) and record each one with
    the profile it was in. Each statement takes the same parameters. The SQLite pair is exact
    inside its one write transaction."""
    if platform == "PostgreSQL":
        return [f"WITH d AS (DELETE FROM krenalis_identities WHERE {where} RETURNING _pk, _kpid) "
                f"INSERT INTO {CHANGES} (pk, kpid) SELECT _pk, _kpid FROM d"]
    return [f"INSERT INTO {CHANGES} (pk, kpid) SELECT _pk, _kpid FROM krenalis_identities WHERE {where}",
            f"DELETE FROM krenalis_identities WHERE {where}"]


def incremental_limit(identities: int) -> int:
    """How many identities an incremental resolution regroups at most, when the last resolution
    saw `identities`. It is also what a writer records one by one: past it, each of its writes
    records "anything changed" instead (the next resolution will be a full one anyway)."""
    return max(INCREMENTAL_MIN_ROWS, int(INCREMENTAL_MAX_SHARE * identities))


def spec_fingerprint(identifiers, columns, primary_sources, postgres_type) -> str:
    """What a resolution's result depends on besides the data: an incremental resolution continues
    only a previous one with the same fingerprint."""
    return json.dumps({"identifiers": list(identifiers),
                       "columns": [[c.name, c.type.kind, postgres_type(c.type)] for c in columns],
                       "primarySources": sorted([name, int(connection)] for name, connection in primary_sources.items())},
                      separators=(",", ":"))
