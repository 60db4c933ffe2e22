"""A Python function can signal only its own worker, whatever Landlock ABI the kernel has.

Landlock scopes signals only from ABI 6 (Linux 6.12); below it, the seccomp filter is what stops
user code from signalling the server (its parent), PID 1 or every process (`kill(-1, ...)`). These
tests force the ABI down to 5 (KRENALIS_TEST_LANDLOCK_ABI, read only when the worker is started)
and run real workers. The one whose function tries lethal signals runs in a new PID namespace, so
that a regression kills only the processes of that namespace, never this machine's.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.transformers import Limits
from pipelines.types import string
from tests import missing_tools

from .helpers import out_prop, prop, schema, transformer

PROJECT = Path(__file__).resolve().parents[3]
IN = schema(prop("x", string()))
OUT = schema(out_prop("r", string()))

# Every way the kernel offers to signal another process, aimed at args["target"] (the worker's
# parent unless said otherwise); each attempt reports "ok" or the exception's name.
ATTEMPTS = r'''
import ctypes, fcntl, json, os, signal

libc = ctypes.CDLL(None, use_errno=True)
NR = {"x86_64": {"tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297},
      "aarch64": {"tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240}}[os.uname().machine]

def syscall(name, *args):
    if libc.syscall(NR[name], *args) < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))

def queue_info(sig):
    info = (ctypes.c_int * 32)()
    info[0], info[2] = sig, -1  # si_signo, si_code = SI_QUEUE (the kernel refuses SI_USER to others)
    return info

def sigio_to(pid):
    read, write = os.pipe()
    fcntl.fcntl(read, fcntl.F_SETOWN, pid)
    fcntl.fcntl(read, fcntl.F_SETFL, fcntl.fcntl(read, fcntl.F_GETFL) | os.O_ASYNC)
    os.write(write, b"x")  # SIGIO (which terminates) to the owner

def attempt(f):
    try:
        f()
        return "ok"
    except BaseException as e:
        return type(e).__name__

def transform(user):
    args = json.loads(user["x"])
    parent, sig = args["target"], args["signal"]
    got = {
        "kill parent": attempt(lambda: os.kill(parent, sig)),
        "kill pid 1": attempt(lambda: os.kill(1, 0)),
        "kill every process": attempt(lambda: os.kill(-1, sig)),
        "kill own group": attempt(lambda: os.kill(0, 0)),
        "killpg parent": attempt(lambda: os.killpg(os.getpgid(parent), sig)),
        "tkill parent": attempt(lambda: syscall("tkill", parent, sig)),
        "tgkill parent": attempt(lambda: syscall("tgkill", parent, parent, sig)),
        "rt_sigqueueinfo parent": attempt(lambda: syscall("rt_sigqueueinfo", parent, sig, queue_info(sig))),
        "rt_tgsigqueueinfo parent": attempt(lambda: syscall("rt_tgsigqueueinfo", parent, parent, sig,
                                                            queue_info(sig))),
        "pidfd_send_signal parent": attempt(lambda: signal.pidfd_send_signal(os.pidfd_open(parent), sig)),
        "F_SETOWN parent": attempt(lambda: sigio_to(parent)),
    }
    return {"r": json.dumps(got)}
'''

REFUSED = {
    "kill parent": "PermissionError", "kill pid 1": "PermissionError", "kill every process": "PermissionError",
    "kill own group": "PermissionError", "killpg parent": "PermissionError", "tkill parent": "PermissionError",
    "tgkill parent": "PermissionError", "rt_sigqueueinfo parent": "PermissionError",
    "rt_tgsigqueueinfo parent": "PermissionError", "pidfd_send_signal parent": "PermissionError",
    "F_SETOWN parent": "PermissionError",
}

# Run inside the namespace by this test's interpreter: the worker's parent, which prints what the
# function got and whether it is still here to print it.
PARENT = textwrap.dedent('''
    import json, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    from pipelines.transformers import FunctionTransformer
    from pipelines.types import Property, object_type, string
    IN = object_type(Property("x", string()))
    OUT = object_type(Property("r", string(), read_optional=True))
    source = open(sys.argv[2]).read()
    t = FunctionTransformer(language="Python", source=source, in_schema=IN, out_schema=OUT, in_paths=["x"],
                            out_paths=["r"], preserve_json=False)
    try:
        [result] = t.transform_batch([{"x": json.dumps({"target": os.getpid(), "signal": signal.SIGKILL})}])
        print(json.dumps({"pid": os.getpid(), "sandbox": t._runner.sandbox, "got": json.loads(result["r"])}))
    finally:
        t.close()
''')


def _in_a_new_pid_namespace(command: list[str]) -> list[str] | None:
    """`command` in a new PID namespace, under a shell that stays its PID 1 (the kernel shields a
    namespace's init from the signals it does not handle, so the worker's parent must not be it);
    None when this machine cannot make one."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    wrapped = ["sh", "-c", '"$@"; exit $?', "sh", *command]
    for flags in (["--pid", "--fork"], ["--user", "--map-root-user", "--pid", "--fork"]):
        probe = subprocess.run([unshare, *flags, "true"], capture_output=True)
        if probe.returncode == 0:
            return [unshare, *flags, *wrapped]
    return None


def test_a_function_cannot_signal_its_parent_pid_1_or_every_process_with_landlock_abi_5(tmp_path):
    source = tmp_path / "function.py"
    source.write_text(ATTEMPTS)
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    command = _in_a_new_pid_namespace([sys.executable, str(script), str(PROJECT), str(source)])
    if command is None:
        missing_tools.skip_now("a PID namespace (unshare --pid --fork fails: run as root, or allow user "
                               "namespaces)", "sudo sysctl -w kernel.unprivileged_userns_clone=1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KRENALIS_TEST_LANDLOCK_ABI": "5"})
    # The worker's parent survived every attempt and reported them.
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["sandbox"]["landlock"] == 5  # no signal scoping from Landlock: seccomp alone
    assert report["pid"] != 1
    assert report["got"] == REFUSED


SELF_SIGNALS = r'''
import json, os, signal, threading

def transform(user):
    got = []
    handler = lambda number, frame: got.append(signal.Signals(number).name)
    signal.signal(signal.SIGUSR1, handler)
    signal.signal(signal.SIGUSR2, handler)
    os.kill(os.getpid(), signal.SIGUSR1)                       # kill
    signal.raise_signal(signal.SIGUSR2)                        # raise(): tgkill to itself
    signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # tgkill to this thread
    worker = threading.Thread(target=lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR2))
    worker.start()
    worker.join()                                              # tgkill from another thread
    os.kill(os.getpid(), 0)
    parent = []
    for target in (os.getppid(), 1, -1):
        try:
            os.kill(target, 0)
            parent.append("ok")
        except PermissionError:
            parent.append("PermissionError")
    return {"r": json.dumps({"self": got, "others": parent})}
'''


@pytest.mark.parametrize("abi", ["5", None])
def test_a_function_can_still_signal_itself(monkeypatch, abi):
    """Python's own uses (a handler for os.kill of its pid, raise_signal, pthread_kill from any of
    its threads) work; signal 0 to the server, PID 1 or every process is refused, with Landlock's
    scoping (this kernel's ABI) and without it (ABI 5)."""
    if abi is None:
        monkeypatch.delenv("KRENALIS_TEST_LANDLOCK_ABI", raising=False)
    else:
        monkeypatch.setenv("KRENALIS_TEST_LANDLOCK_ABI", abi)
    with transformer("Python", SELF_SIGNALS, IN, OUT, limits=Limits()) as t:
        [result] = t.transform_batch([{"x": ""}])
        if abi is not None:
            assert t._runner.sandbox["landlock"] == int(abi)
    assert json.loads(result["r"]) == {"self": ["SIGUSR1", "SIGUSR2", "SIGUSR1", "SIGUSR2"],
                                       "others": ["PermissionError"] * 3}
