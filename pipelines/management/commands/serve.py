"""Runs the whole product on this machine: the web server, a Celery worker and Celery beat.

`bin/run` calls it. It migrates the metadata database, creates the demo (see `demo`), an admin
login and an API key, starts the three processes and prints where to go. Their output is shown
with a prefix, and every run that ends is reported. Ctrl-C (or SIGTERM) stops them all: the worker
finishes the batch at hand, a run cut short is ended by the dead-run sweep at the next start.

The processes share the metadata database and the broker named by the environment. Without
CELERY_BROKER_URL they use the embedded broker, `filesystem://`: message files under var/broker/,
which needs no server but only works on one machine.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from krenalis.private import read_private, write_private

STOP_GRACE_SECONDS = 20
EMBEDDED_BROKER = "filesystem://localhost/"


def _die_with_parent():
    """In the child, before exec: new session (the terminal's Ctrl-C reaches only the supervisor,
    which stops the children in order), and SIGTERM when the supervisor dies (Linux)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Child:
    def __init__(self, name: str, argv: list[str], env: dict, out):
        self.name, self.out = name, out
        self.process = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)
        self.reader = threading.Thread(target=self._relay, name=f"relay-{name}", daemon=True)
        self.reader.start()

    def _relay(self):
        for raw in self.process.stdout:
            self.out(f"{self.name:>6} | {raw.decode(errors='replace').rstrip()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together (the embedded default of bin/run)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (runs at once)")
        parser.add_argument("--no-demo", action="store_true", help="do not create the demo workspace")
        parser.add_argument("--loglevel", default="WARNING", help="log level of the worker and beat (INFO shows "
                                                                    "every task)")

    def handle(self, *args, host, port, concurrency, no_demo, loglevel, **options):
        self._lock = threading.Lock()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("CELERY_BROKER_URL", EMBEDDED_BROKER)
        call_command("migrate", interactive=False, verbosity=0)
        password = self._admin_password()
        key = self._api_key()

        python = sys.executable
        celery = [python, "-m", "celery", "--quiet", "-A", "krenalis"]
        children = []
        stopping = threading.Event()

        def on_signal(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            children.append(Child("web", [python, "manage.py", "runserver", "--noreload", "--insecure", "--skip-checks",
                                          f"{host}:{port}"], env, self._print))
            children.append(Child("worker", celery + ["worker", "--loglevel", loglevel, "--concurrency",
                                                      str(concurrency), "--hostname", "worker@%h",
                                                      "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                  env, self._print))
            children.append(Child("beat", celery + ["beat", "--loglevel", loglevel], env, self._print))
            base = f"http://{host}:{port}"
            ready = self._wait_for_web(base, children, stopping)
            if stopping.is_set():
                return
            if not ready:
                raise CommandError("the web server did not start")
            demo = None
            if not no_demo:
                from .demo import demo_create

                # Beat runs by now: the first scheduled run is the next minute a few seconds away.
                demo = demo_create(first_run_after=5)
            self._print("\n".join([
                "",
                f"  Krenalis for Django is running: web server, worker and beat ({self._where(env)})",
                f"    API:      {base}/v1/   (OpenAPI UI: {base}/v1/docs)",
                f"    Admin:    {base}/admin/   user admin, password {password}",
                f"    API key:  {key}",
                f"    Demo:     {demo.describe()}" if demo else "    Demo:     not created (--no-demo)",
                "  Ctrl-C stops everything.",
                "",
            ]))
            self._supervise(children, stopping)
        finally:
            self._stop(children)
            self._print("Stopped.")

    @staticmethod
    def _where(env) -> str:
        from django.db import connection

        metadata = "SQLite metadata" if connection.vendor == "sqlite" else f"{connection.vendor} metadata"
        broker = env["CELERY_BROKER_URL"]
        broker = "file-system broker under var/broker/" if broker.startswith("filesystem:") else \
            f"broker {broker.split('@')[-1]}"
        return f"{metadata}, {broker}"

    # -- setup -------------------------------------------------------------------------------

    def _admin_password(self) -> str:
        """The `admin` superuser's password, made on first start and kept in var/admin_password
        (0600, in var/ which is 0700) so that each start can print it."""
        from django.contrib.auth import get_user_model

        path = settings.VAR_DIR / "admin_password"
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            write_private(path, password + "\n")
        if path.exists():
            return read_private(path).strip()
        return "(changed: not known to bin/run)"

    def _api_key(self) -> str:
        """An organization-wide key, minted on first start and kept in var/api_key (0600, in var/
        which is 0700; the database keeps only its digest) so that each start can print it; a new
        one if it was deleted."""
        from pipelines.apikeys import digest
        from pipelines.models import APIKey
        from pipelines.services.apikeys import api_key_create

        path = settings.VAR_DIR / "api_key"
        if path.exists():
            key = read_private(path).strip()
            if APIKey.objects.filter(digest=digest(key)).exists():
                return key
        _, key = api_key_create(name="bin/run")
        write_private(path, key + "\n")
        return key

    # -- processes ---------------------------------------------------------------------------

    def _print(self, text: str) -> None:
        with self._lock:
            self.stdout.write(text)
            self.stdout.flush()

    def _wait_for_web(self, base: str, children, stopping) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopping.is_set():
            if any(c.process.poll() is not None for c in children):
                return False
            try:
                with urllib.request.urlopen(f"{base}/admin/login/", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        return False

    def _supervise(self, children, stopping) -> None:
        """Until Ctrl-C or a child's death: reports every run that starts or ends."""
        from pipelines.models import Run

        since = timezone.now()
        started, ended = set(), set()
        while not stopping.wait(1):
            dead = [c for c in children if c.process.poll() is not None]
            if dead:
                raise CommandError(f"{dead[0].name} exited with status {dead[0].process.returncode}")
            for run in (Run.objects.filter(start_time__gte=since).exclude(id__in=started)
                        .select_related("pipeline").order_by("start_time")):
                started.add(run.id)
                self._print(f"   run | run {run.id} of pipeline {run.pipeline_id} ({run.pipeline.name}) started, "
                            f"{'incremental' if run.incremental else 'full'}")
            for run in (Run.objects.filter(end_time__gte=since).exclude(id__in=ended)
                        .select_related("pipeline").order_by("end_time")):
                ended.add(run.id)
                seconds = (run.end_time - run.start_time).total_seconds()
                written = run.passed[6]
                self._print(f"   run | run {run.id} of pipeline {run.pipeline_id} ({run.pipeline.name}) "
                            f"{'failed' if run.error else 'succeeded'} in {seconds:.1f} s: {written} "
                            f"user{'' if written == 1 else 's'} written, {sum(run.failed)} failed"
                            + (f"; error: {run.error}" if run.error else ""))

    def _stop(self, children) -> None:
        for child in reversed(children):
            child.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._print(f"{child.name} did not stop in {STOP_GRACE_SECONDS} s: killed")
                child.kill()
                child.process.wait()
        for child in children:
            child.reader.join(2)
