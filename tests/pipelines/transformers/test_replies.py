"""The Python worker's replies are bounded: user code that writes to the protocol pipe (it shares
the worker's process) cannot make the parent read a huge frame. A run's reply can be no larger than
the worker's memory limit (it is built whole in its address space); the replies before any batch
(ready, load) are small. A frame announced past its bound ends the run, or the save, with an error,
and is never read: the parent's memory stays where it was. Real workers."""

import pytest

from pipelines.transformers import FatalTransformError, FunctionCompileError, Limits, check_function
from pipelines.types import string

from .helpers import out_prop, peak_rss_growth, prop, schema, transformer

IN = schema(prop("x", string()))
OUT = schema(out_prop("r", string()))
MiB = 2**20

# Finds the protocol's write end (a pipe that is not fd 1, which is /dev/null) and announces a frame
# of `size` bytes, then writes them: what the parent would buffer if it believed the length.
FLOOD = '''
import os, stat, struct

def flood(size):
    for fd in range(3, 64):
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            os.write(fd, struct.pack(">I", size))
        except OSError:
            continue
        chunk = b"x" * (1 << 20)
        written = 0
        while written < size:
            written += os.write(fd, chunk[:size - written])
        return
'''


def test_a_run_reply_announced_past_the_memory_limit_ends_the_run_unread():
    source = FLOOD + "def transform(user):\n    flood(200 * 2**20)\n    return {'r': 'x'}\n"
    limits = Limits(memory_bytes=64 * MiB, batch_timeout_seconds=30)
    with transformer("Python", source, IN, OUT, limits=limits) as t:
        error, growth = peak_rss_growth(lambda: t.transform_batch([{"x": "a"}]))
        assert isinstance(error, FatalTransformError), error
        assert str(error) == ("transformer has unexpectedly announced a response of 200 MiB, more than the "
                              "memory limit of 64 MiB (KRENALIS_FUNCTION_MEMORY_MB) lets it send")
        assert t._runner.worker_pid is None  # killed, not drained
        with pytest.raises(FatalTransformError):  # the run is over
            t.transform_batch([{"x": "a"}])
    assert growth < 32 * MiB, growth  # the 200 MiB were never read (unbounded: 400 MiB and more)


def test_a_reply_announced_at_load_past_its_bound_fails_the_check_unread():
    """The save of a pipeline (check_function in the web server) loads the function in a worker:
    top-level code announcing a huge reply gets a 400's message, and the server's memory stays."""
    source = FLOOD + "flood(200 * 2**20)\ndef transform(user):\n    return {}\n"
    error, growth = peak_rss_growth(lambda: check_function("Python", source, Limits(batch_timeout_seconds=30)))
    assert isinstance(error, FunctionCompileError), error
    assert str(error) == ("transformer has unexpectedly announced a response of 200 MiB, more than the "
                          "64 KiB it may send when it loads the function")
    assert growth < 32 * MiB, growth


def test_a_legitimate_reply_near_the_limit_still_comes_back():
    """Replies within the bound are read whole (a batch of large values)."""
    source = "def transform(user):\n    return {'r': user['x'] * 2}\n"
    records = [{"x": "y" * 500_000} for _ in range(8)]  # 8 MB back
    with transformer("Python", source, IN, OUT, limits=Limits(memory_bytes=128 * MiB)) as t:
        assert t.transform_batch(records) == [{"r": "y" * 1_000_000}] * 8


def test_a_long_error_at_load_comes_back_shortened():
    """A load reply carries the top level's error message: a huge one is cut, not refused."""
    with pytest.raises(FunctionCompileError) as info:
        check_function("Python", "raise ValueError('v' * 10_000_000)\ndef transform(user):\n    return {}\n")
    message = str(info.value)
    assert message.startswith("transformation function raised an error at line 1: ValueError: vvvv")
    assert message.endswith("v…") and len(message) < 5_000
