"""Child process: executes one queued run with the product's own service (`run_execute`), and
prints {"seconds", "peak_rss", "passed", "failed", "error"} as JSON on its last line.

    python bench/child_run.py RUN_ID [--cprofile FILE]

DATABASE_URL must name the bench's metadata database (run.py sets it)."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
os.environ.setdefault("KRENALIS_LOG_LEVEL", "WARNING")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_id", type=int)
    parser.add_argument("--cprofile", help="write cProfile stats of run_execute (main thread only) here")
    args = parser.parse_args()

    import django

    from bench.common import peak_rss

    django.setup()
    from pipelines.services.runs import run_execute

    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run = run_execute(run_id=args.run_id)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(args.cprofile)
    if run is None:
        print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(),
                          "error": "run was not executed (already taken or ended)"}))
        return
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "passed": run.passed, "failed": run.failed, "error": run.error,
                      "errors_total": run.errors_total}))


if __name__ == "__main__":
    main()
