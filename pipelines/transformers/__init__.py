"""Transformation functions (JavaScript in quickjs, Python in a sandboxed worker process).

No Django here: settings arrive as arguments. The run engine builds one
FunctionTransformer per run and feeds it batches of records; the API validates
a function's source with check_function at create/update.

    transformer = FunctionTransformer(language="JavaScript", source=..., in_schema=..., out_schema=...,
                                      in_paths=[...], out_paths=[...], preserve_json=False)
    try:
        results = transformer.transform_rows(rows)   # runtime calls of as many rows as fit the limits
    finally:
        transformer.close()

The run engine hands over rows (tuples in the input schema's order) and gets
rows of warehouse columns back; transform_batch takes and gives dicts (the
admin's "Test on preview rows"). Each result is the transformed record or a
RecordError (step "Transformation" when user code threw for that record, or when
the record alone exceeds the time or memory limit; "OutputValidation" when its
result does not fit the output schema). Errors that end the run (syntax error,
missing transform, a limit exceeded by the top-level code or by several records
in a row, a crash that persists) raise FatalTransformError.

The limits hold per runtime call, and a call takes as many rows as fit well
within them (see _Pacer): a slow function, or large rows, make smaller calls, so
that the limits mean "per record" in effect.
"""

from __future__ import annotations

import math
import operator
import threading
from dataclasses import dataclass

from pipelines.types import Type, leaf_paths, leaf_values, prune


class RecordError(Exception):
    """One record failed; `.step` is "Transformation" or "OutputValidation"; str() is the message."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step
        self.message = message

    def __repr__(self) -> str:
        return f"RecordError({self.step!r}, {self.message!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RecordError) and (self.step, self.message) == (other.step, other.message)

    def __hash__(self) -> int:
        return hash((self.step, self.message))


class FatalTransformError(Exception):
    """Ends the run: syntax error, missing transform, timeout, memory exhausted, persistent crash.
    `record_errors`: (index in the batch, RecordError) of the batch's records that failed before
    it (e.g. those that exceeded a limit alone, when too many did in a row)."""

    def __init__(self, message: str, record_errors: list | None = None):
        super().__init__(message)
        self.record_errors = record_errors or []


class LimitExceeded(FatalTransformError):
    """A runtime call exceeded the time or memory limit (the runtime is discarded and restarted by
    the next call). `.limit` is "time" or "memory"; str() is the message that ends a run."""

    def __init__(self, limit: str, limits: "Limits"):
        self.limit, self.limits = limit, limits
        super().__init__(self.message())

    def message(self, where: str = "") -> str:
        return (timeout_message if self.limit == "time" else memory_message)(self.limits, where)


class FunctionCompileError(ValueError):
    """The source cannot be used (at create/update); str() is a message for a 400 response."""


@dataclass
class Limits:
    batch_timeout_seconds: float = 10.0   # per runtime call (JS: CPU time of the process; Python: wall clock)
    memory_bytes: int = 256 * 2**20       # JS: quickjs runtime; Python: RLIMIT_AS of the worker
    cpu_seconds: int = 60                 # Python: RLIMIT_CPU of the worker (a backstop; it is restarted)
    require_sandbox: bool = True          # Python: refuse to run user code without the Landlock sandbox


DEFAULT_LIMITS = Limits()


def format_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def timeout_message(limits: Limits, where: str = "") -> str:
    return (f"transformation function timed out after {format_seconds(limits.batch_timeout_seconds)} s{where}; "
            f"KRENALIS_FUNCTION_BATCH_TIMEOUT raises the limit")


INVALID_RESPONSE = "transformer has unexpectedly returned an invalid JSON response"


def memory_message(limits: Limits, where: str = "") -> str:
    return (f"transformation function exceeded the memory limit of {limits.memory_bytes / 2**20:g} MiB{where}; "
            f"KRENALIS_FUNCTION_MEMORY_MB raises the limit")


@dataclass
class CallCost:
    """What one runtime call of `rows` records used: seconds as its time limit counts them
    (JavaScript: the process's CPU time; Python: the wall clock), and the bytes of its JSON in
    and out (what the runtime's memory holds, several times over, while it works)."""
    seconds: float
    bytes: int


class _Pacer:
    """How many records the next runtime call takes, from the cost of the calls before: enough to
    take about a quarter of the time limit and a sixteenth of the memory limit (the batch's JSON
    lives in the runtime several times over: text, values, results, their JSON), and at most
    twice as many as before a call that did well. The first call takes one record, so a function
    that fails on every record costs one limit per record, and a fast function reaches whole
    batches within a dozen calls. A call that exceeds a limit takes the next calls down to one
    record; RECORDS_IN_A_ROW records in a row failing alone on a limit end the run (the function
    is taken to fail on every record, each costing the whole limit: a never-ending function stops
    after twice the limit, within the web server's 30 s for the admin's test on preview rows)."""

    TIME_SHARE, MEMORY_SHARE = 4, 16
    RECORDS_IN_A_ROW = 2

    def __init__(self, limits: Limits):
        self._seconds = limits.batch_timeout_seconds / self.TIME_SHARE
        self._bytes = limits.memory_bytes / self.MEMORY_SHARE
        self._rows = 1
        self._failed_in_a_row = 0
        self._lock = threading.Lock()

    def rows(self) -> int:
        return self._rows

    def done(self, rows: int, cost: CallCost) -> None:
        with self._lock:
            self._failed_in_a_row = 0
            fit = 2 * max(self._rows, rows)
            if cost.seconds > 0:
                fit = min(fit, self._seconds * rows / cost.seconds)
            if cost.bytes > 0:
                fit = min(fit, self._bytes * rows / cost.bytes)
            self._rows = max(1, math.floor(fit))

    def exceeded(self) -> None:
        with self._lock:
            self._rows = 1

    def failed_alone(self) -> bool:
        """Counts a record that exceeded a limit alone; True when the run must end."""
        with self._lock:
            self._failed_in_a_row += 1
            return self._failed_in_a_row >= self.RECORDS_IN_A_ROW


# Imported after the names above, which the runners import from this package.
from . import codec  # noqa: E402
from .codec import LANGUAGES, JAVASCRIPT, PYTHON, OutputError  # noqa: E402
from .javascript import JavaScriptRunner, check_javascript  # noqa: E402
from .python import PythonRunner, check_python, python_sandbox_status  # noqa: E402


def _runner_class(language: str):
    if language == JAVASCRIPT:
        return JavaScriptRunner
    if language == PYTHON:
        return PythonRunner
    raise ValueError(f'transformation language "{language}" is not valid')


class FunctionTransformer:
    """A transformation function bound to its schemas. Calls may come from several threads at once:
    each runner serializes its own runtime calls (quickjs on its one thread, the Python worker's
    pipe under a lock), so one batch is encoded or decoded while the runtime works on another.

    The run engine's rows travel to the runtime as columns of the inPaths values (the runtime
    rebuilds each object with the property names it got once). When every output column can be
    checked as a whole, results come back as columns too, so no dict is built per record: only
    the records whose value holds anything else (an error, a nested value, a property outside
    outPaths...) come back as objects, decoded one by one.

    A batch goes to the runtime in calls of the rows the pacer allows (the whole batch for a fast
    function over small rows). A call that exceeds the time or memory limit is taken again one
    record per call, so only the records that exceed it alone fail, each with the limit and the
    setting that raises it.
    """

    def __init__(self, *, language: str, source: str, in_schema: Type, out_schema: Type,
                 in_paths: list[str], out_paths: list[str], preserve_json: bool,
                 limits: Limits = DEFAULT_LIMITS):
        runner_class = _runner_class(language)
        self.language = language
        self.limits = limits
        in_subset = prune(in_schema, in_paths) if in_paths else None
        out_subset = prune(out_schema, out_paths) if out_paths else None
        self._encode = codec.input_encoder(in_subset, language, preserve_json)
        self._decode = codec.output_decoder(out_subset, language, preserve_json)
        keys = [p.name for p in in_subset.properties] if in_subset is not None else []
        in_names = [p.name for p in in_schema.properties]
        self._positions = [in_names.index(key) for key in keys]
        self._column_encoders = codec.column_encoders(in_subset, language, preserve_json)
        columns = [path for path, _ in leaf_paths(out_schema)]
        self._out_columns = list(zip(columns, codec.output_column_checks(out_subset, columns, language) or ()))
        self._set_names = [name for name, check in self._out_columns if check is not None]
        self._row_of = leaf_values(out_schema)
        descriptor = codec.input_descriptor(in_subset, language, preserve_json)
        self._runner = runner_class(source, keys, descriptor, self._set_names, limits)
        self._pacer = _Pacer(limits)
        self._lock = threading.Lock()
        self._failure: FatalTransformError | None = None
        self._closed = False

    @property
    def runtime_calls(self) -> int:
        """How many batches crossed into the runtime (one per call with records)."""
        return self._runner.calls

    def transform_rows(self, rows: list[tuple]) -> list[tuple | RecordError]:
        """rows: the values of the input schema's top-level properties, in its order. Each result
        is the row of warehouse columns (the output schema's leaf paths, in order) or a RecordError.
        """
        if not rows:
            return []
        if self._out_columns:  # every column the function sets can be checked as a whole
            columns = self._input_columns(rows)

            def call(start: int, stop: int) -> tuple[list, CallCost]:
                count = stop - start
                part = columns if count == len(rows) else [column[start:stop] for column in columns]
                reply, cost = self._runner.run_columns(count, part)
                if not _is_reply(*reply, count, self._set_names):
                    raise FatalTransformError(INVALID_RESPONSE)
                return self._rows_of_columns(count, *reply), cost

            return self._paced(len(rows), call)
        arrays = list(zip(*self._input_columns(rows))) if self._positions else [()] * len(rows)
        return self._paced(len(arrays), self._items(arrays, self._row))

    def transform_batch(self, records: list[dict]) -> list[dict | RecordError]:
        """records: value-model dicts (a property may be absent). Each result is the transformed
        record (nested dicts of model values) or a RecordError."""
        if not records:
            return []
        return self._paced(len(records), self._items([self._encode(record) for record in records], self._result))

    def _input_columns(self, rows: list[tuple]) -> list[list]:
        """The inPaths values of the rows, encoded for the runtime, column by column."""
        columns = []
        for position, encode in zip(self._positions, self._column_encoders):
            column = list(map(operator.itemgetter(position), rows))
            if encode is not None:
                column = [None if value is None else encode(value) for value in column]
            columns.append(column)
        return columns

    def _items(self, batch: list, result):
        """call(start, stop) for _paced over records sent one by one (arrays or objects), each
        runtime result made a result by `result`."""
        def call(start: int, stop: int) -> tuple[list, CallCost]:
            part = batch if stop - start == len(batch) else batch[start:stop]
            items, cost = self._runner.run(part)
            if len(items) != len(part):
                raise FatalTransformError(
                    f"transformation function returned {len(items)} results for {len(part)} records")
            return list(map(result, items)), cost

        return call

    def _paced(self, count: int, call) -> list:
        """The results of records 0..count, from runtime calls of the records the pacer allows
        (call(start, stop) -> (their results, CallCost)). A call that exceeds a limit is taken again
        one record per call: a record that exceeds it alone gets the limit's RecordError."""
        results: list = []
        start = 0
        try:
            while start < count:
                stop = min(count, start + self._pacer.rows())
                try:
                    part, cost = self._run(lambda: call(start, stop))
                except LimitExceeded as exceeded:
                    self._pacer.exceeded()
                    for index in range(start, stop):
                        results.append(self._alone(index, call, exceeded if stop - start == 1 else None, results))
                else:
                    self._pacer.done(stop - start, cost)
                    results.extend(part)
                start = stop
        except FatalTransformError as error:  # the batch's records that failed before still count
            if not error.record_errors:
                error.record_errors = [(i, r) for i, r in enumerate(results) if type(r) is RecordError]
            raise
        return results

    def _alone(self, index: int, call, exceeded: LimitExceeded | None, results: list):
        """Record `index`'s result from a call of its own (`exceeded`: the limit it already
        exceeded alone); RECORDS_IN_A_ROW records in a row failing on a limit end the run, with the
        batch's record errors so far (`results`: the results of the records before it)."""
        if exceeded is None:
            try:
                [result], cost = self._run(lambda: call(index, index + 1))
            except LimitExceeded as error:
                exceeded = error
            else:
                self._pacer.done(1, cost)
                return result
        error = RecordError("Transformation", exceeded.message(" on this record"))
        if self._pacer.failed_alone():
            failures = [(i, r) for i, r in enumerate([*results, error]) if type(r) is RecordError]
            self._fail(FatalTransformError(exceeded.message(f" on {_Pacer.RECORDS_IN_A_ROW} records in a row"),
                                           failures))
        return error

    def _run(self, call):
        """call() (a runtime call) unless the transformer is closed or failed; a fatal error fails
        it for good (a limit exceeded is the caller's to handle: the next call restarts the runtime)."""
        with self._lock:
            if self._closed:
                raise FatalTransformError("the transformer is closed")
            if self._failure is not None:
                raise FatalTransformError(str(self._failure))
        try:
            return call()
        except LimitExceeded:
            raise
        except FatalTransformError as error:
            self._fail(error)

    def _fail(self, error: FatalTransformError):
        with self._lock:
            if self._failure is None:
                self._failure = error
                raise error
        raise FatalTransformError(str(self._failure))

    def _rows_of_columns(self, count: int, columns: list[list], shapes: list[list[str]], shape_of: list,
                         indices: list[int], items: list) -> list:
        """The rows from the runtime's output columns: as they are when each passes its check (a
        few C-level passes), else decoded record by record with the keys in the function's order
        (which says why a record fails); the records listed in `indices` from their results."""
        by_name = dict(zip(self._set_names, columns))
        unset = [None] * count
        ordered = [by_name[name] if check is not None else unset for name, check in self._out_columns]
        if all(check is None or check(column) for column, (_, check) in zip(ordered, self._out_columns)):
            rows = list(zip(*ordered))
        else:  # as the per-record form: a null is dropped like an absent property
            rows = [None] * count
            for index, shape in enumerate(shape_of or [0 if shapes else None] * count):
                if shape is not None:
                    rows[index] = self._row({name: by_name[name][index] for name in shapes[shape]
                                             if by_name[name][index] is not None})
        for index, item in zip(indices, items):
            rows[index] = self._row(item)
        return rows

    def _row(self, item) -> tuple | RecordError:
        result = self._result(item)
        return result if type(result) is RecordError else self._row_of(result)

    def _result(self, item) -> dict | RecordError:
        """A runtime result: an object (the value), a string (the record's error message), or a
        one-element array (a value whose JSON is not an object)."""
        kind = type(item)
        if kind is dict:
            try:
                return self._decode(item)
            except OutputError as error:
                return RecordError("OutputValidation", str(error))
        if kind is str:
            return RecordError("Transformation", item)
        if kind is list and len(item) == 1:
            return RecordError("Transformation", self._not_object_message(item[0]))
        return RecordError("Transformation", "transformer returned an invalid result")

    def _not_object_message(self, value) -> str:
        # Reached only for values whose JSON form is not an object (e.g. a JS object with toJSON).
        if self.language == JAVASCRIPT:
            kind = ("null" if value is None else "array" if isinstance(value, list)
                    else "string" if isinstance(value, str) else "boolean" if isinstance(value, bool)
                    else "number")
            return f"JavaScript: Error: transformed value is {kind}, not object"
        return f"Python: ValueError: transformed value is {type(value).__name__!r}, not 'dict'"

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            if not self._closed:
                self._runner.close()
        except Exception:
            pass


def _is_reply(out, shapes, shape_of, indices, items, count: int, names: list[str]) -> bool:
    """Whether a runtime's columns reply has its shape (user code shares the runtime it comes from)."""
    known = set(names)
    return (type(out) is list and len(out) == len(names) and all(type(c) is list and len(c) == count for c in out)
            and type(shapes) is list and all(type(keys) is list and all(type(k) is str and k in known for k in keys)
                                             for keys in shapes)
            and type(shape_of) is list and len(shape_of) in (0, count)
            and all(s is None or (type(s) is int and 0 <= s < len(shapes)) for s in shape_of)
            and type(indices) is list and type(items) is list and len(indices) == len(items)
            and all(type(i) is int and 0 <= i < count for i in indices) and len(set(indices)) == len(indices)
            # every row is in the columns (it has a shape: every row not in `indices` when there is
            # one shape) or in `indices`
            and (len(indices) == shape_of.count(None) and all(shape_of[i] is None for i in indices) if shape_of
                 else bool(shapes) or len(indices) == count))


def check_function(language: str, source: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Compile and load `source` in a throwaway runtime; FunctionCompileError if it is unusable.

    Catches syntax errors (with the line number), a missing or non-callable
    `transform`, and errors raised while the top-level code runs.
    """
    if language == JAVASCRIPT:
        check_javascript(source, limits)
    elif language == PYTHON:
        check_python(source, limits)
    else:
        raise FunctionCompileError(f'transformation language "{language}" is not valid')


__all__ = [
    "DEFAULT_LIMITS", "FatalTransformError", "FunctionCompileError", "FunctionTransformer", "JAVASCRIPT",
    "LANGUAGES", "LimitExceeded", "Limits", "PYTHON", "RecordError", "check_function", "python_sandbox_status",
]
