"""Throughput, printed (not asserted): 100k rows x 3 string properties, batches of 1000."""

import time

import pytest

from pipelines.types import string

from .helpers import LANGUAGES, out_prop, prop, schema, transformer

IN = schema(prop("first", string()), prop("last", string()), prop("email", string()))
OUT = schema(out_prop("name", string()), out_prop("email", string()), out_prop("last", string()))
SOURCES = {
    "JavaScript": "const transform = (u) => ({name: u.first + ' ' + u.last, email: u.email.toLowerCase(), last: u.last});",
    "Python": "def transform(u):\n    return {'name': u['first'] + ' ' + u['last'], 'email': u['email'].lower(), 'last': u['last']}\n",
}
ROWS = 100_000
BATCH = 1000


@pytest.mark.parametrize("language", LANGUAGES)
def test_throughput(language, capsys):
    rows = [{"first": f"First{i}", "last": f"Last{i}", "email": f"User{i}@Example.com"} for i in range(ROWS)]
    with transformer(language, SOURCES[language], IN, OUT) as t:
        t.transform_batch(rows[:10])  # start the runtime
        calls = t.runtime_calls
        started = time.perf_counter()
        done = 0
        for i in range(0, ROWS, BATCH):
            results = t.transform_batch(rows[i:i + BATCH])
            done += len(results)
        elapsed = time.perf_counter() - started
        assert t.runtime_calls - calls == ROWS // BATCH
    assert done == ROWS
    assert results[-1] == {"name": f"First{ROWS - 1} Last{ROWS - 1}", "email": f"user{ROWS - 1}@example.com",
                           "last": f"Last{ROWS - 1}"}
    with capsys.disabled():
        print(f"\n{language}: {ROWS} rows x 3 string properties in batches of {BATCH}: "
              f"{ROWS / elapsed:,.0f} rows/s ({elapsed:.2f} s)")
