#!/usr/bin/env python
"""Import benchmark: the product's imports against plain SQL and dlt, side by side in one run.

    bench/setup_venv.sh && .venv/bin/python bench/run.py       # both sources, 100k and 1M rows
    .venv/bin/python bench/run.py --rows 100000 --repeat 3 --source postgresql --only d,e --profile

For each source, size and repetition, in fresh warehouses: (a) the SQL-only reference and (b) ours
with a mapping, alternated, into an empty then a filled warehouse; (d) an incremental run after 1 %
of the rows changed; (e) identity resolution of what (b) wrote (full, the first), the incremental
one after (d), and a full one of the same warehouse after it, and the profile freshness
(incremental run + its resolution, against full run + full resolution); (e′) identity resolution
of two pipelines whose identities share their emails, against the two imports; (c) ours with the equivalent
JavaScript and Python functions; (f) dlt's sql_database source, merging on the id; (g) Sling's load
into a table keyed on the id, alternated with (a) and (b). Each measure is
a child process with its own wall time and peak RSS. Results go to bench/results.md. Every
database it creates is named krenalis_bench_* and dropped at the end (unless --keep).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import product  # noqa: E402
from bench.common import (BENCH_DIR, DB_PREFIX, MIB, OUT_DIR, PYTHON, META_DB, REPO_DIR, Measure,  # noqa: E402
                          child_env, create_database, database_url, drop_database, machine_description, pg_execute,
                          print_flush, run_child)
from bench import scenarios  # noqa: E402
from bench.scenarios import SOURCES, Source  # noqa: E402

DLT_PYTHON = OUT_DIR / ".venv" / "bin" / "python"   # dlt lives in the bench's own venv (setup_venv.sh)
RSS_GOAL = 150 * MIB
# The targets (ratios of medians, per source and size).
GOALS = {"b/a": ("≤", 0.6), "b/g": ("≤", 1.0), "c/b": ("≤", 1.5), "d/b": ("≤", 0.05), "e/b": ("≤", 2.0), "b/f": ("≤", 0.5),
         "e incr/e full": ("≤", 0.05), "freshness": ("≤", 0.05)}
MEASURES = ("a", "b", "c", "d", "e", "f", "g")
# dlt's sql_database backends: its default (SQLAlchemy rows), and Arrow tables (the fastest it offers).
DLT_BACKENDS = {"sqlalchemy": "f", "pyarrow": "f′"}
SLING_PYTHON = DLT_PYTHON                           # Sling's wheel is in the same venv


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", choices=sorted(SOURCES),
                        help="source database to import from (repeatable; default: all)")
    parser.add_argument("--only", default=",".join(MEASURES),
                        help="comma-separated measures to take besides (a) and (b): c (functions), d (incremental), "
                             "e (identity resolution: (e) and (e′)), f (dlt, both backends; fp: its pyarrow backend "
                             "alone), g (Sling); default: all")
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated source sizes")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per size (medians are reported)")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, profile ours once more at the largest size with py-spy")
    parser.add_argument("--product", default="HEAD",
                        help="what to measure: a git commit (default HEAD: the committed product, so that other "
                             "people's unfinished edits cannot change it mid-run), or 'worktree' for the files as "
                             "they are now")
    parser.add_argument("--output", default=str(OUT_DIR / "results.md"))
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    return parser.parse_args(argv)


def snapshot(product: str) -> Path:
    """A private copy of the product to measure (the commit `product`, or the work tree as it is
    now) with this bench directory in it. Nothing is written to the repository or its .git."""
    snap = Path(tempfile.mkdtemp(prefix="krenalis-bench-"))
    if product == "worktree":
        files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO_DIR, check=True,
                               capture_output=True).stdout.decode().split("\0")
        for name in filter(None, files):
            source = REPO_DIR / name
            if source.is_file():
                (snap / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, snap / name)
    else:
        archive = subprocess.run(["git", "archive", "--format=tar", product], cwd=REPO_DIR, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
    shutil.rmtree(snap / "bench", ignore_errors=True)
    shutil.copytree(BENCH_DIR, snap / "bench", ignore=shutil.ignore_patterns(".venv", "profiles", "__pycache__",
                                                                            "results.md"))
    return snap


def product_description(product: str) -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=OUT_DIR.parent, capture_output=True, text=True).stdout.strip()

    if product == "worktree":
        return f"work tree of {git('rev-parse', '--short', 'HEAD')} with uncommitted changes as they were at the start"
    return f"commit {git('rev-parse', '--short', product)} ({git('log', '-1', '--format=%s', product)[:80]})"


def measure_reference(source: Source, source_db: str, warehouse_db: str, run_number: int, rows: int,
                      since: str | None = None) -> Measure:
    """The reference reading every row, or with `since` those an incremental run reads (`rows` of them)."""
    spec = source.reference_spec(db=source_db, warehouse_db=warehouse_db, run_number=run_number, since=since)
    measure = run_child("reference", rows, [PYTHON, str(BENCH_DIR / "child_reference.py"), json.dumps(spec)],
                        env=child_env())
    if measure.report.get("rows") != rows:
        raise RuntimeError(f"reference: {measure.report}, expected {rows} rows")
    return measure


def measure_ours(pipeline_id: int, rows: int, *, incremental: bool, expected: int | None = None) -> Measure:
    """One run of ours; `expected`: the rows it must finalize (default: all the source's)."""
    run_id = product.create_run(pipeline_id, incremental=incremental)
    wanted = rows if expected is None else expected
    measure = run_child("ours", wanted, [PYTHON, str(BENCH_DIR / "child_run.py"), str(run_id)],
                        env=child_env(DATABASE_URL=database_url(META_DB)))
    passed = measure.report.get("passed") or []
    if not passed or passed[-1] != wanted:
        raise RuntimeError(f"ours: {passed} rows passed, expected {wanted} finalized: {measure.report}")
    measure.peak_rss = max(measure.peak_rss, measure.report.get("children_peak_rss", 0))
    return measure


def measure_resolution(workspace_id: int, rows: int, *, profiles: int | None = None, full: bool = False,
                       kind: str = "Full") -> Measure:
    """One resolution of `kind` (`full`: asked to be full) that must regroup `rows` identities into
    `profiles` profiles written (default: one each)."""
    command = [PYTHON, str(BENCH_DIR / "child_resolve.py"), str(workspace_id)] + (["--full"] if full else [])
    measure = run_child("identity resolution", rows, command, env=child_env(DATABASE_URL=database_url(META_DB)))
    wanted = rows if profiles is None else profiles
    found = tuple(measure.report.get(key) for key in ("kind", "identities", "profiles"))
    if found != (kind, rows, wanted):
        raise RuntimeError(f"identity resolution: {measure.report}, expected {kind}, {rows} identities, {wanted} profiles")
    return measure


def combined(label: str, measures: list[Measure]) -> Measure:
    """Measures taken one after the other, as one: their times and rows added, the larger peak RSS."""
    return Measure(label=label, rows=sum(m.rows for m in measures), seconds=sum(m.seconds for m in measures),
                   process_seconds=sum(m.process_seconds for m in measures),
                   peak_rss=max(m.peak_rss for m in measures), cpu_seconds=sum(m.cpu_seconds for m in measures))


def measure_dlt(source: Source, source_db: str, dest_db: str, rows: int, pipelines_dir: str, backend: str) -> Measure:
    spec = {"source_url": source.sqlalchemy_url(source_db), "query": source.full_query(), "destination_db": dest_db,
            "dataset": "bench", "table": "users", "backend": backend, "pipelines_dir": pipelines_dir}
    measure = run_child("dlt", rows, [str(DLT_PYTHON), str(BENCH_DIR / "child_dlt.py"), json.dumps(spec)],
                        env=child_env())
    if measure.report.get("rows") != rows:
        raise RuntimeError(f"dlt: {measure.report}, expected {rows} rows")
    return measure


def measure_sling(source: Source, source_db: str, dest_db: str, rows: int, home: str) -> Measure:
    spec = {"source_url": source.sling_url(source_db), "query": source.full_query(), "destination_db": dest_db,
            "table": "users", "home": home}
    measure = run_child("sling", rows, [str(SLING_PYTHON), str(BENCH_DIR / "child_sling.py"), json.dumps(spec)],
                        env=child_env())
    if measure.report.get("rows") != rows:
        raise RuntimeError(f"sling: {measure.report}, expected {rows} rows")
    return measure


def count_rows(db: str, table: str) -> int:
    return pg_execute(db, f"SELECT count(*) FROM {table}", fetch=True)[0][0]


class Size:
    """The measures of one source and size, one repetition at a time, each in a fresh warehouse."""

    def __init__(self, source: Source, rows: int, only: set[str], results: list):
        self.source, self.rows, self.only, self.results = source, rows, only, results

    def record(self, rep: int, key: str, measure: Measure) -> None:
        self.results.append({"source": self.source.name, "rows": self.rows, "rep": rep, "key": key, "m": measure})
        print_flush(f"  rep {rep + 1} {key:10s} {measure.seconds:8.2f} s {measure.rows_per_second:10,.0f} rows/s  "
                    f"peak RSS {measure.peak_rss / MIB:6.1f} MiB  CPU {measure.cpu_seconds:6.2f} s"
                    + (f"  steps {measure.report['steps']}" if measure.report.get("steps") else ""))

    def workspace(self, tag: str) -> tuple[str, int]:
        warehouse = create_database(f"{DB_PREFIX}wh_{tag}_{self.rows}")
        workspace_id = product.create_workspace(name=f"bench {self.source.name} {tag} {self.rows}",
                                                warehouse_db=warehouse, profile_schema=scenarios.PROFILE_SCHEMA,
                                                identifiers=scenarios.IDENTIFIERS)
        return warehouse, workspace_id

    def pipeline(self, workspace_id: int, source_db: str, transformation: str, *, up_to_id: int | None = None,
                 tag: str = "") -> int:
        """A pipeline on a connection of its own."""
        return product.create_pipeline(workspace_id=workspace_id,
                                       name=f"bench {self.source.name} {transformation} {tag}".rstrip(),
                                       connector=self.source.connector, source_settings=self.source.settings(source_db),
                                       pipeline=scenarios.pipeline_fields(self.source, transformation,
                                                                          up_to_id=up_to_id))

    def shared_emails(self, rep: int, source_db: str, checkpoint) -> None:
        """(e′) Two pipelines, each on its own connection, import the same half of the users: `rows`
        identities that share their emails in pairs. Their resolution must merge them into rows / 2
        profiles; it is compared with the two imports that wrote them."""
        half = self.rows // 2
        warehouse, workspace_id = self.workspace("shared")
        imports = []
        for tag in ("A", "B"):
            pipeline_id = self.pipeline(workspace_id, source_db, "mapping", up_to_id=half, tag=tag)
            checkpoint()
            imports.append(measure_ours(pipeline_id, half, incremental=False))
        self.record(rep, "e′ imports", combined("two imports", imports))
        checkpoint()
        self.record(rep, "e′ ir", measure_resolution(workspace_id, 2 * half, profiles=half))
        product.delete_workspace(workspace_id)
        drop_database(warehouse)

    def resolutions_after_change(self, rep: int, workspace_id: int, warehouse: str, changed: int, checkpoint) -> None:
        """After (d): the incremental resolution, which must regroup the `changed` identities (each its own
        profile, with its new email) and publish them; then a full resolution of the same warehouse. The
        profile freshness: from the start of (d) to its resolution's end (the process start between them
        not counted), against the full run (b update) and the full resolution."""
        checkpoint()
        incremental = measure_resolution(workspace_id, changed, kind="Incremental")
        shown = pg_execute(warehouse, "SELECT count(*) FROM profiles WHERE email LIKE 'changed%'", fetch=True)[0][0]
        if shown != changed:
            raise RuntimeError(f"after the incremental resolution, {shown} profiles show the change, expected {changed}")
        self.record(rep, "e incr", incremental)
        checkpoint()
        full = measure_resolution(workspace_id, self.rows, full=True)
        self.record(rep, "e full", full)
        by_key = {r["key"]: r["m"] for r in self.results
                  if (r["source"], r["rows"], r["rep"]) == (self.source.name, self.rows, rep)}
        self.record(rep, "fresh incr", combined("incremental run + its resolution", [by_key["d incr"], incremental]))
        self.record(rep, "fresh full", combined("full run + full resolution", [by_key["b update"], full]))

    def repetition(self, rep: int, source_db: str) -> None:
        checkpoint = lambda: pg_execute("postgres", "CHECKPOINT")  # noqa: E731 - every measure starts alike
        ref_wh = create_database(f"{DB_PREFIX}wh_ref_{self.rows}")
        scenarios.prepare_reference_warehouse(ref_wh)
        ours_wh, workspace_id = self.workspace("ours")
        pipeline_id = self.pipeline(workspace_id, source_db, "mapping")
        sides = ["a", "b"]
        if "g" in self.only and SLING_PYTHON.exists():
            sides.append("g")
            sling_db = create_database(f"{DB_PREFIX}sling_{self.rows}")
            sling_home = tempfile.mkdtemp(prefix="krenalis-bench-sling-")
        # (a), (b) and (g), alternated: a full run into the empty warehouse, then into the filled one.
        for number, phase in enumerate(("insert", "update"), start=1):
            shift = rep % len(sides)   # each repetition starts with the next one
            for side in sides[shift:] + sides[:shift]:
                checkpoint()
                if side == "a":
                    measure = measure_reference(self.source, source_db, ref_wh, number, self.rows)
                elif side == "b":
                    measure = measure_ours(pipeline_id, self.rows, incremental=False)
                else:
                    measure = measure_sling(self.source, source_db, sling_db, self.rows, sling_home)
                self.record(rep, f"{side} {phase}", measure)
        if "g" in sides:
            drop_database(sling_db)
            shutil.rmtree(sling_home, ignore_errors=True)
        for db, table in ((ref_wh, scenarios.REFERENCE_TABLE), (ours_wh, "krenalis_identities")):
            if (found := count_rows(db, table)) != self.rows:
                raise RuntimeError(f"{db}.{table} holds {found} rows, expected {self.rows}")
        if "e" in self.only:
            checkpoint()
            self.record(rep, "e ir", measure_resolution(workspace_id, self.rows))    # the first: full
        if "d" in self.only:
            # (d) and the reference reading the same changed rows into its filled table, alternated.
            changed = self.source.change(source_db, rep + 1)
            for side in (("a", "d") if rep % 2 == 0 else ("d", "a")):
                checkpoint()
                if side == "a":
                    measure = measure_reference(self.source, source_db, ref_wh, 3, changed,
                                                since=scenarios.changed_since(rep + 1))
                    self.record(rep, "a incr", measure)
                else:
                    self.record(rep, "d incr", measure_ours(pipeline_id, self.rows, incremental=True,
                                                            expected=changed))
            if "e" in self.only:
                self.resolutions_after_change(rep, workspace_id, ours_wh, changed, checkpoint)
        drop_database(ref_wh)
        product.delete_workspace(workspace_id)
        drop_database(ours_wh)
        if "e" in self.only:
            self.shared_emails(rep, source_db, checkpoint)
        if "c" in self.only:
            for language in ("JavaScript", "Python"):
                warehouse, fn_workspace = self.workspace(language.lower())
                fn_pipeline = self.pipeline(fn_workspace, source_db, language)
                checkpoint()
                self.record(rep, f"c {language[:2].lower()}", measure_ours(fn_pipeline, self.rows, incremental=False))
                product.delete_workspace(fn_workspace)
                drop_database(warehouse)
        backends = [b for b, key in DLT_BACKENDS.items() if "f" in self.only or ("fp" in self.only and key == "f′")]
        if backends and DLT_PYTHON.exists():
            for backend in backends:
                key = DLT_BACKENDS[backend]
                dest = create_database(f"{DB_PREFIX}dlt_{self.rows}")
                with tempfile.TemporaryDirectory(prefix="krenalis-bench-dlt-") as pipelines_dir:
                    for phase in ("insert", "update"):
                        checkpoint()
                        self.record(rep, f"{key} {phase}",
                                    measure_dlt(self.source, source_db, dest, self.rows, pipelines_dir, backend))
                drop_database(dest)


def bench_size(source: Source, rows: int, repeat: int, only: set[str], results: list) -> None:
    print_flush(f"[{source.name}] preparing a source of {rows:,} rows")
    source_db = source.prepare(rows)
    size = Size(source, rows, only, results)
    for rep in range(repeat):
        size.repetition(rep, source_db)


def profile_size(source: Source, rows: int) -> list[tuple[str, str]]:
    """Runs ours once more per phase under py-spy (all threads, idle included); the summaries."""
    from bench import profiling

    spy = OUT_DIR / ".venv" / "bin" / "py-spy"
    if not spy.exists():
        print_flush("py-spy not found: bench/setup_venv.sh")
        return []
    out_dir = OUT_DIR / "profiles"
    out_dir.mkdir(exist_ok=True)
    size = Size(source, rows, set(), [])
    summaries = []
    # The mapping into an empty then the filled warehouse; each function into an empty one.
    for transformation, phases in (("mapping", ("insert", "update")), ("JavaScript", ("insert",)),
                                   ("Python", ("insert",))):
        warehouse, workspace_id = size.workspace("profile")
        pipeline_id = size.pipeline(workspace_id, source.database(rows), transformation)
        for phase in phases:
            run_id = product.create_run(pipeline_id, incremental=False)
            name = f"{source.name}-{transformation.lower()}-{rows}-{phase}"
            raw = out_dir / f"{name}.collapsed"
            print_flush(f"[{source.name}] profiling ours, {transformation}, {phase} at {rows:,} rows -> {raw}")
            subprocess.run([str(spy), "record", "--threads", "--idle", "--nonblocking", "--rate", "200",
                            "--format", "raw", "--output", str(raw), "--", PYTHON, str(BENCH_DIR / "child_run.py"),
                            str(run_id)], check=True, env=child_env(DATABASE_URL=database_url(META_DB)),
                           cwd=BENCH_DIR.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            summary = profiling.summarize(raw)
            (out_dir / f"{name}.txt").write_text(summary)
            summaries.append((f"{source.name} source, {transformation}, {rows:,} rows, {phase}", summary))
        product.delete_workspace(workspace_id)
        drop_database(warehouse)
    return summaries


MEASURE_NAMES = {
    "a insert": "(a) SQL-only reference, into an empty table",
    "a update": "(a) SQL-only reference, into the filled table",
    "a incr": f"(a) SQL-only reference, the rows (d) reads (1 in {scenarios.CHANGED_FRACTION}) into the filled table",
    "b insert": "(b) ours, mapping, full run into an empty warehouse",
    "b update": "(b) ours, mapping, full run into the filled warehouse",
    "c ja": "(c) ours, JavaScript function, full run into an empty warehouse",
    "c py": "(c) ours, Python function, full run into an empty warehouse",
    "d incr": f"(d) ours, incremental run after 1 row in {scenarios.CHANGED_FRACTION} changed",
    "e ir": "(e) identity resolution of the warehouse (b) wrote, the first: full (one identity per profile)",
    "e incr": "(e) the incremental identity resolution after (d): the changed identities' profiles",
    "e full": "(e) a full identity resolution of the same warehouse, after it",
    "fresh incr": "profile freshness: (d) + the incremental resolution after it",
    "fresh full": "the same with full ones: (b) into the filled warehouse + the full resolution",
    "e′ imports": "(e′) two pipelines on two connections importing the same half of the users (both runs)",
    "e′ ir": "(e′) identity resolution of what they wrote: the identities merge by email in pairs",
    "f insert": "(f) dlt sql_database (default backend, SQLAlchemy), merge on id, into an empty destination",
    "f update": "(f) dlt sql_database (default backend, SQLAlchemy), merge on id, into the filled destination",
    "f′ insert": "(f′) dlt sql_database (pyarrow backend), merge on id, into an empty destination",
    "f′ update": "(f′) dlt sql_database (pyarrow backend), merge on id, into the filled destination",
    "g insert": "(g) Sling 1.4.11, incremental mode keyed on id (no update key: every row upserted), into an empty keyed table",
    "g update": "(g) Sling 1.4.11, the same into the filled table",
}
# name: (numerator, denominator) measures; the ratio of each repetition, then their median.
RATIOS = {
    "b/a insert": ("b insert", "a insert", "b/a"), "b/a update": ("b update", "a update", "b/a"),
    "c/b JavaScript": ("c ja", "b insert", "c/b"), "c/b Python": ("c py", "b insert", "c/b"),
    "d/b": ("d incr", "b update", "d/b"), "a incr/a update": ("a incr", "a update", None),
    "e/b": ("e ir", "b insert", "e/b"),
    "e incr/e full": ("e incr", "e full", "e incr/e full"), "freshness": ("fresh incr", "fresh full", "freshness"),
    "e′/imports": ("e′ ir", "e′ imports", "e/b"),
    "b/f insert": ("b insert", "f insert", "b/f"), "b/f update": ("b update", "f update", "b/f"),
    "b/f′ insert": ("b insert", "f′ insert", "b/f"), "b/f′ update": ("b update", "f′ update", "b/f"),
    "b/g insert": ("b insert", "g insert", "b/g"), "b/g update": ("b update", "g update", "b/g"),
}
OURS = ("b insert", "b update", "c ja", "c py", "d incr", "e ir", "e incr", "e full", "e′ imports", "e′ ir")


def fmt_values(values: list[float], digits: int = 2) -> str:
    middle = statistics.median(values)
    if len(values) == 1:
        return f"{middle:.{digits}f}"
    return f"{middle:.{digits}f} ({', '.join(f'{v:.{digits}f}' for v in values)})"


def ratio_cell(name: str, by_key: dict) -> tuple[str, bool | None]:
    top, bottom, goal = RATIOS[name]
    tops, bottoms = by_key.get(top, {}), by_key.get(bottom, {})
    values = [tops[rep].seconds / bottoms[rep].seconds for rep in sorted(tops) if rep in bottoms]
    if not values:
        return "–", None
    if goal is None:  # shown for comparison, with no goal of its own
        return fmt_values(values), None
    op, limit = GOALS[goal]
    met = statistics.median(values) <= limit
    return fmt_values(values) + ("" if met else " **no**"), met


def write_results(path: Path, args, machine: dict, results: list, profiles, started: dt.datetime) -> str:
    groups: dict = {}
    for r in results:
        groups.setdefault((r["source"], r["rows"]), {}).setdefault(r["key"], {})[r["rep"]] = r["m"]
    lines = [
        "# Import benchmark results",
        "",
        f"Generated by `.venv/bin/python bench/run.py {os.environ.get('KRENALIS_BENCH_ARGV', '')}`".rstrip()
        + f" on {started:%Y-%m-%d %H:%M} UTC (repetitions: {args.repeat}; a value in parentheses lists each "
        "repetition, the figure before it is their median).",
        "",
        f"Product measured: {os.environ.get('KRENALIS_BENCH_PRODUCT', '?')}.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "## Ratios",
        "",
        "Each ratio is taken per repetition (both sides measured in the same repetition of the same run), then "
        "the median. Goals: " + ", ".join(f"{k} {op} {v:g}" for k, (op, v) in GOALS.items())
        + f" (b at least 2× faster than f), peak RSS of ours ≤ {RSS_GOAL // MIB} MiB and flat between sizes. "
        "**no** marks a goal missed.",
        "",
        "| source | rows | " + " | ".join(RATIOS) + " | peak RSS of ours MiB |",
        "|---|---:|" + "---:|" * len(RATIOS) + "---:|",
    ]
    for (source, rows), by_key in groups.items():
        cells = [ratio_cell(name, by_key)[0] for name in RATIOS]
        ours_rss = max((m.peak_rss for key in OURS for m in by_key.get(key, {}).values()), default=0)
        lines.append(f"| {source} | {rows:,} | " + " | ".join(cells)
                     + f" | {ours_rss / MIB:.1f}{'' if ours_rss <= RSS_GOAL else ' **no**'} |")
    lines += ["", "## Measures", "",
              "Wall time is the work as timed inside each child process (interpreter start excluded); peak RSS is "
              "that process's VmHWM (for runs with a Python function, the larger of it and the Python worker's); "
              "CPU is the child's user + system time (PostgreSQL's and MariaDB's own CPU not included).", "",
              "| source | rows | measure | wall s | rows/s | peak RSS MiB | CPU s |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for (source, rows), by_key in groups.items():
        for key, name in MEASURE_NAMES.items():
            measures = [by_key[key][rep] for rep in sorted(by_key.get(key, {}))]
            if not measures:
                continue
            seconds = [m.seconds for m in measures]
            lines.append(f"| {source} | {rows:,} | {name} | {fmt_values(seconds)} "
                         f"| {measures[0].rows / statistics.median(seconds):,.0f} | {max(m.peak_rss for m in measures) / MIB:.1f} "
                         f"| {statistics.median(m.cpu_seconds for m in measures):.1f} |")
    lines += ["", "Peak RSS of ours by size (constant memory means the same figure for every size):", ""]
    for source in dict.fromkeys(s for s, _ in groups):
        sizes = {rows: max((m.peak_rss for key in OURS for m in by_key.get(key, {}).values()), default=0)
                 for (name, rows), by_key in groups.items() if name == source}
        lines.append(f"- {source}: " + ", ".join(f"{rows:,} rows → {rss / MIB:.1f} MiB" for rows, rss in sizes.items()))
    lines += ["", "Peak RSS of the identity resolutions (the incremental one must not need more than a full one):", ""]
    for (source, rows), by_key in groups.items():
        peaks = {key: max((m.peak_rss for m in by_key.get(key, {}).values()), default=0)
                 for key in ("e ir", "e incr", "e full")}
        if any(peaks.values()):
            lines.append(f"- {source}, {rows:,} rows: " + ", ".join(f"{key} {rss / MIB:.1f} MiB"
                                                                      for key, rss in peaks.items()))
    lines += ["", "Reference split (medians): the streamed COPY out of the source into staging, then the "
              "INSERT ... ON CONFLICT and COMMIT:", ""]
    for (source, rows), by_key in groups.items():
        for phase in ("insert", "update"):
            measures = list(by_key.get(f"a {phase}", {}).values())
            if measures:
                copy = statistics.median(m.report.get("copy_seconds", 0.0) for m in measures)
                total = statistics.median(m.seconds for m in measures)
                lines.append(f"- {source}, {rows:,} rows, {phase}: COPY {copy:.2f} s, INSERT + COMMIT {total - copy:.2f} s")
    lines += ["", "Sources:", ""]
    for source in dict.fromkeys(s for s, _ in groups):
        lines.append(f"- `{source}`: {SOURCES[source].description}")
    lines += ["", "Pipeline: userIDColumn id, updatedAtColumn updated_at (datetime), incremental; (b) maps 3 properties "
              f"({', '.join(f'{k} ← {v}' for k, v in scenarios.MAPPING.items())}); (c) the same as functions:", ""]
    for language, source in scenarios.FUNCTIONS.items():
        lines += [f"```{language.lower()}", source.rstrip(), "```", ""]
    if profiles:
        lines += ["## Profiles of ours (py-spy, every thread, idle time included)", ""]
        for title, summary in profiles:
            lines += [f"### {title}", "", "```", summary.rstrip(), "```", ""]
    text = "\n".join(lines).rstrip() + "\n"
    path.write_text(text)
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    if "KRENALIS_BENCH_OUT" not in os.environ:
        # Measure a private snapshot of the product: re-run this script from there.
        snap = snapshot(args.product)
        env = dict(os.environ, KRENALIS_BENCH_OUT=str(BENCH_DIR), KRENALIS_BENCH_SNAPSHOT=str(snap),
                   KRENALIS_BENCH_PRODUCT=product_description(args.product), KRENALIS_VAR_DIR=str(snap / "var"),
                   KRENALIS_BENCH_ARGV=" ".join(argv if argv is not None else sys.argv[1:]))
        env.pop("DATABASE_URL", None)
        os.chdir(snap)
        os.execve(PYTHON, [PYTHON, str(snap / "bench" / "run.py"), *(argv if argv is not None else sys.argv[1:]),
                           "--output", str(Path(args.output).resolve())], env)
    try:
        run(args)
    finally:
        snap = os.environ.get("KRENALIS_BENCH_SNAPSHOT")
        if snap and Path(snap).name.startswith("krenalis-bench-"):
            shutil.rmtree(snap, ignore_errors=True)


def run(args) -> None:
    started = dt.datetime.now(dt.timezone.utc)
    sizes = [int(x.replace("_", "")) for x in args.rows.split(",") if x]
    sources = [SOURCES[name] for name in (args.source or SOURCES)]
    only = set(args.only.split(","))
    if only & {"f", "fp", "g"} and not DLT_PYTHON.exists():
        print_flush(f"note: no {DLT_PYTHON}: (f) and (g) are skipped; bench/setup_venv.sh installs dlt and Sling there")
    celery = subprocess.run(["pgrep", "-f", "celery"], capture_output=True, text=True).stdout.split()
    if celery:
        print_flush(f"note: celery processes are running ({', '.join(celery)}); the bench never queues its runs, "
                    "so they cannot take them")
    machine = machine_description()
    create_database(META_DB)
    product.setup_django()
    results, profiles = [], []
    try:
        for source in sources:
            for rows in sizes:
                bench_size(source, rows, args.repeat, only, results)
            if args.profile:
                profiles += profile_size(source, max(sizes))
            if not args.keep:
                for rows in sizes:
                    source.drop(rows)
    finally:
        if results:
            text = write_results(Path(args.output), args, machine, results, profiles, started)
            print_flush("\n" + text)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(META_DB)


if __name__ == "__main__":
    main()
