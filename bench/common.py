"""What every scenario uses: PostgreSQL helpers, child processes measured one by one, the machine.

Pure Python plus psycopg2; nothing here imports Django, so child processes stay small.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent            # the product measured: a snapshot of the repository (see run.py)
# Where results, profiles and bench/.venv live: the bench directory of the real repository.
OUT_DIR = Path(os.environ.get("KRENALIS_BENCH_OUT", BENCH_DIR))
PYTHON = str(OUT_DIR.parent / ".venv" / "bin" / "python")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# KRENALIS_BENCH_NAME: another name for the bench's databases, so that two benches on one server
# (two work trees) never drop each other's.
META_DB = os.environ.get("KRENALIS_BENCH_NAME", "krenalis_bench")
DB_PREFIX = META_DB + "_"     # every database the bench creates starts with this
MIB = 1024 * 1024


def pg_connect(dbname: str, *, autocommit: bool = True):
    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = autocommit
    return conn


def pg_execute(dbname: str, *statements: str, fetch: bool = False):
    conn = pg_connect(dbname)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if fetch else None
    finally:
        conn.close()


def create_database(name: str) -> str:
    assert name.startswith(DB_PREFIX) or name == META_DB, name
    drop_database(name)
    pg_execute("postgres", f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    assert name.startswith(DB_PREFIX) or name == META_DB, name
    pg_execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


@dataclass
class Measure:
    """One child process: its own timing report (JSON on the last stdout line) and its peak RSS."""

    label: str
    rows: int
    seconds: float                 # the work itself, as timed inside the child
    process_seconds: float         # the whole child process, interpreter start included
    peak_rss: int                  # bytes
    report: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0       # the child's own CPU time, user + system (whole process)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: Linux carries a process's ru_maxrss across exec, and subprocess
    starts children with vfork, so a child's ru_maxrss would start at the parent's peak (the
    orchestrator's Django, ~75 MiB) however small the child is."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(label: str, rows: int, argv: list[str], *, env: dict | None = None) -> Measure:
    """Runs `argv` as a child process and measures that process alone.

    The child prints a JSON object on its last stdout line with at least "seconds" (the work it
    timed) and "peak_rss" (peak_rss() at its end); a non-zero exit or an "error" in that object
    fails the bench. os.wait4's ru_maxrss is kept in the report as "ru_maxrss" for comparison only
    (see peak_rss for why it overstates)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO_DIR)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"{label}: child exited with {child.returncode}\n{stdout[-3000:]}\n{stderr[-3000:]}")
    report = json.loads(lines[-1])
    if report.get("error"):
        raise RuntimeError(f"{label}: {report['error']}\n{stderr[-3000:]}")
    report["ru_maxrss"] = usage.ru_maxrss * 1024
    return Measure(label, rows, report["seconds"], elapsed, report["peak_rss"], report,
                   usage.ru_utime + usage.ru_stime)


def child_env(**extra) -> dict:
    env = dict(os.environ)
    # The bench's sources and warehouses are on this machine: the product may connect to loopback.
    env.setdefault("KRENALIS_DATABASE_ALLOWED_HOSTS", "127.0.0.1")
    env["PYTHONPATH"] = str(REPO_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def machine_description() -> dict:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    mem_kib = first("/proc/meminfo", "MemTotal").split()[0]
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    version = pg_execute("postgres", "SELECT version()", fetch=True)[0][0]
    settings = dict(pg_execute("postgres", "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                                           "('shared_buffers', 'work_mem', 'max_wal_size', 'synchronous_commit', "
                                           "'fsync', 'wal_level')", fetch=True))
    return {
        "nproc": nproc,
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem_kib) / 1024 / 1024:.1f} GiB",
        "postgresql": version.split(" on ")[0],
        "postgresql settings": ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "psycopg2": psycopg2.__version__.split()[0],
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_flush(*args) -> None:
    print(*args, flush=True)
    sys.stdout.flush()
