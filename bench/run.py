#!/usr/bin/env python
"""Import benchmark: the product's run service against plain SQL, measured alternately in one run.

    .venv/bin/python bench/run.py                     # every scenario, 100k and 1M rows
    .venv/bin/python bench/run.py --rows 100000 --repeat 3 --scenario pg-mapping-3 --profile

For each scenario, size and repetition, the phases alternate reference (a) and ours (b):
a-insert, b-insert, a-update, b-update (reversed on odd repetitions), each in its own child
process whose wall time and peak RSS (os.wait4) are recorded. Results go to bench/results.md.
Every database it creates is named krenalis_bench_* and dropped at the end (unless --keep).
"""
from __future__ import annotations

import argparse
import datetime as dt
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
                          child_env, create_database, database_url, drop_database, machine_description, print_flush,
                          run_child)
from bench.scenarios import SCENARIOS, Scenario  # noqa: E402

RATIO_GOAL = 1.5
RSS_GOAL = 150 * MIB


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="scenario to run (repeatable; default: all)")
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


def measure_reference(scenario: Scenario, source_db: str, warehouse_db: str, phase, run_number: int,
                      rows: int) -> Measure:
    import json

    spec = scenario.reference_spec(source_db=source_db, warehouse_db=warehouse_db, phase=phase,
                                   run_number=run_number)
    return run_child(f"reference {phase.name}", rows, [PYTHON, str(BENCH_DIR / "child_reference.py"),
                                                        json.dumps(spec)], env=child_env())


def measure_ours(pipeline_id: int, phase, scenario: Scenario, rows: int, *, extra_args=()) -> Measure:
    run_id = product.create_run(pipeline_id, **scenario.run_kwargs(phase))
    measure = run_child(f"ours {phase.name}", rows, [PYTHON, str(BENCH_DIR / "child_run.py"), str(run_id),
                                                     *extra_args],
                        env=child_env(DATABASE_URL=database_url(META_DB)))
    passed = measure.report.get("passed") or []
    if not passed or passed[-1] != rows:
        raise RuntimeError(f"ours {phase.name}: {passed} rows passed, expected {rows} finalized: {measure.report}")
    return measure


def count_rows(db: str, table: str) -> int:
    from bench.common import pg_execute

    return pg_execute(db, f"SELECT count(*) FROM {table}", fetch=True)[0][0]


def bench_size(scenario: Scenario, rows: int, repeat: int, results: list) -> None:
    print_flush(f"[{scenario.name}] preparing a source of {rows:,} rows")
    source_db = scenario.prepare_source(rows)
    for rep in range(repeat):
        ref_wh = create_database(f"{DB_PREFIX}wh_ref_{rows}")
        ours_wh = create_database(f"{DB_PREFIX}wh_ours_{rows}")
        scenario.prepare_reference_warehouse(ref_wh)
        pipeline_id = product.create_pipeline(name=f"bench {scenario.name} {rows}", warehouse_db=ours_wh,
                                              profile_schema=scenario.profile_schema, connector=scenario.connector,
                                              source_settings=scenario.source_settings(source_db),
                                              pipeline=scenario.pipeline())
        for number, phase in enumerate(scenario.phases, start=1):
            pair = {}
            order = ("a", "b") if rep % 2 == 0 else ("b", "a")
            for side in order:
                if side == "a":
                    pair["a"] = measure_reference(scenario, source_db, ref_wh, phase, number, rows)
                else:
                    pair["b"] = measure_ours(pipeline_id, phase, scenario, rows)
                m = pair[side]
                print_flush(f"  rep {rep + 1} {phase.name:7s} {side}: {m.seconds:8.2f} s "
                            f"{m.rows_per_second:10,.0f} rows/s  peak RSS {m.peak_rss / MIB:6.1f} MiB  "
                            f"CPU {m.cpu_seconds:6.2f} s"
                            + (f"  (COPY part {m.report['copy_seconds']:.2f} s)" if "copy_seconds" in m.report else ""))
            results.append({"scenario": scenario.name, "rows": rows, "phase": phase.name, "rep": rep,
                            "a": pair["a"], "b": pair["b"]})
        for db, table in ((ref_wh, "identities_ref"), (ours_wh, "krenalis_identities")):
            found = count_rows(db, table)
            if found != rows:
                raise RuntimeError(f"{db}.{table} holds {found} rows, expected {rows}")
        product.delete_workspace_of(pipeline_id)
        drop_database(ref_wh)
        drop_database(ours_wh)


def profile_size(scenario: Scenario, rows: int) -> list[tuple[str, str]]:
    """Runs ours once more per phase under py-spy (all threads, idle included); the summaries."""
    from bench import profiling

    spy = OUT_DIR / ".venv" / "bin" / "py-spy"
    if not spy.exists():
        print_flush("py-spy not found: python3 -m venv bench/.venv && bench/.venv/bin/pip install py-spy")
        return []
    out_dir = OUT_DIR / "profiles"
    out_dir.mkdir(exist_ok=True)
    source_db = scenario.source_db(rows)
    wh = create_database(f"{DB_PREFIX}wh_profile_{rows}")
    pipeline_id = product.create_pipeline(name=f"bench profile {scenario.name}", warehouse_db=wh,
                                          profile_schema=scenario.profile_schema, connector=scenario.connector,
                                          source_settings=scenario.source_settings(source_db),
                                          pipeline=scenario.pipeline())
    summaries = []
    for phase in scenario.phases:
        run_id = product.create_run(pipeline_id, **scenario.run_kwargs(phase))
        raw = out_dir / f"{scenario.name}-{rows}-{phase.name}.collapsed"
        print_flush(f"[{scenario.name}] profiling ours {phase.name} at {rows:,} rows -> {raw}")
        subprocess.run([str(spy), "record", "--threads", "--idle", "--nonblocking", "--rate", "200", "--format", "raw",
                        "--output", str(raw), "--", PYTHON, str(BENCH_DIR / "child_run.py"), str(run_id)],
                       check=True, env=child_env(DATABASE_URL=database_url(META_DB)), cwd=BENCH_DIR.parent,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        summary = profiling.summarize(raw)
        (out_dir / f"{scenario.name}-{rows}-{phase.name}.txt").write_text(summary)
        summaries.append((f"{scenario.name}, {rows:,} rows, {phase.name}", summary))
    product.delete_workspace_of(pipeline_id)
    drop_database(wh)
    return summaries


def fmt_seconds(values: list[float]) -> str:
    middle = statistics.median(values)
    return f"{middle:.2f}" if len(values) == 1 else f"{middle:.2f} ({', '.join(f'{v:.2f}' for v in values)})"


def write_results(path: Path, args, machine: dict, results: list, profiles, started: dt.datetime) -> str:
    lines = [
        "# Import benchmark results",
        "",
        f"Generated by `.venv/bin/python bench/run.py {os.environ.get('KRENALIS_BENCH_ARGV', '')}`".rstrip() + f" on {started:%Y-%m-%d %H:%M} UTC "
        f"(repetitions per size: {args.repeat}; a value in parentheses lists each repetition, the figure before "
        "it is their median).",
        "",
        f"Product measured: {os.environ.get('KRENALIS_BENCH_PRODUCT', '?')}.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "## Results",
        "",
        "(a) reference: `COPY (query) TO STDOUT` on the source piped into `COPY staging FROM STDIN` on the "
        "warehouse, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` into a table shaped like "
        "krenalis_identities, one transaction, no Python in the loop. (b) ours: `run_execute` of the product, "
        "end to end (source query, normalization, mapping, COPY + upsert per batch, purge, run bookkeeping). "
        "Wall time is the work as timed inside each child process; peak RSS is that process's VmHWM.",
        "",
        "| scenario | rows | phase | (a) wall s | (a) rows/s | (a) peak RSS MiB | (b) wall s | (b) rows/s "
        "| (b) peak RSS MiB | (b) Python CPU s | b/a | goal b/a ≤ 1.5 | goal RSS < 150 MiB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    groups: dict = {}
    for r in results:
        groups.setdefault((r["scenario"], r["rows"], r["phase"]), []).append(r)
    for (name, rows, phase), rs in groups.items():
        a_s = [r["a"].seconds for r in rs]
        b_s = [r["b"].seconds for r in rs]
        a_rss = max(r["a"].peak_rss for r in rs)
        b_rss = max(r["b"].peak_rss for r in rs)
        ratios = [r["b"].seconds / r["a"].seconds for r in rs]
        ratio = statistics.median(ratios)
        lines.append(
            f"| {name} | {rows:,} | {phase} | {fmt_seconds(a_s)} | {rows / statistics.median(a_s):,.0f} "
            f"| {a_rss / MIB:.1f} | {fmt_seconds(b_s)} | {rows / statistics.median(b_s):,.0f} | {b_rss / MIB:.1f} "
            f"| {statistics.median(r['b'].cpu_seconds for r in rs):.1f} "
            f"| {ratio:.2f}{'' if len(ratios) == 1 else ' (' + ', '.join(f'{x:.2f}' for x in ratios) + ')'} "
            f"| {'yes' if ratio <= RATIO_GOAL else '**no**'} | {'yes' if b_rss < RSS_GOAL else '**no**'} |")
    lines += ["", "Reference split (medians): the two streamed COPYs, then the INSERT ... ON CONFLICT and COMMIT:", ""]
    for (name, rows, phase), rs in groups.items():
        copy = statistics.median(r["a"].report.get("copy_seconds", 0.0) for r in rs)
        total = statistics.median(r["a"].seconds for r in rs)
        lines.append(f"- {name}, {rows:,} rows, {phase}: COPY {copy:.2f} s, INSERT + COMMIT {total - copy:.2f} s")
    lines += ["", "(b) Python CPU s is the user + system CPU time of ours' whole process (Django start-up included); "
              "the PostgreSQL backends' CPU is not in it."]
    lines += ["", "Peak RSS of ours by size (constant memory means the same figure for every size):", ""]
    by_scenario: dict = {}
    for r in results:
        by_scenario.setdefault(r["scenario"], {}).setdefault(r["rows"], []).append(r["b"].peak_rss)
    for name, sizes in by_scenario.items():
        lines.append(f"- {name}: " + ", ".join(f"{rows:,} rows → {max(v) / MIB:.1f} MiB" for rows, v in sizes.items()))
    lines += ["", "Scenarios:", ""]
    for name in dict.fromkeys(r["scenario"] for r in results):
        lines.append(f"- `{name}`: {SCENARIOS[name].description}")
    if profiles:
        lines += ["", "## Profiles of ours (py-spy, every thread, idle time included)", ""]
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
    scenarios = [SCENARIOS[name] for name in (args.scenario or sorted(SCENARIOS))]
    celery = subprocess.run(["pgrep", "-f", "celery"], capture_output=True, text=True).stdout.split()
    if celery:
        print_flush(f"note: celery processes are running ({', '.join(celery)}); the bench never queues its runs, "
                    "so they cannot take them")
    machine = machine_description()
    create_database(META_DB)
    product.setup_django()
    results, profiles = [], []
    try:
        for scenario in scenarios:
            for rows in sizes:
                bench_size(scenario, rows, args.repeat, results)
            if args.profile:
                profiles += profile_size(scenario, max(sizes))
            if not args.keep:
                for rows in sizes:
                    scenario.drop_source(rows)
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
