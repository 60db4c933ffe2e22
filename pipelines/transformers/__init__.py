"""Transformation functions (JavaScript in quickjs, Python in a sandboxed worker process).

No Django here: settings arrive as arguments. The run engine builds one
FunctionTransformer per run and feeds it batches of records; the API validates
a function's source with check_function at create/update.

    transformer = FunctionTransformer(language="JavaScript", source=..., in_schema=..., out_schema=...,
                                      in_paths=[...], out_paths=[...], preserve_json=False)
    try:
        results = transformer.transform_batch(records)   # one runtime call per batch
    finally:
        transformer.close()

Each result is the transformed record (value model, nested dicts) or a
RecordError (step "Transformation" when user code threw for that record,
"OutputValidation" when its result does not fit the output schema). Errors that
end the run (syntax error, missing transform, timeout, memory exhausted, a crash
that persists) raise FatalTransformError.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pipelines.types import Type, prune


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
    """A transformation function bound to its schemas; not thread-safe across concurrent calls
    (a lock serializes them)."""

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
        descriptor = codec.input_descriptor(in_subset, language, preserve_json)
        self._runner = runner_class(source, descriptor, limits)
        self._lock = threading.Lock()
        self._failure: FatalTransformError | None = None
        self._closed = False

    @property
    def runtime_calls(self) -> int:
        """How many batches crossed into the runtime (one per transform_batch call with records)."""
        return self._runner.calls

    def transform_batch(self, records: list[dict]) -> list[dict | RecordError]:
        with self._lock:
            if self._closed:
                raise FatalTransformError("the transformer is closed")
            if self._failure is not None:
                raise self._failure
            if not records:
                return []
            encoded = [self._encode(record) for record in records]
            try:
                raw = self._runner.run(encoded)
            except FatalTransformError as error:
                self._failure = error
                raise
            if len(raw) != len(records):
                self._failure = FatalTransformError(
                    f"transformation function returned {len(raw)} results for {len(records)} records")
                raise self._failure
            return [self._result(item) for item in raw]

    def _result(self, item) -> dict | RecordError:
        if type(item) is not dict:
            return RecordError("Transformation", "transformer returned an invalid result")
        if "e" in item:
            return RecordError("Transformation", str(item["e"]))
        value = item.get("v")
        if type(value) is not dict:
            return RecordError("Transformation", self._not_object_message(value))
        try:
            return self._decode(value)
        except OutputError as error:
            return RecordError("OutputValidation", str(error))

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
