"""The process that runs Python transformation functions (standard library only).

Started by pipelines/transformers/python.py as
    python -I -S -B -X utf8 -X faulthandler -c <this source> <memory_bytes> <cpu_seconds> <require_sandbox 0|1>
        <highest Landlock ABI to use, 0 for the kernel's (tests run older kernels' sandbox with it)>
with an empty environment, a private temporary directory as working directory
and no inherited file descriptors besides stdin/stdout (the protocol) and
stderr (a log file). Before reading any user code it confines itself:

- resource limits: RLIMIT_AS (memory), RLIMIT_CPU, no core dumps, a file size
  cap, no new processes (RLIMIT_NPROC, effective for non-root users);
- when running as root: every capability dropped (bounding set included);
- no_new_privs, then a seccomp filter denying socket() and io_uring (no network,
  no Unix sockets such as PostgreSQL's), new processes (fork/vfork/clone
  without CLONE_THREAD) and signals to any other process (kill, tkill, tgkill
  and the sigqueue calls only with this process's own pid; pidfd_send_signal,
  and F_SETOWN/FIOSETOWN, which make the kernel send SIGIO, refused), on every
  kernel: Landlock scopes signals only from ABI 6 (Linux 6.12);
- Landlock: the file system is read-only and limited to the standard library and
  shared libraries, the working directory is the only writable place; TCP
  bind/connect, abstract Unix sockets and (ABI 6) signals outside the sandbox denied.
  So the project directory (settings, var/encryption_key), /proc (the parent's
  environment and memory) and the virtualenv (Django, psycopg2) are unreachable.

Protocol: frames of a 4-byte big-endian length followed by UTF-8 JSON, over
the original stdin/stdout (fds 0 and 1 then point to /dev/null, so print() and
input() in user code are harmless).

    worker -> {"ready": true, "sandbox": {...}} | {"ready": false, "error": "..."}
    parent -> {"op": "load", "source": "...", "keys": ["email", ...], "descriptor": {...} | null}
    worker -> {"ok": true} | {"error": {"type": "syntax"|"exception"|"missing"|"not_callable"|"memory", ...}}
    parent -> {"op": "run", "records": [[<value of keys[0]>, ...] | {...}, ...]}
    worker -> {"results": [{<transformed value>} | "Python: KeyError: 'email'", ...]} | {"fatal": "memory"}

A record is an array of the values of `keys` (a dict is made of it) or, when some
property is absent, an object.
"""

import ctypes
import datetime as _datetime
import decimal as _decimal
import json
import os
import resource
import signal
import struct
import sys
import traceback
import uuid as _uuid

SOURCE_NAME = "<transformation>"


# =========================================================================== sandbox

def _set_limits(memory_bytes, cpu_seconds):
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing too much fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    except (ValueError, OSError):
        pass


_libc = None


def _libc_():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


def _check(result, what):
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities():
    """Root keeps its uid (the interpreter may live where only root can read) but loses every capability."""
    libc = _libc_()
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = 63
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# machine -> AUDIT_ARCH and syscall numbers (None: no such syscall on that machine)
_SECCOMP_ARCHES = {
    "x86_64": {"arch": 0xC000003E, "socket": 41, "io_uring_setup": 425, "clone": 56, "clone3": 435,
               "fork": 57, "vfork": 58, "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
               "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424, "fcntl": 72, "ioctl": 16},
    "aarch64": {"arch": 0xC00000B7, "socket": 198, "io_uring_setup": 425, "clone": 220, "clone3": 435,
                "fork": None, "vfork": None, "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
                "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "fcntl": 25, "ioctl": 29},
}
_CLONE_THREAD = 0x00010000
# Their first argument is a pid (tkill's, a thread id: this process's own is its main thread's);
# tgkill's kernel check that the thread belongs to that pid covers the other threads.
_SIGNAL_SYSCALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
_F_SETOWN, _F_SETOWN_EX = 8, 15          # fcntl: the owner the kernel sends SIGIO/SIGURG to
_FIOSETOWN, _SIOCSPGRP = 0x8901, 0x8902  # ioctl: the same


def _assemble(program):
    """BPF instructions with symbolic jump targets (labels) -> _SockFilter array."""
    labels, instructions = {}, []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(instructions)
        else:
            instructions.append(item)
    out = []
    for index, (code, jt, jf, k) in enumerate(instructions):
        jt = labels[jt] - index - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - index - 1 if isinstance(jf, str) else jf
        out.append(_SockFilter(code, jt, jf, k))
    return (_SockFilter * len(out))(*out)


def _install_seccomp():
    """Deny sockets (no network, no Unix sockets), io_uring, new processes (threads are allowed)
    and signals to other processes (this one may still signal itself and its threads, as Python's
    signal.raise_signal, pthread_kill and faulthandler do)."""
    numbers = _SECCOMP_ARCHES.get(os.uname().machine)
    if numbers is None:
        return False
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eacces, eperm, enosys = 0x7FFF0000, 0x00050000 | 13, 0x00050000 | 1, 0x00050000 | 38
    # The kernel reads these int arguments from the low 32 bits of their registers (little-endian:
    # the first 4 bytes of args[i], at 16 + 8 i in seccomp_data).
    arg0, arg1 = 16, 24
    program = [
        (ld_abs, 0, 0, 4),                                   # arch
        (jeq, 0, "deny", numbers["arch"]),
        (ld_abs, 0, 0, 0),                                   # syscall number
        (jge, "deny", 0, 0x40000000),                        # x32 ABI
        (jeq, "deny", 0, numbers["socket"]),
        (jeq, "deny", 0, numbers["io_uring_setup"]),
        (jeq, "nosys", 0, numbers["clone3"]),                # glibc falls back to clone
        (jeq, "refuse", 0, numbers["pidfd_send_signal"]),
        (jeq, "owner", 0, numbers["fcntl"]),
        (jeq, "ioctl", 0, numbers["ioctl"]),
    ]
    for name in _SIGNAL_SYSCALLS:
        program.append((jeq, "self", 0, numbers[name]))
    for name in ("fork", "vfork"):
        if numbers[name] is not None:
            program.append((jeq, "deny", 0, numbers[name]))
    program += [
        (jeq, 0, "allow", numbers["clone"]),
        (ld_abs, 0, 0, arg0),                                # clone flags
        (jset, "allow", "deny", _CLONE_THREAD),
        "self", (ld_abs, 0, 0, arg0),                        # the pid a signal goes to: this process only
        (jeq, "allow", "refuse", os.getpid()),               # (threads share it; no fork can change it)
        "owner", (ld_abs, 0, 0, arg1),                       # fcntl command
        (jeq, "refuse", 0, _F_SETOWN),
        (jeq, "refuse", "allow", _F_SETOWN_EX),
        "ioctl", (ld_abs, 0, 0, arg1),                       # ioctl request
        (jeq, "refuse", 0, _FIOSETOWN),
        (jeq, "refuse", "allow", _SIOCSPGRP),
        "allow", (ret, 0, 0, allow),
        "deny", (ret, 0, 0, eacces),
        "refuse", (ret, 0, 0, eperm),
        "nosys", (ret, 0, 0, enosys),
    ]
    filters = _assemble(program)
    fprog = _SockFprog(len(filters), filters)
    _check(_libc_().prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0),
           "seccomp")
    return True


# Landlock (linux/landlock.h)
_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock_abi():
    libc = _libc_()
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return abi if abi > 0 else 0


def _readable_paths():
    """The standard library (with lib-dynload) and the shared libraries extension modules load."""
    stdlib = os.path.dirname(os.__file__)
    paths = [stdlib, os.path.join(sys.base_prefix, "lib"), "/lib", "/lib64", "/usr/lib", "/usr/lib64",
             "/usr/local/lib", "/usr/share/zoneinfo", "/etc/localtime"]
    seen, out = set(), []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen and os.path.exists(real):
            seen.add(real)
            out.append(real)
    return out


def _apply_landlock(workdir, abi):
    libc = _libc_()
    fs = (1 << 13) - 1  # ABI 1 rights
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    if abi >= 5:
        fs |= _FS_IOCTL_DEV
    attr = _RulesetAttr(fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                                  ctypes.c_uint32(0)), "landlock_create_ruleset")
    file_rights = _FS_READ_FILE
    rules = [(path, _FS_READ_FILE | _FS_READ_DIR if os.path.isdir(path) else file_rights)
             for path in _readable_paths()]
    rules.append((os.path.realpath(workdir), fs & ~_FS_EXECUTE))
    try:
        for path, rights in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(rights, fd)
                _check(libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                                    ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                                    ctypes.c_uint32(0)), f"landlock_add_rule({path})")
            finally:
                os.close(fd)
        _check(libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _sandbox(workdir, require, abi_cap=0):
    """Confine this process; returns a description, raises if `require` and Landlock is missing.
    `abi_cap`: use at most this Landlock ABI (0: whatever the kernel has)."""
    info = {"uid": os.geteuid(), "capabilities_dropped": False, "seccomp": False, "landlock": 0}
    if os.geteuid() == 0:
        _drop_capabilities()
        info["capabilities_dropped"] = True
    _check(_libc_().prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0), "no_new_privs")
    info["seccomp"] = _install_seccomp()
    abi = _landlock_abi()
    if abi_cap:
        abi = min(abi, abi_cap)
    if abi:
        _apply_landlock(workdir, abi)
        info["landlock"] = abi
    elif require:
        raise OSError("the kernel does not support Landlock, which Python transformations require")
    return info


# =========================================================================== protocol

class _Channel:
    def __init__(self, read_fd, write_fd):
        self.read_fd = read_fd
        self.write_fd = write_fd

    def _read_exactly(self, size):
        chunks = []
        while size:
            chunk = os.read(self.read_fd, min(size, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self):
        (size,) = struct.unpack(">I", self._read_exactly(4))
        return json.loads(self._read_exactly(size).decode("utf-8", "surrogatepass"))

    def send_text(self, text):
        data = text.encode("utf-8", "surrogatepass")
        payload = struct.pack(">I", len(data)) + data
        view = memoryview(payload)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def send(self, obj):
        self.send_text(json.dumps(obj, ensure_ascii=False))


# =========================================================================== records

def _converter(code):
    if code == "D":
        return _decimal.Decimal
    if code == "T":
        return _datetime.datetime.fromisoformat
    if code == "d":
        return _datetime.date.fromisoformat
    if code == "t":
        return _datetime.time.fromisoformat
    if code == "u":
        return _uuid.UUID
    kind, inner = code
    if kind == "o":
        return _object_converter(inner)
    element = _converter(inner)
    if kind == "a":
        return lambda value: [None if item is None else element(item) for item in value]
    return lambda value: {key: None if item is None else element(item) for key, item in value.items()}


def _object_converter(codes):
    fields = [(name, _converter(code)) for name, code in codes.items()]

    def convert(record):
        for name, function in fields:
            value = record.get(name)
            if value is not None:
                record[name] = function(value)
        return record

    return convert


def _describe(exc):
    name = type(exc).__name__
    text = str(exc)
    return f"Python: {name}: {text}" if text else f"Python: {name}"


LOAD_MESSAGE_CHARACTERS = 4000  # a load reply stays small: the parent refuses one over 64 KiB


def _shortened(text):
    return text if len(text) <= LOAD_MESSAGE_CHARACTERS else text[:LOAD_MESSAGE_CHARACTERS - 1] + "\u2026"


MAX_SHAPES = 64  # key orders kept per batch; a row of another order comes back alone
_dumps = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode


class Worker:
    def __init__(self, channel):
        self.channel = channel
        self.transform = None
        self.convert = None
        self.keys = ()
        self.positions = {}

    def load(self, message):
        source = message["source"]
        self.keys = message.get("keys") or ()
        self.positions = {name: j for j, name in enumerate(message.get("names") or ())}
        descriptor = message.get("descriptor")
        self.convert = _object_converter(descriptor) if descriptor else None
        try:
            code = compile(source, SOURCE_NAME, "exec")
        except SyntaxError as exc:
            return {"error": {"type": "syntax", "message": _shortened(str(exc.msg)), "line": exc.lineno}}
        except (ValueError, OverflowError, RecursionError) as exc:  # e.g. NUL bytes, too deep nesting
            return {"error": {"type": "syntax", "message": _shortened(str(exc)), "line": None}}
        namespace = {"__name__": "__transformation__", "__builtins__": __builtins__}
        try:
            exec(code, namespace)
        except MemoryError:
            return {"error": {"type": "memory"}}
        except BaseException as exc:  # noqa: BLE001 - any failure of the user's top level
            line = None
            for frame in traceback.extract_tb(exc.__traceback__):
                if frame.filename == SOURCE_NAME:
                    line = frame.lineno
            if isinstance(exc, SyntaxError) and exc.filename == SOURCE_NAME:
                line = exc.lineno
            return {"error": {"type": "exception", "message": _shortened(_describe(exc)[len("Python: "):]),
                              "line": line}}
        transform = namespace.get("transform")
        if transform is None:
            return {"error": {"type": "missing"}}
        if not callable(transform):
            return {"error": {"type": "not_callable"}}
        self.transform = transform
        return {"ok": True}

    def _value(self, record):
        """transform's value for one record (a dict, or the keys' values in order); what it raises
        is that record's error."""
        if type(record) is not dict:
            record = dict(zip(self.keys, record))
        if self.convert is not None:
            record = self.convert(record)
        value = self.transform(record)
        if type(value) is not dict:
            raise ValueError(f"transformed value is {type(value).__name__!r}, not 'dict'")
        return value

    def run(self, records):
        """One JSON text for the batch: each record's value (a dict) or its error message."""
        results = []
        try:
            for record in records:
                try:
                    results.append(self._value(record))
                except MemoryError:
                    raise
                except BaseException as exc:  # noqa: BLE001 - SystemExit included: one record failed
                    results.append(_describe(exc))
            try:
                return _dumps({"results": results})  # one call for the batch...
            except (ValueError, TypeError, RecursionError):
                pass
            parts = [self._text(result) for result in results]  # ...or record by record, to tell which
            return '{"results":[' + ",".join(parts) + "]}"
        except MemoryError:
            results = parts = None
            return '{"fatal":"memory"}'

    def run_columns(self, count, columns):
        """One JSON text for the batch: the output columns (the values of names, row by row), the
        orders of keys seen (shapes) and each row's (empty when there is one), and the index and
        result (as run gives it) of each record whose value is not just those."""
        out = [[None] * count for _ in self.positions]
        shapes, shape_of, indices, items = {}, [None] * count, [], []
        try:
            for i, values in enumerate(zip(*columns) if columns else [()] * count):
                try:
                    value = self._value(values)
                except MemoryError:
                    raise
                except BaseException as exc:  # noqa: BLE001 - SystemExit included: one record failed
                    indices.append(i)
                    items.append(_describe(exc))
                    continue
                shape = self._into_columns(value, out, i, shapes)
                if shape is None:
                    indices.append(i)
                    items.append(value)
                else:
                    shape_of[i] = shape
            reply = {"columns": out, "shapes": list(shapes), "shape_of": shape_of if len(shapes) > 1 else [],
                     "indices": indices}
            try:
                return _dumps({**reply, "items": items})
            except (ValueError, TypeError, RecursionError):
                pass
            parts = [self._text(item) for item in items]  # the rest holds only plain values
            return _dumps(reply)[:-1] + ',"items":[' + ",".join(parts) + "]}"
        except MemoryError:
            out = shapes = shape_of = indices = items = parts = None
            return '{"fatal":"memory"}'

    def _into_columns(self, value, out, i, shapes):
        """Puts the value's items at row i of the output columns when its JSON would be exactly
        them (keys among names, each a str, a bool, an int, a finite float or None) and returns
        the index in `shapes` of its keys' order (kept so that a failing check in the parent
        reports the same property as the per-record form); None otherwise, row i left empty."""
        positions = self.positions
        for key, item in value.items():
            j = positions.get(key)
            kind = type(item)
            if j is None or not (kind is str or kind is bool or kind is int or item is None
                                 or (kind is float and item - item == 0)):
                break
            out[j][i] = item
        else:
            keys = tuple(value)
            shape = shapes.get(keys)
            if shape is None and len(shapes) < MAX_SHAPES:
                shape = shapes[keys] = len(shapes)
            if shape is not None:
                return shape
        for column in out:
            column[i] = None
        return None

    @staticmethod
    def _text(result):
        try:
            return _dumps(result)
        except ValueError as exc:
            if "Circular reference" in str(exc):
                return _dumps(_describe(ValueError("transformed value contains a circular reference")))
            return _dumps(_describe(exc))
        except BaseException as exc:  # noqa: BLE001 - e.g. RecursionError of a deeply nested value
            return _dumps(_describe(exc))


def main():
    memory_bytes, cpu_seconds, require = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    abi_cap = int(sys.argv[4])
    # The protocol keeps the original pipes; fds 0 and 1 become /dev/null for user code.
    channel = _Channel(os.dup(0), os.dup(1))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    try:
        _set_limits(memory_bytes, cpu_seconds)
        info = _sandbox(os.getcwd(), require, abi_cap)
    except Exception as exc:  # noqa: BLE001
        channel.send({"ready": False, "error": f"cannot set up the sandbox: {exc}"})
        return 2
    channel.send({"ready": True, "sandbox": info})
    worker = Worker(channel)
    while True:
        try:
            message = channel.receive()
        except EOFError:
            return 0
        except MemoryError:
            channel.send_text('{"fatal":"memory"}')
            continue
        op = message.get("op")
        if op == "load":
            reply = worker.load(message)
            channel.send(reply)
        elif op in ("run", "run_columns"):
            records = message.get("records")
            count, columns = message.get("count"), message.get("columns")
            message = None
            try:
                reply = worker.run(records) if op == "run" else worker.run_columns(count, columns)
            finally:
                records = columns = None
            try:
                channel.send_text(reply)
            except MemoryError:
                reply = None
                channel.send_text('{"fatal":"memory"}')
        else:
            channel.send({"fatal": "error", "message": f"unknown operation {op!r}"})


if __name__ == "__main__":
    sys.exit(main())
