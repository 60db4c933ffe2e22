"""Runs a pipeline here and now, with a live progress line on stderr and a summary on stdout.

The run is started with the same checks as `POST /v1/pipelines/{id}/runs` but is not queued for
Celery: this process executes it, so no worker can take it too. Ctrl-C asks the run to stop (as
the cancel endpoint does); a second Ctrl-C stops the command at once, leaving the run to the
dead-worker sweep.
"""
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from pipelines.errors import KrenalisError
from pipelines.models import Pipeline, Run
from pipelines.services.heartbeat import Heartbeat
from pipelines.services.runs import run_cancel, run_execute, run_start

# Filter and Consent never count anything for database sources.
SHOWN_STEPS = (0, 1, 4, 5, 6)


def summary(run: Run) -> str:
    steps = "  ".join(f"{Run.STEPS[i]} {run.passed[i]:,}/{run.failed[i]:,}" for i in SHOWN_STEPS)
    seconds = (run.end_time - run.start_time).total_seconds() if run.end_time else 0.0
    text = (f"Run {run.id} of pipeline {run.pipeline_id} {'failed' if run.error else 'succeeded'} in {seconds:.1f} s. "
            f"Passed/failed: {steps}")
    return f"{text}. Error: {run.error}" if run.error else text


class _ProgressLine:
    """Redraws one line on stderr about once a second from the latest counters of the run.

    Drawing happens on its own thread so that the line keeps moving (elapsed time) while the
    source query blocks. It also turns a Ctrl-C into a cancel request, outside the signal handler.
    """

    def __init__(self, stream, run: Run, *, interval: float = 1.0):
        self.stream, self.run_id = stream, run.id  # a management command's OutputWrapper
        self.tty = stream.isatty()
        self.interval = interval if self.tty else max(interval, 10.0)
        self.counters = ([0] * 7, [0] * 7)
        self.started = time.monotonic()
        self.cancel = threading.Event()
        self.cancelled = False
        self.next_draw = self.started + self.interval
        self.heartbeat = Heartbeat(self._tick, lambda: 0.2, f"progress-{run.id}")

    def update(self, passed, failed) -> None:
        self.counters = (passed, failed)

    def line(self) -> str:
        seconds = time.monotonic() - self.started
        passed, failed = self.counters
        rows = passed[0] + failed[0]
        rate = rows / seconds if seconds > 0 else 0.0
        steps = "  ".join(f"{Run.STEPS[i]} {passed[i]:,}/{failed[i]:,}" for i in SHOWN_STEPS)
        state = "  cancelling..." if self.cancel.is_set() else ""
        elapsed = int(seconds)
        return (f"run {self.run_id} {elapsed // 60:02d}:{elapsed % 60:02d}  {rows:,} rows read "
                f"({rate:,.0f} rows/s)  {steps}{state}")

    def draw(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K", style_func=str, ending="")
        else:
            self.stream.write(self.line(), style_func=str)
        self.stream.flush()

    def _tick(self) -> None:
        if self.cancel.is_set() and not self.cancelled:
            self.cancelled = True
            run_cancel(run=Run.objects.get(id=self.run_id))
        if time.monotonic() >= self.next_draw:
            self.next_draw += self.interval
            self.draw()

    def __enter__(self):
        self.heartbeat.__enter__()
        return self

    def __exit__(self, *exc):
        self.heartbeat.__exit__(*exc)
        if self.tty:
            self.stream.write("\r\x1b[K", style_func=str, ending="")
            self.stream.flush()


class Command(BaseCommand):
    help = ("Run a pipeline in this process (not through Celery), showing its progress; "
            "exit code 1 when the run ends with an error.")

    def add_arguments(self, parser):
        parser.add_argument("pipeline_id", help="ID of the pipeline to run")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--incremental", dest="incremental", action="store_true", default=None,
                          help="read only rows updated since the last successful run")
        mode.add_argument("--full", dest="incremental", action="store_false",
                          help="read every row (and delete identities of rows no longer there)")

    def handle(self, *args, pipeline_id, incremental, **options):
        try:
            pid = int(pipeline_id)
        except ValueError:
            pid = 0
        if pid <= 0:
            raise CommandError(f'identifier "{pipeline_id}" is not a valid pipeline identifier')
        pipeline = Pipeline.objects.select_related("workspace").filter(id=pid).first()
        if pipeline is None:
            raise CommandError(f"pipeline {pid} does not exist")
        try:
            run = run_start(pipeline=pipeline, incremental=incremental, enqueue=False)
        except KrenalisError as exc:
            raise CommandError(exc.message) from None
        mode = "incremental" if run.incremental else "full"
        self.stderr.write(f"Running pipeline {pipeline.id} ({pipeline.name}), {mode} run {run.id}. "
                          "Press Ctrl-C to cancel.", style_func=str)
        with _ProgressLine(self.stderr, run) as progress:
            previous = _on_interrupt(progress.cancel)
            try:
                run_execute(run_id=run.id, on_progress=progress.update)
            finally:
                _restore_interrupt(previous)
        run = Run.objects.get(id=run.id)
        self.stdout.write(summary(run))
        if run.error:
            raise CommandError(f"run {run.id} ended with an error: {run.error}")


def _on_interrupt(cancel: threading.Event):
    """The first Ctrl-C asks the run to stop; the next ones interrupt the command."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    return signal.signal(signal.SIGINT, handler)


def _restore_interrupt(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
