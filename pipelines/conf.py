"""Krenalis' own settings, in one place: their defaults here, a deployment's values in
`settings.KRENALIS` (read from KRENALIS_<NAME> environment variables by krenalis/settings.py), and
one way to read them, `knobs.NAME`, at each use, so that a test or a deployment may change them
(as Django REST framework's `api_settings`).

Importing this module imports no Django (the engine reads its defaults here)."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULTS = {
    # seconds a source query may run before the database cancels it
    "SOURCE_STATEMENT_TIMEOUT": 300,
    # seconds to wait when connecting to a source or warehouse database
    "CONNECT_TIMEOUT": 10,
    # transformation languages that are switched on
    "TRANSFORMATION_LANGUAGES": ["JavaScript", "Python"],
    # limits of user transformation functions (per batch of rows, and per runtime)
    "FUNCTION_BATCH_TIMEOUT": 10.0,
    "FUNCTION_MEMORY_MB": 256,
    # connections a run writes a PostgreSQL warehouse with, in parallel (rows split by user ID)
    "WAREHOUSE_WRITE_CONNECTIONS": 2,
    # rows a run reads from its source, normalizes and writes at a time
    "RUN_BATCH_SIZE": 5000,
    # Query previews run while their client waits, on the web server: seconds one may take (the
    # source's statement timeout, and then the query is interrupted), bytes of one value and of all
    # the rows (values beyond are cut, rows beyond are left out), and how many run at once in one web
    # process and, in one process, for one workspace (a preview beyond is refused: 503 / 429).
    "PREVIEW_TIMEOUT": 30,
    "PREVIEW_MAX_VALUE_BYTES": 64 * 1024,
    "PREVIEW_MAX_BYTES": 4 * 1024 * 1024,
    "PREVIEW_CONCURRENCY": 4,
    "PREVIEW_CONCURRENCY_PER_WORKSPACE": 2,
    # where embedded (SQLite) warehouses keep their files (settings: var/warehouses)
    "SQLITE_WAREHOUSE_DIR": "warehouses",
    # the only directory SQLite source connections may read files from (settings: var/sources)
    "SQLITE_SOURCE_DIR": "sources",
    # seconds between two heartbeats of a live run's worker
    "HEARTBEAT_SECONDS": 5.0,
    # a live run whose worker has not beaten for this long is ended as failed; the pipeline can run again
    "RUN_DEAD_AFTER_SECONDS": 60.0,
    # seconds between two sweeps of dead runs by beat
    "SWEEP_DEAD_RUNS_SECONDS": 30.0,
    # hosts that source and warehouse database connections may use: names (exact), IP addresses,
    # CIDR networks, "public" (any public address) or "*" (any address), comma-separated. Empty:
    # public addresses only. A name not listed is resolved, and each of its addresses checked.
    # See pipelines/connectors/network.py.
    "DATABASE_ALLOWED_HOSTS": [],
    # ports they may use: numbers and ranges, e.g. "5432,3306" or "1024-65535"
    "DATABASE_ALLOWED_PORTS": "1-65535",
    # admin logins: failed attempts allowed per username and per client address within
    # LOGIN_LOCKOUT_SECONDS of the first; past them, logins are refused for LOGIN_LOCKOUT_SECONDS
    "LOGIN_FAILURES_PER_USER": 5,
    "LOGIN_FAILURES_PER_ADDRESS": 20,
    "LOGIN_LOCKOUT_SECONDS": 900,
}

# Set by the settings alone: where embedded warehouses live, and how a run batches its rows.
_NOT_FROM_ENVIRONMENT = frozenset({"SQLITE_WAREHOUSE_DIR", "RUN_BATCH_SIZE"})
_DIRECTORIES = frozenset({"SQLITE_WAREHOUSE_DIR", "SQLITE_SOURCE_DIR"})


def from_environment(environ: Mapping[str, str], var_dir) -> dict:
    """settings.KRENALIS: each default, or its KRENALIS_<NAME> variable read as the default's type
    (a list is comma-separated); the directories are under `var_dir` unless set."""
    values = {}
    for name, default in DEFAULTS.items():
        text = None if name in _NOT_FROM_ENVIRONMENT else environ.get(f"KRENALIS_{name}")
        if name in _DIRECTORIES:
            values[name] = text if text is not None else str(var_dir / default)
        elif text is None:
            values[name] = list(default) if isinstance(default, list) else default
        elif isinstance(default, list):
            values[name] = [item.strip() for item in text.split(",") if item.strip()]
        else:
            values[name] = type(default)(text)
    return values


class _Knobs:
    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(f"Krenalis has no setting {name}")
        from django.conf import settings
        return getattr(settings, "KRENALIS", {}).get(name, DEFAULTS[name])


knobs = _Knobs()
