"""Functions cannot reach the server's secrets.

Python runs in a separate worker process: empty environment, a private
temporary working directory, no inherited descriptors, base interpreter with
-I -S (no site-packages, no project on sys.path), capabilities dropped, seccomp
(no sockets, no new processes) and Landlock (only the standard library and
shared libraries are readable). Each probe below runs inside the function and
reports what it got; the test asserts the secret never comes back.

JavaScript runs in quickjs, which exposes no I/O at all.
"""

import json
import os
from pathlib import Path

import pytest

from pipelines.transformers import python_sandbox_status
from pipelines.types import string

from .helpers import out_prop, prop, run, schema

PROJECT = Path(__file__).resolve().parents[3]
IN = schema(prop("x", string()))
OUT = schema(out_prop("r", string()))

PROBE = r'''
import json, os, sys

def attempt(f):
    try:
        return {"ok": True, "value": repr(f())[:2000]}
    except BaseException as e:
        return {"ok": False, "error": type(e).__name__ + ": " + str(e)[:300]}

def read(path):
    with open(path, "rb") as f:
        return f.read()

def import_with_path(name, *paths):
    for path in paths:
        sys.path.insert(0, path)
    module = __import__(name)
    return getattr(module, "__file__", module)

def transform(user):
    args = json.loads(user["x"])
    import socket
    probes = {
        "environ": attempt(lambda: dict(os.environ)),
        "cwd": attempt(os.getcwd),
        "pid": attempt(lambda: (os.getpid(), os.getppid())),
        "canary_file": attempt(lambda: read(args["canary_file"])),
        "encryption_key": attempt(lambda: read(args["project"] + "/var/encryption_key")),
        "relative_key": attempt(lambda: read("var/encryption_key")),
        "settings_file": attempt(lambda: read(args["project"] + "/krenalis/settings.py")),
        "list_project": attempt(lambda: os.listdir(args["project"])),
        "parent_environ": attempt(lambda: read(f"/proc/{os.getppid()}/environ")),
        "parent_cmdline": attempt(lambda: read(f"/proc/{os.getppid()}/cmdline")),
        "parent_memory": attempt(lambda: read(f"/proc/{os.getppid()}/maps")),
        "own_environ": attempt(lambda: read("/proc/self/environ")),
        "import_django": attempt(lambda: import_with_path("django")),
        "import_django_from_venv": attempt(lambda: import_with_path("django", args["site_packages"])),
        "import_settings": attempt(lambda: import_with_path("krenalis.settings", args["project"])),
        "import_psycopg2": attempt(lambda: import_with_path("psycopg2", args["site_packages"])),
        "tcp_database": attempt(lambda: socket.create_connection(("127.0.0.1", 5432), timeout=2)),
        "unix_database": attempt(lambda: socket.socket(socket.AF_UNIX).connect("/var/run/postgresql/.s.PGSQL.5432")),
        "subprocess": attempt(lambda: __import__("subprocess").run(["cat", args["canary_file"]], capture_output=True)),
        "fork": attempt(os.fork),
        "signal_parent": attempt(lambda: os.kill(os.getppid(), 0)),
        "write_outside": attempt(lambda: open(args["outside_file"], "w").write("x")),
        "write_cwd": attempt(lambda: open("scratch.txt", "w").write("x")),
        "stdlib": attempt(lambda: (__import__("hashlib").sha256(b"").hexdigest()[:8], __import__("zoneinfo").ZoneInfo("Europe/Rome").key,
                                   __import__("re").sub("a", "b", "a"), str(__import__("decimal").Decimal("1.5")))),
        "threads": attempt(lambda: (lambda t: (t.start(), t.join(), "joined")[-1])(__import__("threading").Thread(target=lambda: None))),
    }
    return {"r": json.dumps(probes)}
'''


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    canary_dir = tmp_path_factory.mktemp("secrets")
    canary_file = canary_dir / "canary"
    canary_file.write_text("canary-file-secret")
    site_packages = str(Path(__import__("django").__file__).resolve().parents[1])
    previous = os.environ.get("KRENALIS_ENCRYPTION_KEY")
    os.environ["KRENALIS_ENCRYPTION_KEY"] = "canary-env-secret"
    os.environ["DATABASE_PASSWORD"] = "canary-env-secret"
    try:
        args = {"project": str(PROJECT), "canary_file": str(canary_file), "site_packages": site_packages,
                "outside_file": str(canary_dir / "written")}
        [result] = run("Python", PROBE, IN, OUT, [{"x": json.dumps(args)}])
    finally:
        if previous is None:
            del os.environ["KRENALIS_ENCRYPTION_KEY"]
        else:
            os.environ["KRENALIS_ENCRYPTION_KEY"] = previous
        del os.environ["DATABASE_PASSWORD"]
    assert isinstance(result, dict), result
    return json.loads(result["r"]), canary_dir


def _denied(probe):
    return not probe["ok"]


def test_python_worker_has_an_empty_environment(probes):
    got, _ = probes
    assert got["environ"]["ok"]
    assert "canary-env-secret" not in got["environ"]["value"]
    # Only what the interpreter sets for itself (UTF-8 locale coercion), nothing from the server.
    assert eval(got["environ"]["value"]).keys() <= {"LC_CTYPE"}
    assert _denied(got["own_environ"])


def test_python_worker_runs_elsewhere_in_another_process(probes):
    got, _ = probes
    cwd = eval(got["cwd"]["value"])
    assert not cwd.startswith(str(PROJECT))
    pid, ppid = eval(got["pid"]["value"])
    assert pid != os.getpid() and ppid == os.getpid()


def test_python_worker_cannot_read_files_outside_its_sandbox(probes):
    got, _ = probes
    for name in ("canary_file", "encryption_key", "relative_key", "settings_file", "list_project"):
        assert _denied(got[name]), (name, got[name])
        assert "canary-file-secret" not in json.dumps(got[name])
    assert got["canary_file"]["error"].startswith("PermissionError")
    assert got["settings_file"]["error"].startswith("PermissionError")
    everything = json.dumps(got)
    for secret_file in ("var/encryption_key", "var/secret_key"):
        path = PROJECT / secret_file
        if path.exists():  # readable by this test process, never by the function
            assert path.read_text().strip() not in everything


def test_python_worker_cannot_read_the_server_process(probes):
    got, _ = probes
    for name in ("parent_environ", "parent_cmdline", "parent_memory"):
        assert _denied(got[name]), (name, got[name])
    assert _denied(got["signal_parent"])


def test_python_worker_cannot_import_django_or_the_project(probes):
    got, _ = probes
    for name in ("import_django", "import_django_from_venv", "import_settings", "import_psycopg2"):
        assert _denied(got[name]), (name, got[name])


def test_python_worker_has_no_network_nor_subprocesses(probes):
    got, _ = probes
    for name in ("tcp_database", "unix_database", "subprocess", "fork"):
        assert _denied(got[name]), (name, got[name])
        assert "PermissionError" in got[name]["error"]


def test_python_worker_writes_only_in_its_directory(probes):
    got, canary_dir = probes
    assert _denied(got["write_outside"])
    assert not (canary_dir / "written").exists()
    assert got["write_cwd"]["ok"]


def test_python_worker_still_has_the_standard_library(probes):
    got, _ = probes
    assert got["stdlib"] == {"ok": True, "value": repr(("e3b0c442", "Europe/Rome", "b", "1.5"))}
    assert got["threads"] == {"ok": True, "value": "'joined'"}


def test_python_sandbox_status():
    status = python_sandbox_status()
    assert status["available"], status
    assert status["sandbox"]["landlock"] >= 1
    assert status["sandbox"]["seccomp"]


def test_python_function_check_does_not_run_in_the_server():
    # The check loads the code in a worker too: top-level code cannot see the server either.
    from pipelines.transformers import FunctionCompileError, check_function

    os.environ["KRENALIS_ENCRYPTION_KEY"] = "canary-env-secret"
    try:
        with pytest.raises(FunctionCompileError) as info:
            check_function("Python", "import os\nraise RuntimeError(repr(dict(os.environ)) + open("
                                     f"{str(PROJECT / 'krenalis' / 'settings.py')!r}).read())\n")
    finally:
        del os.environ["KRENALIS_ENCRYPTION_KEY"]
    assert "canary-env-secret" not in str(info.value)
    assert "PermissionError" in str(info.value)


def test_javascript_has_no_io():
    source = ("const transform = (u) => ({r: [typeof std, typeof os, typeof require, typeof process, "
              "typeof fetch, typeof XMLHttpRequest, typeof importScripts].join(',')})")
    [result] = run("JavaScript", source, IN, OUT, [{"x": "a"}])
    assert result == {"r": ",".join(["undefined"] * 7)}
