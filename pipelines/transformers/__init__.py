"""Transformation functions (JavaScript in quickjs, Python in a sandboxed worker process).

No Django here: settings arrive as arguments. The run engine builds one
FunctionTransformer per run and feeds it batches of records; the API validates
a function's source with check_function at create/update.

    transformer = FunctionTransformer(language="JavaScript", source=..., in_schema=..., out_schema=...,
                                      in_paths=[...], out_paths=[...], preserve_json=False)
    try:
        results = transformer.transform_rows(rows)   # one runtime call per batch
    finally:
        transformer.close()

The run engine hands over rows (tuples in the input schema's order) and gets
rows of warehouse columns back; transform_batch takes and gives dicts (the
admin's "Test on preview rows"). Each result is the transformed record or a
RecordError (step "Transformation" when user code threw for that record,
"OutputValidation" when its result does not fit the output schema). Errors that
end the run (syntax error, missing transform, timeout, memory exhausted, a crash
that persists) raise FatalTransformError.
"""

from __future__ import annotations

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
    """Ends the run: syntax error, missing transform, timeout, memory exhausted, persistent crash."""


class FunctionCompileError(ValueError):
    """The source cannot be used (at create/update); str() is a message for a 400 response."""


@dataclass
class Limits:
    batch_timeout_seconds: float = 10.0   # per batch (JS: CPU time of the process; Python: wall clock)
    memory_bytes: int = 256 * 2**20       # JS: quickjs runtime; Python: RLIMIT_AS of the worker
    cpu_seconds: int = 60                 # Python: RLIMIT_CPU of the worker (a backstop; it is restarted)
    require_sandbox: bool = True          # Python: refuse to run user code without the Landlock sandbox


DEFAULT_LIMITS = Limits()


def format_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def timeout_message(limits: Limits) -> str:
    return f"transformation function timed out after {format_seconds(limits.batch_timeout_seconds)} s"


def memory_message(limits: Limits) -> str:
    return f"transformation function exceeded the memory limit of {limits.memory_bytes / 2**20:g} MiB"


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

    Records travel to the runtime as arrays of the inPaths values (the runtime rebuilds each
    object with the property names it got once) and come back as JSON objects, so the run
    engine, which holds rows, never builds a dict per record.
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
        self._whole_rows = self._positions == list(range(len(in_names)))
        self._column_encoders = codec.column_encoders(in_subset, language, preserve_json)
        columns = [path for path, _ in leaf_paths(out_schema)]
        self._out_names = frozenset(p.name for p in out_subset.properties) if out_subset is not None else frozenset()
        self._out_columns = list(zip(columns, codec.output_column_checks(out_subset, columns, language) or ()))
        self._row_of = leaf_values(out_schema)
        descriptor = codec.input_descriptor(in_subset, language, preserve_json)
        self._runner = runner_class(source, keys, descriptor, limits)
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
        raw = self._run(self._arrays(rows))
        if self._out_columns and set(map(type, raw)) == {dict}:
            checked = self._checked_rows(raw)
            if checked is not None:
                return checked
        row_of = self._row_of
        return [result if type(result) is RecordError else row_of(result)
                for result in map(self._result, raw)]

    def transform_batch(self, records: list[dict]) -> list[dict | RecordError]:
        """records: value-model dicts (a property may be absent). Each result is the transformed
        record (nested dicts of model values) or a RecordError."""
        if not records:
            return []
        return [self._result(item) for item in self._run([self._encode(record) for record in records])]

    def _arrays(self, rows: list[tuple]) -> list:
        """The inPaths values of each row, encoded for the runtime, column by column."""
        if self._whole_rows and not any(self._column_encoders):
            return rows
        columns = []
        for position, encode in zip(self._positions, self._column_encoders):
            column = list(map(operator.itemgetter(position), rows))
            if encode is not None:
                column = [None if value is None else encode(value) for value in column]
            columns.append(column)
        return list(zip(*columns)) if columns else [()] * len(rows)

    def _run(self, batch: list) -> list:
        with self._lock:
            if self._closed:
                raise FatalTransformError("the transformer is closed")
            if self._failure is not None:
                raise self._failure
        try:
            raw = self._runner.run(batch)
        except FatalTransformError as error:
            with self._lock:
                self._failure = self._failure or error
            raise
        if len(raw) != len(batch):
            with self._lock:
                self._failure = FatalTransformError(
                    f"transformation function returned {len(raw)} results for {len(batch)} records")
                raise self._failure
        return raw

    def _checked_rows(self, values: list[dict]) -> list[tuple] | None:
        """The rows of a batch whose every result is an object, with a few C-level passes per
        column; None when a check fails (the records are then decoded one by one, which says why)."""
        if not set().union(*values) <= self._out_names:
            return None
        columns, unset = [], [None] * len(values)
        for name, check in self._out_columns:
            if check is None:
                columns.append(unset)
                continue
            column = list(map(operator.methodcaller("get", name), values))
            if not check(column):
                return None
            columns.append(column)
        return list(zip(*columns))

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
    "LANGUAGES", "Limits", "PYTHON", "RecordError", "check_function", "python_sandbox_status",
]
