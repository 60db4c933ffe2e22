"""Python transformation functions, run in a separate sandboxed worker process.

The worker (python_worker.py, passed with -c) is never the Django process:
- it is started from the base interpreter (not the virtualenv) with -I -S -B: no
  PYTHON* variables, no site-packages, no script directory on sys.path;
- with an EMPTY environment, a private temporary directory as working directory
  and no inherited file descriptors besides its three standard streams;
- it confines itself before reading user code: rlimits (RLIMIT_AS, RLIMIT_CPU,
  ...), capabilities dropped when root, no_new_privs, seccomp (no sockets),
  Landlock (read-only stdlib and shared libraries, the temporary directory
  writable, nothing else: not the project, not /proc, not the virtualenv).

One message over the pipe per call (the records the transformer sends at once).
The parent enforces the time limit of a call (wall clock) by killing the worker;
memory exhaustion (MemoryError under RLIMIT_AS) is reported by the worker; both
are LimitExceeded, and the next call starts a new worker. A crash restarts the
worker and retries the call once, then ends the run. User code shares the worker's process, so it
can write to the pipe: no reply is read past what the worker can legitimately
send (a batch's, its memory limit; the load's, 64 KiB).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import (INVALID_RESPONSE, CallCost, FatalTransformError, FunctionCompileError, LimitExceeded, Limits,
               memory_message, timeout_message)

_WORKER_SOURCE = (Path(__file__).with_name("python_worker.py")).read_text(encoding="utf-8")
_STARTUP_TIMEOUT = 15.0
_STDERR_TAIL = 32 * 1024
# The replies before any batch (ready, load) are small (the worker cuts a load error's message).
_LOAD_REPLY_BYTES = 64 * 1024


def _interpreter() -> str:
    """The base interpreter: a virtualenv's python would read its pyvenv.cfg from the project."""
    executable = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(executable)


def _landlock_abi_cap() -> str:
    """The highest Landlock ABI the worker may use ("0": the kernel's). Only tests set
    KRENALIS_TEST_LANDLOCK_ABI, to run the sandbox as an older kernel would (Landlock scopes
    signals from ABI 6 on; the seccomp filter must hold without it)."""
    value = os.environ.get("KRENALIS_TEST_LANDLOCK_ABI", "")
    return value if value.isdigit() and int(value) >= 1 else "0"


class _WorkerCrashed(Exception):
    """The worker process went away; str() describes how."""


class _Timeout(Exception):
    pass


class _Worker:
    """One worker process and the pipe protocol with it."""

    def __init__(self, workdir: str, stderr_path: str, limits: Limits):
        self.limits = limits
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w+b")
        args = [_interpreter(), "-I", "-S", "-B", "-X", "utf8", "-X", "faulthandler", "-c", _WORKER_SOURCE,
                str(int(limits.memory_bytes)), str(int(limits.cpu_seconds)),
                "1" if limits.require_sandbox else "0", _landlock_abi_cap()]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env={}, cwd=workdir, close_fds=True, start_new_session=True)
        self._in = self.process.stdout.fileno()
        self._out = self.process.stdin.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self.sandbox = None
        self.reply_bytes = 0  # of the last reply

    @property
    def pid(self) -> int:
        return self.process.pid

    # ---- framing with a deadline

    @staticmethod
    def _wait(fd: int, event: int, seconds: float) -> bool:
        """Whether `fd` is ready (or at EOF/error, which the next read/write reports)."""
        poller = select.poll()
        poller.register(fd, event)
        return bool(poller.poll(max(1, int(seconds * 1000) + 1)))

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if not self._wait(self._out, select.POLLOUT, remaining):
                continue
            try:
                written = os.write(self._out, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _WorkerCrashed(self._exit_description()) from None
            view = view[written:]

    def _read(self, size: int, deadline: float) -> bytearray:
        """`size` bytes, read in place (one buffer: a frame never exists twice here)."""
        data = bytearray(size)
        view, done = memoryview(data), 0
        while done < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if not self._wait(self._in, select.POLLIN, remaining):
                continue
            try:
                count = os.readv(self._in, [view[done:done + (1 << 22)]])
            except BlockingIOError:
                continue
            if not count:
                raise _WorkerCrashed(self._exit_description())
            done += count
        return data

    def exchange(self, payload: bytes | None, timeout: float, max_reply: int, bound: str):
        """Send a frame (if any) and read the reply frame, within `timeout` seconds. User code
        shares the worker's process and may write to the pipe: a reply announced larger than
        `max_reply` (what the worker can legitimately send, described by `bound`) ends the exchange
        before any of it is read."""
        deadline = time.monotonic() + timeout
        if payload is not None:
            self._write(struct.pack(">I", len(payload)) + payload, deadline)
        (size,) = struct.unpack(">I", self._read(4, deadline))
        if size > max_reply:
            raise FatalTransformError(f"transformer has unexpectedly announced a response of {_size(size)}, "
                                      f"more than {bound}")
        body = self._read(size, deadline)
        self.reply_bytes = size
        try:
            # Lone surrogates in returned strings travel as is; the output decoder rejects them per record.
            return json.loads(body.decode("utf-8", "surrogatepass"))
        except ValueError:
            raise FatalTransformError(
                "transformer has unexpectedly returned an invalid JSON response") from None

    # ---- lifecycle

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            if -code == signal.SIGXCPU:
                what = f"exceeded the CPU time limit of {self.limits.cpu_seconds} s"
            else:
                what = f"was killed by signal {name}"
        else:
            what = f"exited with code {code}"
        stderr = self._stderr_tail()
        detail = f" and standard error: {stderr}" if stderr else " and an empty standard error"
        return f"the Python process {what}{detail}"

    def _stderr_tail(self) -> str:
        try:
            self._stderr.flush()
            size = os.fstat(self._stderr.fileno()).st_size
            self._stderr.seek(max(0, size - _STDERR_TAIL))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def kill(self) -> None:
        # The whole process group: anything the worker could have started goes too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.kill()  # nothing to flush: the worker keeps no state worth a graceful exit
        try:
            self._stderr.close()
        except OSError:
            pass


def _size(count: int) -> str:
    return f"{count / 2**20:g} MiB" if count >= 2**20 else f"{count / 2**10:g} KiB"


def _compile_error(error: dict, limits: Limits) -> Exception:
    """The load error reported by the worker as FunctionCompileError (or Fatal for limits)."""
    kind = error.get("type")
    line = error.get("line")
    where = f" at line {line}" if line else ""
    if kind == "syntax":
        return FunctionCompileError(f"transformation function has a syntax error{where}: {error.get('message')}")
    if kind == "exception":
        return FunctionCompileError(f"transformation function raised an error{where}: {error.get('message')}")
    if kind == "missing":
        return FunctionCompileError('transformation function does not define "transform"')
    if kind == "not_callable":
        return FunctionCompileError('transformation function defines "transform" but it is not a function')
    if kind == "memory":
        return FatalTransformError(memory_message(limits))
    return FatalTransformError(f"cannot load the transformation function: {error}")


class PythonRunner:
    """Runs batches in a worker process, restarting it once after a crash."""

    def __init__(self, source: str, keys: list[str], descriptor: dict | None, names: list[str], limits: Limits):
        self._source = source
        self._keys = keys
        self._descriptor = descriptor
        self._names = names
        self._limits = limits
        self._dir = tempfile.mkdtemp(prefix="krenalis-python-")
        self._workdir = os.path.join(self._dir, "work")
        os.mkdir(self._workdir, 0o700)
        self._worker: _Worker | None = None
        # A batch's reply is built whole in the worker, under its memory limit (RLIMIT_AS).
        self._reply_bound = (f"the memory limit of {_size(limits.memory_bytes)} (KRENALIS_FUNCTION_MEMORY_MB) "
                             f"lets it send")
        self._lock = threading.Lock()
        self.calls = 0
        self.starts = 0

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    @property
    def sandbox(self) -> dict | None:
        return self._worker.sandbox if self._worker is not None else None

    def _spawn(self) -> _Worker:
        """Start a worker and load the source; FunctionCompileError/FatalTransformError on failure."""
        try:
            worker = _Worker(self._workdir, os.path.join(self._dir, "stderr.log"), self._limits)
        except OSError as exc:
            raise FatalTransformError(f"cannot start the Python interpreter ({_interpreter()}): {exc}") from None
        self.starts += 1
        try:
            load_bound = f"the {_size(_LOAD_REPLY_BYTES)} it may send when it loads the function"
            hello = worker.exchange(None, _STARTUP_TIMEOUT, _LOAD_REPLY_BYTES, load_bound)
            if not hello.get("ready"):
                raise FatalTransformError(f"cannot start the Python worker: {hello.get('error')}")
            worker.sandbox = hello.get("sandbox")
            load = json.dumps({"op": "load", "source": self._source, "keys": self._keys,
                               "descriptor": self._descriptor, "names": self._names},
                              ensure_ascii=False).encode("utf-8", "surrogatepass")
            reply = worker.exchange(load, self._limits.batch_timeout_seconds, _LOAD_REPLY_BYTES, load_bound)
        except _Timeout:
            worker.kill()
            worker.close()
            raise FatalTransformError(timeout_message(self._limits)) from None
        except _WorkerCrashed as exc:
            worker.close()
            raise FatalTransformError(f"cannot start the Python worker: {exc}") from None
        except BaseException:
            worker.close()
            raise
        if "error" in reply:
            worker.close()
            raise _compile_error(reply["error"], self._limits)
        return worker

    def start(self) -> None:
        if self._worker is None:
            try:
                self._worker = self._spawn()
            except FunctionCompileError as exc:
                raise FatalTransformError(str(exc)) from None

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def run(self, records: list) -> tuple[list, CallCost]:
        """records: arrays of the inPaths values, or objects. Each result is an object (the
        value) or a string (the record's error); with what the call cost."""
        reply, cost = self._exchange({"op": "run", "records": records})
        return reply["results"], cost

    def run_columns(self, count: int, columns: list[list]) -> tuple[tuple, CallCost]:
        """As JavaScriptRunner.run_columns."""
        reply, cost = self._exchange({"op": "run_columns", "count": count, "columns": columns})
        try:
            return (reply["columns"], reply["shapes"], reply["shape_of"], reply["indices"], reply["items"]), cost
        except KeyError:
            raise FatalTransformError(INVALID_RESPONSE) from None

    def _exchange(self, message: dict) -> tuple[dict, CallCost]:
        """The worker's reply to one batch (with "results" or "columns"), and what it cost; a
        limit exceeded is LimitExceeded (the worker is gone: the next call starts another)."""
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                             allow_nan=True).encode("utf-8", "surrogatepass")
        with self._lock:
            for attempt in (1, 2):
                self.start()
                self.calls += 1
                started = time.monotonic()
                try:
                    reply = self._worker.exchange(payload, self._limits.batch_timeout_seconds,
                                                  self._limits.memory_bytes, self._reply_bound)
                except _Timeout:
                    self._worker.kill()
                    self._stop_worker()
                    raise LimitExceeded("time", self._limits) from None
                except _WorkerCrashed as exc:
                    self._stop_worker()
                    if attempt == 2:
                        raise FatalTransformError(f"transformation function crashed: {exc}") from None
                    continue
                except FatalTransformError:
                    self._worker.kill()
                    self._stop_worker()
                    raise
                break
            if type(reply) is not dict:
                self._worker.kill()
                self._stop_worker()
                raise FatalTransformError(INVALID_RESPONSE)
            if "results" in reply or "columns" in reply:
                return reply, CallCost(time.monotonic() - started, len(payload) + self._worker.reply_bytes)
            self._stop_worker()
        if reply.get("fatal") == "memory":
            raise LimitExceeded("memory", self._limits)
        raise FatalTransformError(f"transformation function failed: {reply.get('message', reply)}")

    def close(self) -> None:
        with self._lock:
            self._stop_worker()
            shutil.rmtree(self._dir, ignore_errors=True)


def check_python(source: str, limits: Limits) -> None:
    runner = PythonRunner(source, [], None, [], limits)
    try:
        runner._worker = runner._spawn()
    except FatalTransformError as exc:
        raise FunctionCompileError(str(exc)) from None
    finally:
        runner.close()


_sandbox_status: dict | None = None


def python_sandbox_status(limits: Limits | None = None) -> dict:
    """What the worker gets on this machine: {"available": bool, "sandbox": {...}, "error": str}.

    Lets the API answer "Python transformation language is not supported" when
    the sandbox cannot be set up. Probed once.
    """
    global _sandbox_status
    if _sandbox_status is None:
        runner = PythonRunner("def transform(user):\n    return {}\n", [], None, [], limits or Limits())
        try:
            runner.start()
            _sandbox_status = {"available": True, "sandbox": runner.sandbox, "error": None}
        except FatalTransformError as exc:
            _sandbox_status = {"available": False, "sandbox": None, "error": str(exc)}
        finally:
            runner.close()
    return _sandbox_status
