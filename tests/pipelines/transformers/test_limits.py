"""Time and memory limits, crashes and restarts (real quickjs, real worker processes)."""

import os
import signal
import time

import pytest

from pipelines.transformers import FatalTransformError, Limits, RecordError
from pipelines.types import string

from .helpers import LANGUAGES, out_prop, prop, schema, transformer

IN = schema(prop("x", string()))
OUT = schema(out_prop("r", string()))
RECORDS = [{"x": "a"}, {"x": "b"}]

INFINITE_LOOP = {
    "JavaScript": "function transform(u) { while (true) {} }",
    "Python": "def transform(u):\n    while True:\n        pass\n",
}
MEMORY_BOMB = {
    "JavaScript": "function transform(u) { const a = []; while (true) a.push('xxxxxxxxxxxxxxxxxxxx' + a.length); }",
    "Python": "def transform(u):\n    a = []\n    while True:\n        a.append('x' * 4096)\n",
}
MEMORY_BOMB_ONE_ALLOCATION = {
    "JavaScript": "function transform(u) { let s = 'x'; while (true) s = s + s; }",
    "Python": "def transform(u):\n    return {'r': 'x' * (1 << 30)}\n",
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


TIMED_OUT = "transformation function timed out after 1 s{}; KRENALIS_FUNCTION_BATCH_TIMEOUT raises the limit"
OUT_OF_MEMORY = "transformation function exceeded the memory limit of 64 MiB{}; KRENALIS_FUNCTION_MEMORY_MB raises the limit"
FIVE = [{"x": str(n)} for n in range(5)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_function_that_never_returns_fails_two_records_alone_then_ends_the_run(language):
    """Each record gets a call of its own and the whole limit; two in a row that exceed it end
    the run, which carries their errors (the run counts them as failed at Transformation)."""
    limits = Limits(batch_timeout_seconds=1)
    with transformer(language, INFINITE_LOOP[language], IN, OUT, limits=limits) as t:
        with pytest.raises(FatalTransformError) as info:
            t.transform_batch(FIVE)
        assert str(info.value) == TIMED_OUT.format(" on 2 records in a row")
        assert info.value.record_errors == [(i, RecordError("Transformation", TIMED_OUT.format(" on this record")))
                                            for i in range(2)]
        assert t.runtime_calls == 2
        if language == "Python":
            assert t._runner.worker_pid is None  # killed
        with pytest.raises(FatalTransformError) as again:  # the run is over
            t.transform_batch(FIVE)
        assert again.value.record_errors == []  # counted once, with the batch that failed them


def test_python_timed_out_worker_is_killed():
    limits = Limits(batch_timeout_seconds=1)
    source = "import os\ndef transform(u):\n    open('pid', 'w').write(str(os.getpid()))\n    while True:\n        pass\n"
    with transformer("Python", source, IN, OUT, limits=limits) as t:
        t._runner.start()
        pid = t._runner.worker_pid
        assert t.transform_batch(RECORDS[:1]) == [RecordError("Transformation", TIMED_OUT.format(" on this record"))]
        assert not _alive(pid)


def test_javascript_top_level_infinite_loop_is_stopped():
    limits = Limits(batch_timeout_seconds=0.5)
    with transformer("JavaScript", "while (true) {}\nfunction transform(u) { return {}; }", IN, OUT,
                     limits=limits) as t:
        with pytest.raises(FatalTransformError, match=r"^transformation function timed out after 0\.5 s; "
                                                      r"KRENALIS_FUNCTION_BATCH_TIMEOUT raises the limit$"):
            t.transform_batch(RECORDS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("bombs", [MEMORY_BOMB, MEMORY_BOMB_ONE_ALLOCATION], ids=["many", "one"])
def test_memory_bomb_is_stopped(language, bombs):
    limits = Limits(memory_bytes=64 * 2**20, batch_timeout_seconds=20)
    with transformer(language, bombs[language], IN, OUT, limits=limits) as t:
        with pytest.raises(FatalTransformError) as info:
            t.transform_batch(FIVE)
        assert str(info.value) == OUT_OF_MEMORY.format(" on 2 records in a row")
        assert [error.message for _, error in info.value.record_errors] == [OUT_OF_MEMORY.format(" on this record")] * 2
        with pytest.raises(FatalTransformError):
            t.transform_batch(RECORDS)


# Record "stuck" never returns, record "huge" allocates past any limit; the others are quick.
SOME_EXCEED = {
    "JavaScript": """
function transform(u) {
  if (u.x === "stuck") while (true) {}
  if (u.x === "huge") { let s = "x"; while (true) s = s + s; }
  return {r: u.x};
}""",
    "Python": """
def transform(u):
    if u["x"] == "stuck":
        while True:
            pass
    if u["x"] == "huge":
        return {"r": "x" * (1 << 40)}
    return {"r": u["x"]}
""",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("bad,message", [("stuck", TIMED_OUT), ("huge", OUT_OF_MEMORY)], ids=["time", "memory"])
def test_only_the_records_that_exceed_a_limit_alone_fail(language, bad, message):
    """Record 150 of 300 falls in a call of 128 records (the calls grow 1, 2, 4...): that call is
    taken again one record per call, and only record 150 fails, with the limit and its setting."""
    records = [{"x": bad if i in (150, 290) else str(i)} for i in range(300)]
    limits = Limits(batch_timeout_seconds=1, memory_bytes=64 * 2**20)
    with transformer(language, SOME_EXCEED[language], IN, OUT, limits=limits) as t:
        got = t.transform_batch(records)
        failed = RecordError("Transformation", message.format(" on this record"))
        assert got == [failed if i in (150, 290) else {"r": str(i)} for i in range(300)]
        assert t.transform_rows([("a",), ("b",)]) == [("a",), ("b",)]  # and the run goes on


SLOW = {  # about 2 ms a record, 1,000 records: 2 s in all, twice the limit
    "JavaScript": "function transform(u) { const end = Date.now() + 2; while (Date.now() < end) {} return {r: u.x}; }",
    "Python": ("import time\n"
               "def transform(u):\n"
               "    end = time.perf_counter() + 0.002\n"
               "    while time.perf_counter() < end:\n"
               "        pass\n"
               "    return {'r': u['x']}\n"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_function_slower_than_the_limit_per_batch_finishes(language):
    """A batch that takes twice the time limit goes in calls that take a fraction of it."""
    rows = [(str(i),) for i in range(1000)]
    with transformer(language, SLOW[language], IN, OUT, limits=Limits(batch_timeout_seconds=1)) as t:
        assert t.transform_rows(rows) == rows
        assert t.runtime_calls > 5


@pytest.mark.parametrize("language", LANGUAGES)
def test_records_larger_than_the_memory_limit_per_batch_go_in_smaller_calls(language):
    """60 records of 1 MB text (in, and out again) with 64 MiB of memory: calls of a few records."""
    rows = [(f"{i:07d}" + "y" * (2**20 - 7),) for i in range(60)]
    source = {"JavaScript": "const transform = (u) => ({r: u.x});",
              "Python": "def transform(u):\n    return {'r': u['x']}\n"}[language]
    limits = Limits(memory_bytes=64 * 2**20, batch_timeout_seconds=20)
    with transformer(language, source, IN, OUT, limits=limits) as t:
        assert t.transform_rows(rows) == rows


def test_python_worker_memory_is_limited_by_rlimit():
    source = ("import resource\n"
              "def transform(u):\n"
              "    soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
              "    cpu = resource.getrlimit(resource.RLIMIT_CPU)\n"
              "    return {'r': f'{soft} {hard} {cpu[0]}'}\n")
    limits = Limits(memory_bytes=100 * 2**20, cpu_seconds=30)
    with transformer("Python", source, IN, OUT, limits=limits) as t:
        [result] = t.transform_batch([{"x": "a"}])
    assert result == {"r": f"{100 * 2**20} {100 * 2**20} 30"}


CRASH_ONCE = """
import os
def transform(u):
    if u["x"] == "crash" and not os.path.exists("crashed-once"):
        open("crashed-once", "w").close()
        os._exit(7)
    return {"r": u["x"] + ":" + str(os.getpid())}
"""


def test_python_worker_is_restarted_after_a_crash_and_the_batch_retried():
    with transformer("Python", CRASH_ONCE, IN, OUT) as t:
        first = t.transform_batch([{"x": "a"}])
        pid = t._runner.worker_pid
        assert first == [{"r": f"a:{pid}"}]
        got = t.transform_batch([{"x": "b"}, {"x": "crash"}, {"x": "c"}])
        new_pid = t._runner.worker_pid
        assert new_pid != pid
        assert got == [{"r": f"b:{new_pid}"}, {"r": f"crash:{new_pid}"}, {"r": f"c:{new_pid}"}]
        assert t._runner.starts == 2
        assert not _alive(pid)


def test_python_worker_killed_between_batches_is_restarted():
    source = "import os\ndef transform(u):\n    return {'r': str(os.getpid())}\n"
    with transformer("Python", source, IN, OUT) as t:
        [first] = t.transform_batch([{"x": "a"}])
        os.kill(int(first["r"]), signal.SIGKILL)
        time.sleep(0.1)
        [second] = t.transform_batch([{"x": "a"}])
        assert second["r"] != first["r"]


@pytest.mark.parametrize("source,message", [
    ("import os\ndef transform(u):\n    os._exit(7)\n",
     "transformation function crashed: the Python process exited with code 7 and an empty standard error"),
    ("import ctypes\ndef transform(u):\n    ctypes.string_at(0)\n",
     "transformation function crashed: the Python process was killed by signal SIGSEGV and standard error: "
     "Fatal Python error: Segmentation fault"),
])
def test_python_crash_that_persists_ends_the_run(source, message):
    with transformer("Python", source, IN, OUT) as t:
        with pytest.raises(FatalTransformError) as info:
            t.transform_batch(RECORDS)
        assert str(info.value).startswith(message)
        assert t._runner.starts == 2  # restarted once, then gave up


def test_python_close_stops_the_worker():
    source = "def transform(u):\n    return {}\n"
    with transformer("Python", source, IN, OUT) as t:
        t.transform_batch(RECORDS)
        pid = t._runner.worker_pid
        workdir = t._runner._dir
        assert _alive(pid)
    assert not _alive(pid)
    assert not os.path.exists(workdir)


@pytest.mark.parametrize("language", LANGUAGES)
def test_transformer_survives_many_batches_after_record_errors(language):
    source = {
        "JavaScript": "function transform(u) { if (u.x === 'bad') throw new Error('no'); return {r: u.x}; }",
        "Python": "def transform(u):\n    if u['x'] == 'bad':\n        raise RuntimeError('no')\n    return {'r': u['x']}\n",
    }[language]
    with transformer(language, source, IN, OUT) as t:
        for _ in range(20):
            got = t.transform_batch([{"x": "ok"}, {"x": "bad"}])
            assert got[0] == {"r": "ok"}
            assert isinstance(got[1], RecordError) and got[1].step == "Transformation"
