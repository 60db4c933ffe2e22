"""Child process: executes one queued run with the product's own service (`run_execute`), and
prints {"seconds", "peak_rss", "children_peak_rss", "passed", "failed", "error"} as JSON on its
last line.

    python bench/child_run.py RUN_ID [--cprofile FILE]

`children_peak_rss` is the largest VmHWM seen of this process's children (the Python
transformation worker), sampled every 0.1 s while the run executes. DATABASE_URL must name the
bench's metadata database (run.py sets it)."""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
os.environ.setdefault("KRENALIS_LOG_LEVEL", "WARNING")


class ChildrenPeak:
    """Samples the high-water RSS of this process's child processes until stopped."""

    def __init__(self):
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True, name="children-rss")

    def _sample(self):
        pid = os.getpid()
        while not self.done.wait(0.1):
            try:
                children = open(f"/proc/{pid}/task/{pid}/children").read().split()
            except OSError:
                continue
            for child in children:
                try:
                    for line in open(f"/proc/{child}/status"):
                        if line.startswith("VmHWM:"):
                            self.peak = max(self.peak, int(line.split()[1]) * 1024)
                except OSError:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


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
    with ChildrenPeak() as children:
        run = run_execute(run_id=args.run_id)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(args.cprofile)
    report = {"seconds": seconds, "peak_rss": peak_rss(), "children_peak_rss": children.peak}
    if run is None:
        report["error"] = "run was not executed (already taken or ended)"
    else:
        report.update(passed=run.passed, failed=run.failed, error=run.error, errors_total=run.errors_total)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
