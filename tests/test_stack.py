"""The whole product as it is deployed: the demo data, docker-compose.yml (read, and its topology run
with the local services), and the README's first command (the embedded default)."""
import gzip
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests import support

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
DEMO_USERS = 5000


# --------------------------------------------------------------------------- demo data


def test_demo_sql_scripts_are_the_generator_output():
    from demo.generate import SCRIPTS, sql_script, users

    rows = users()
    assert len(rows) == DEMO_USERS and len({u.email for u in rows}) == DEMO_USERS
    for dialect, path in SCRIPTS.items():
        assert path.read_text(encoding="utf-8") == sql_script(dialect, rows), \
            f"{path.name} is stale: run python demo/generate.py"


def test_demo_sqlite_source_holds_the_same_users(tmp_path):
    import sqlite3

    from demo.generate import users, write_sqlite

    path = tmp_path / "demo.sqlite3"
    assert write_sqlite(path) == DEMO_USERS
    conn = sqlite3.connect(path)
    first = conn.execute("SELECT id, email, first_name, updated_at FROM users ORDER BY id LIMIT 1").fetchone()
    count, latest = conn.execute("SELECT count(*), max(updated_at) FROM users").fetchone()
    conn.close()
    user = users()[0]
    assert first == (user.id, user.email, user.first_name, user.updated_at.strftime("%Y-%m-%d %H:%M:%S.%f"))
    assert (count, latest) == (DEMO_USERS, "2024-12-31 23:54:28.777282")


# --------------------------------------------------------------------------- docker-compose.yml, read


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_topology(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "mysql", "https", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["mysql"]["image"].startswith("mysql:")
    assert services["web"]["command"][0] == "gunicorn" and services["web"]["command"][1] == "krenalis.wsgi"
    # threads, so that slow previews hold threads and not the server (tests/reliability/test_slow_previews.py)
    assert services["web"]["command"][-2:] == ["--config", "gunicorn.conf.py"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "krenalis", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "krenalis", "beat"]
    # gunicorn is reached through the HTTPS proxy only, which sets X-Forwarded-Proto (and -For)
    assert "ports" not in services["web"] and services["web"]["expose"] == ["8000"]
    assert services["https"]["image"].startswith("caddy:") and services["https"]["ports"] == ["443:443", "80:80"]
    assert services["https"]["command"][:2] == ["caddy", "reverse-proxy"]
    assert services["https"]["command"][-2:] == ["--to", "web:8000"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "krenalis-django"
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert "var:/app/var" in service["volumes"]  # keys generated once, shared by every process
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"
    assert set(services["migrate"]["depends_on"]) == {"postgres", "mysql"}
    # the demo data reaches MySQL through the image's init directory, into MYSQL_DATABASE
    mount = next(v for v in services["mysql"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert (ROOT / mount.split(":")[0]).resolve() == ROOT / "demo" / "users.mysql.sql"
    assert services["mysql"]["environment"]["MYSQL_DATABASE"] == "shop"
    assert set(compose["volumes"]) == {"postgres", "redis", "mysql", "var", "caddy"}


def compose_environment(compose, service: str) -> dict:
    """A service's environment as docker compose gives it without a .env file: ${NAME:-default} -> default."""
    return {name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
            for name, value in compose["services"][service]["environment"].items()}


def test_check_deploy_is_clean_with_the_compose_environment(compose, tmp_path):
    """`manage.py check --deploy` with the web service's environment: HTTPS behind the proxy, Secure
    cookies, HSTS; nothing silenced."""
    env = {**compose_environment(compose, "web"), "PATH": os.environ["PATH"], "KRENALIS_VAR_DIR": str(tmp_path)}
    assert env["KRENALIS_HTTPS"] == "1" and env["KRENALIS_PROXIES"] == "1"
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "System check identified no issues (0 silenced)." in done.stdout, \
        done.stdout + done.stderr
    from django.conf import settings

    assert not settings.SILENCED_SYSTEM_CHECKS


def test_compose_migrate_creates_the_demo_on_mysql_and_postgresql(compose):
    script = compose["services"]["migrate"]["command"][2]
    assert "python manage.py migrate --noinput" in script
    settings = {name: json.loads(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value))
                for name, value in re.findall(r"--(source-settings|warehouse-settings) '([^']*)'", script)}
    mysql = compose["services"]["mysql"]["environment"]
    assert settings["source-settings"] == {"host": "mysql", "port": 3306, "username": mysql["MYSQL_USER"],
                                           "password": "shop", "database": mysql["MYSQL_DATABASE"]}
    assert settings["warehouse-settings"]["host"] == "postgres"
    # The warehouse is a database of its own, created by the postgres image's init script: no
    # warehouse (nor connection) may use the metadata database.
    postgres = compose["services"]["postgres"]
    assert settings["warehouse-settings"]["database"] == "warehouse" != postgres["environment"]["POSTGRES_DB"]
    mount = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert "CREATE DATABASE warehouse;" in (ROOT / mount.split(":")[0]).read_text()
    # The app reaches the two database services, named explicitly (the default is public addresses only).
    assert compose["x-app"]["environment"]["KRENALIS_DATABASE_ALLOWED_HOSTS"] == \
        "${KRENALIS_DATABASE_ALLOWED_HOSTS:-mysql,postgres}"
    assert "--connector mysql --platform PostgreSQL" in script


def test_dockerfile_builds_what_compose_runs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt" in dockerfile and "pip install" in dockerfile
    assert "libmariadb-dev" in dockerfile and "libmariadb3" in dockerfile  # mysqlclient builds, then runs
    # both stages on the Debian release the tests run on (its libmariadb3 is the one tested)
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim-bookworm"] * 2
    # the static files gunicorn's WhiteNoise serves are collected into the image, not into the var volume
    assert "python manage.py collectstatic --noinput" in dockerfile
    assert 'CMD ["gunicorn", "krenalis.wsgi", "--config", "gunicorn.conf.py"]' in dockerfile
    assert dockerfile.index("COPY . .") < dockerfile.index("collectstatic") < dockerfile.index("USER krenalis")
    from django.conf import settings

    assert settings.STATIC_ROOT == ROOT / "staticfiles"  # the image's /app/staticfiles
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    requirements = (ROOT / "requirements.txt").read_text()
    for package in ("gunicorn==", "whitenoise==", "celery==", "redis==", "django-celery-beat==",
                    "psycopg2-binary==", "mysqlclient=="):
        assert package in requirements
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git"} <= set(ignored)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output is kept (and whose lines can be waited for)."""

    def __init__(self, name, argv, env, **kwargs):
        self.name, self.lines = name, []
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, **kwargs)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                seen += 1
                match = re.search(pattern, line)
                if match:
                    return match
            if self.popen.poll() is not None and seen == len(self.lines):
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no line matching {pattern!r} in {timeout} s:\n{self.output[-6000:]}")

    def stop(self, sig=signal.SIGTERM, timeout=30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout} s")
        finally:
            self.reader.join(5)


def http(method: str, url: str, key: str | None = None, workspace: int | None = None, body=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if workspace:
        headers["Krenalis-Workspace"] = str(workspace)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for_http(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, f"{process.name} exited:\n{process.output[-4000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{process.output[-4000:]}")


def get(url: str, headers: dict | None = None):
    """(status, headers, body) of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def assert_static_files_served(base: str) -> None:
    """The admin's CSS, the pipeline editor's CodeMirror and the Swagger UI of /v1/docs load, with the
    right content types: every /static/ file the admin login page and the docs page refer to."""
    referred = {}
    for page in ("/admin/login/", "/v1/docs"):
        status, _, body = get(base + page)
        assert status == 200, (page, body[:500])
        referred[page] = set(re.findall(r"""(?:href|src)=["'](/static/[^"']+)["']""", body.decode()))
    assert "/static/admin/css/base.css" in referred["/admin/login/"], referred
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in referred["/v1/docs"], referred
    codemirror = {"/static/vendor/codemirror/lib/codemirror.js", "/static/vendor/codemirror/mode/sql/sql.js",
                  "/static/admin_console/pipeline_editor.js"}
    for path in sorted(set().union(*referred.values(), codemirror)):
        status, headers, body = get(base + path)
        assert status == 200 and body, (path, status)
        kind = {"css": "text/css", "js": "text/javascript", "png": "image/png"}[path.rsplit(".", 1)[1]]
        assert headers["Content-Type"].startswith(kind), (path, headers["Content-Type"])
    # collected gzipped: a browser that accepts it gets the smaller file
    status, headers, body = get(base + "/static/vendor/codemirror/lib/codemirror.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "CodeMirror" in gzip.decompress(body).decode()
    assert get(base + "/static/vendor/codemirror/lib/missing.js")[0] == 404


def wait_for_demo_run(base: str, key: str, timeout: float) -> tuple[dict, dict, list]:
    """(the demo workspace, its pipeline, its runs) once a run of the demo pipeline has ended."""
    status, body = http("GET", f"{base}/v1/workspaces", key)
    assert status == 200, body
    workspace = next(w for w in body["workspaces"] if w["name"] == "Demo")
    status, body = http("GET", f"{base}/v1/pipelines", key, workspace["id"])
    assert status == 200, body
    (pipeline,) = body["pipelines"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http("GET", f"{base}/v1/pipelines/runs", key, workspace["id"])
        assert status == 200, body
        if any(r["endTime"] for r in body["runs"]):
            return workspace, pipeline, body["runs"]
        time.sleep(1)
    raise AssertionError(f"no run of the demo pipeline ended within {timeout} s")


def forget_queue(broker_url: str, queue: str) -> None:
    """Removes a test queue's keys (its messages and bindings) from Redis."""
    import redis

    client = redis.Redis.from_url(broker_url)
    for key in list(client.scan_iter(match=f"*{queue}*")):
        client.delete(key)
    client.close()


def processes_with_var_dir(var_dir: Path) -> list[int]:
    """PIDs of processes started with KRENALIS_VAR_DIR=var_dir (leftovers of a stack)."""
    needle = f"KRENALIS_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# --------------------------------------------------------------------------- the production topology


@pytest.fixture
def stack_services():
    """Fresh databases for a stack: PostgreSQL metadata, the PostgreSQL warehouse database beside it,
    and a MariaDB source with the demo users loaded by its SQL script, as the MySQL container loads it."""
    metadata = support.create_pg_database("krenalis_test_stack")
    warehouse = support.create_pg_database("krenalis_test_stack_wh")
    suffix = secrets.token_hex(4)
    source_db, user, password = f"krenalis_test_shop_{suffix}", f"shop_{suffix}", "pw-" + secrets.token_hex(8)
    conn = support._mysql()
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE `{source_db}` DEFAULT CHARSET utf8mb4")
    cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    cur.execute(f"GRANT SELECT ON `{source_db}`.* TO '{user}'@'%'")
    conn.close()
    with open(ROOT / "demo" / "users.mysql.sql", "rb") as script:
        subprocess.run(["mysql", "-h", "127.0.0.1", "-P", "3306", "-u", "root", source_db], stdin=script, check=True)
    yield {"metadata": metadata, "warehouse": warehouse,
           "source": {"host": "127.0.0.1", "port": 3306, "username": user, "password": password,
                      "database": source_db}}
    support.drop_pg_database(metadata)
    support.drop_pg_database(warehouse)
    conn = support._mysql()
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS `{source_db}`")
    cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    conn.close()


def local_command(argv: list[str], **replace) -> list[str]:
    """A command of docker-compose.yml as this machine runs it: the venv's executables, local addresses."""
    argv = [replace.get(arg, arg) for arg in argv]
    return [str(Path(sys.executable).parent / argv[0])] + argv[1:]


@pytest.mark.timeout(300)
def test_compose_topology_runs_a_scheduled_import_with_local_services(compose, stack_services, tmp_path):
    """gunicorn + two workers + two beats (as if on two machines) on PostgreSQL and Redis: the demo
    pipeline is imported by the scheduler once, whatever the number of beats and workers; gunicorn
    serves the static files collected as the Docker image collects them, with DEBUG off."""
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    if not broker.startswith("redis://"):
        pytest.skip("needs a Redis broker")
    var_dir = tmp_path / "var"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{stack_services['metadata']}",
           "CELERY_BROKER_URL": broker, "KRENALIS_CELERY_QUEUE": f"krenalis-stack-{secrets.token_hex(4)}",
           "KRENALIS_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "KRENALIS_STATIC_ROOT": str(tmp_path / "staticfiles"), "DJANGO_DEBUG": ""}
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(manage + ["collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    services = compose["services"]
    processes = []
    try:
        web = Process("web", local_command(services["web"]["command"], **{"0.0.0.0:8000": f"127.0.0.1:{port}"}), env)
        processes.append(web)
        for name in ("worker-1", "worker-2"):
            processes.append(Process(name, local_command(services["worker"]["command"])
                                     + ["--hostname", f"{name}@%h", "--concurrency", "2"], env))
        beats = [Process(name, local_command(services["beat"]["command"]), env) for name in ("beat-1", "beat-2")]
        processes += beats
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/admin/login/", web)
        assert_static_files_served(base)
        for beat in beats:
            beat.wait_for_line(r"beat: Starting", 60)
        for worker in processes[1:3]:
            worker.wait_for_line(r"ready\.", 60)

        # What the compose's migrate service does next, with this machine's MariaDB as the MySQL source.
        warehouse = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "unused",
                     "database": stack_services["warehouse"], "schema": "warehouse_demo"}
        demo = subprocess.run(manage + ["demo", "--connector", "mysql", "--platform", "PostgreSQL",
                                        "--source-settings", json.dumps(stack_services["source"]),
                                        "--warehouse-settings", json.dumps(warehouse), "--first-run-after", "5"],
                              cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
        assert "every 5m" in demo, demo
        key = subprocess.run(manage + ["createapikey", "--name", "stack"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]

        workspace, pipeline, runs = wait_for_demo_run(base, key, timeout=100)
        time.sleep(3)  # the other beat's tick of the same minute has been handled by now
        status, body = http("GET", f"{base}/v1/pipelines/runs", key, workspace["id"])
        runs = body["runs"]
        assert len(runs) == 1, runs
        (run,) = runs
        assert run["error"] == "" and run["incremental"] is True
        assert run["passed"] == [DEMO_USERS, DEMO_USERS, 0, 0, DEMO_USERS, DEMO_USERS, DEMO_USERS], run
        status, body = http("GET", f"{base}/v1/connections/{pipeline['connection']}/identities?limit=1", key,
                            workspace["id"])
        assert status == 200 and body["total"] == DEMO_USERS, body
        # Both beats queued a tick for that minute; the database let only one of them start the run.
        minute = run["startTime"][:16].replace("T", " ")
        for beat in beats:
            assert any(line.startswith(f"[{minute}:") and "Sending due task krenalis.schedule-tick" in line
                       for line in beat.lines), beat.output[-2000:]
        with psycopg2.connect(dbname=stack_services["metadata"], **support.PG) as conn, conn.cursor() as cur:
            cur.execute("SELECT t.task, c.minute FROM django_celery_beat_periodictask t "
                        "JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id WHERE t.name = %s",
                        ("krenalis.schedule-tick",))
            assert cur.fetchall() == [("pipelines.tasks.schedule_tick_task", "*")]
        conn.close()
        with psycopg2.connect(dbname=stack_services["warehouse"], **support.PG) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM warehouse_demo.krenalis_identities")
            assert cur.fetchone() == (DEMO_USERS,)
        conn.close()
    finally:
        codes = {p.name: p.stop() for p in processes}
        forget_queue(broker, env["KRENALIS_CELERY_QUEUE"])
    assert codes == {p.name: 0 for p in processes}, "\n\n".join(f"{p.name}:\n{p.output[-3000:]}" for p in processes)
    assert processes_with_var_dir(var_dir) == []


# --------------------------------------------------------------------------- the README's first command


@pytest.mark.timeout(300)
def test_the_first_command_imports_the_demo_users_and_stops_on_ctrl_c(tmp_path):
    """`bin/run` with the embedded default (SQLite metadata and warehouse, file-system broker; no server):
    the scheduled demo pipeline imports the users, and Ctrl-C stops every process."""
    var_dir = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "KRENALIS_CELERY_QUEUE", "DJANGO_SETTINGS_MODULE")}
    env.update(KRENALIS_VAR_DIR=str(var_dir), PORT=str(port))
    started = time.monotonic()
    run = Process("bin/run", [str(ROOT / "bin" / "run")], env, start_new_session=True)
    try:
        key = run.wait_for_line(r"API key:\s+(api_\w+)", 120).group(1)
        admin = run.wait_for_line(r"Admin:\s+(http://\S+/admin/)\s+user admin, password (\S+)", 5)
        assert admin.group(1) == f"http://127.0.0.1:{port}/admin/"
        run.wait_for_line(r"Demo:\s+workspace \"Demo\" .* every 5m, next run at \d\d:\d\d UTC", 5)
        line = run.wait_for_line(r"run \| run \d+ of pipeline \d+ \(Import shop users\) (succeeded|failed) .*", 100)
        assert line.group(1) == "succeeded", line.group(0)
        assert f"{DEMO_USERS} users written, 0 failed" in line.group(0)
        elapsed = time.monotonic() - started
        base = f"http://127.0.0.1:{port}"
        workspace, pipeline, runs = wait_for_demo_run(base, key, timeout=5)
        status, body = http("GET", f"{base}/v1/connections/{pipeline['connection']}/identities?limit=1", key,
                            workspace["id"])
        assert status == 200 and body["total"] == DEMO_USERS, body
        assert (var_dir / "krenalis.sqlite3").exists() and (var_dir / "broker" / "queue").is_dir()
        # The password and the key it printed are kept for its user only, in a directory only it reads.
        assert var_dir.stat().st_mode & 0o777 == 0o700
        for name in ("admin_password", "api_key", "secret_key", "encryption_key"):
            assert (var_dir / name).stat().st_mode & 0o777 == 0o600, name
        assert (var_dir / "api_key").read_text().strip() == key
        print(f"bin/run: {DEMO_USERS} users imported {elapsed:.0f} s after the command started")
    finally:
        if run.popen.poll() is None:
            os.killpg(run.popen.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        code = run.stop(sig=signal.SIGINT, timeout=40)
    assert code == 0, run.output[-3000:]
    assert run.lines[-1] == "Stopped."
    assert processes_with_var_dir(var_dir) == []
    shutil.rmtree(tmp_path, ignore_errors=True)
