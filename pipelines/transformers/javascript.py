"""JavaScript transformation functions in quickjs.

One quickjs Context per transformer, with a memory limit (the runtime's malloc
limit) and a time limit per call (quickjs interrupts code once the call used
that much CPU time, measured with the C clock(), i.e. process CPU time). The
user source is loaded once; each batch is ONE call into the runtime: a JS
wrapper parses the batch (one JSON.parse), converts the few kinds JSON cannot
carry (int64 -> BigInt, NaN/±Infinity), calls `transform` on every record
catching exceptions per record, normalizes each result (§4.4) and returns one
JSON text (JSON.stringify per record, joined). Records go as arrays of values,
made objects by a constructor generated once from the property names.

A quickjs runtime must be used from the thread that created it (its stack
overflow check is computed from that thread's stack), so every quickjs call of
a transformer runs on a dedicated single thread.

quickjs exposes no I/O to scripts (no std/os modules, no require/process), so
JavaScript code cannot reach files, the network or the environment.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import quickjs

from . import FatalTransformError, FunctionCompileError, Limits, memory_message, timeout_message

# The runtime: a factory returning the batch function, built before the user code is
# loaded so the built-ins it uses cannot be tampered with by that code.
_RUNTIME = r"""
globalThis.__krenalis_make = (function () {
  const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray;
  const BigInt_ = BigInt, Number_ = Number, String_ = String, Function_ = Function;
  const Error_ = Error, TypeError_ = TypeError, InternalError_ = InternalError;

  function replacer(key, value) {
    switch (typeof value) {
      case "number":
        if (value !== value) return "NaN";
        if (value === Infinity) return "Infinity";
        if (value === -Infinity) return "-Infinity";
        return value;
      case "bigint":
        return value.toString();
    }
    return value;
  }

  function convert(value, code) {
    if (code === "b") return BigInt_(value);
    if (code === "f") return typeof value === "string" ? Number_(value) : value;
    const inner = code[1];
    switch (code[0]) {
      case "o": convertObject(value, inner); return value;
      case "a":
        for (let i = 0; i < value.length; i++) if (value[i] !== null) value[i] = convert(value[i], inner);
        return value;
      case "m":
        for (const key in value) if (value[key] !== null) value[key] = convert(value[key], inner);
        return value;
    }
    return value;
  }

  function convertObject(object, codes) {
    for (const name in codes) {
      const value = object[name];
      if (value !== undefined && value !== null) object[name] = convert(value, codes[name]);
    }
  }

  function outOfMemory(e) {
    // quickjs throws null when it cannot even allocate the error object.
    return e === null || (e instanceof InternalError_ && e.message === "out of memory");
  }

  function describe(e) {
    try {
      if (e instanceof Error_) return "JavaScript: " + String_(e);
      let text;
      try { text = stringify(e); } catch (_) { text = undefined; }
      if (text === undefined) text = String_(e);
      return "JavaScript: throw error of type " + typeof e + ": " + text;
    } catch (_) {
      return "JavaScript: an exception was thrown";
    }
  }

  // A record arrives as an array of the inPaths values (or, from transform_batch, as an object);
  // build makes it the object transform expects.
  function builder(keys) {
    const fields = [];
    for (let i = 0; i < keys.length; i++) fields.push(stringify(keys[i]) + ":a[" + i + "]");
    return Function_("a", "return {" + fields.join(",") + "};");
  }

  return function (transform, descriptor, keys) {
    const build = builder(keys);
    return function (text) {
      const records = parse(text);
      const count = records.length;
      const out = new Array(count);
      for (let i = 0; i < count; i++) {
        const record = isArray(records[i]) ? build(records[i]) : records[i];
        try {
          if (descriptor !== null) convertObject(record, descriptor);
          const value = transform(record);
          if (value === undefined) throw new Error_("transformed value is undefined");
          if (value === null) throw new Error_("transformed value is null");
          if (isArray(value)) throw new Error_("transformed value is array");
          if (typeof value !== "object") throw new Error_("transformed value is " + typeof value + ", not object");
          // The replacer (BigInt -> digits, non-finite -> "NaN"/"Infinity"/"-Infinity") doubles the
          // cost of stringify, so it is used only when the plain form may be wrong: a BigInt makes
          // stringify throw, a non-finite number becomes null.
          let json;
          try {
            json = stringify(value);
          } catch (e) {
            json = null;
          }
          if (json === null || (json !== undefined && json.indexOf("null") !== -1)) {
            try {
              json = stringify(value, replacer);
            } catch (e) {
              if (e instanceof TypeError_ && /circular/i.test(e.message)) {
                throw new Error_("transformed value contains a circular reference");
              }
              throw e;
            }
          }
          // An object's JSON goes as is; any other JSON (a toJSON method's doing) in an array.
          out[i] = json === undefined ? "[null]" : json.charCodeAt(0) === 123 ? json : "[" + json + "]";
        } catch (e) {
          if (outOfMemory(e)) throw e;
          out[i] = stringify(describe(e));
        }
      }
      return "[" + out.join(",") + "]";
    };
  };
})();
"""

# The user source runs inside a function (like Krenalis, which makes it a function body);
# it starts on the first line so line numbers are those of the source.
_LOAD_PREFIX = "globalThis.__krenalis_transform = (function () {"
_LOAD_SUFFIX = '\n;return typeof transform === "undefined" ? undefined : transform;\n})();'

_PARSE_ERROR_LINE = re.compile(r"\s*at <input>:(\d+)\s*")
_FRAME_LINE = re.compile(r"\(<input>:(\d+)\)")


def _first_line(message: str) -> str:
    return message.split("\n", 1)[0].strip()


def _is_timeout(message: str) -> bool:
    return message.startswith("InternalError: interrupted")


def _is_out_of_memory(message: str) -> bool:
    first = _first_line(message)
    return first in ("null", "InternalError: out of memory")


def _fatal_for(exc: Exception, limits: Limits) -> FatalTransformError:
    message = str(exc)
    if isinstance(exc, MemoryError) or _is_out_of_memory(message):
        return FatalTransformError(memory_message(limits))
    if _is_timeout(message):
        return FatalTransformError(timeout_message(limits))
    return FatalTransformError(f"JavaScript: {_first_line(message)}")


def _new_context(limits: Limits) -> quickjs.Context:
    context = quickjs.Context()
    context.set_memory_limit(int(limits.memory_bytes))
    context.set_time_limit(float(limits.batch_timeout_seconds))
    return context


def _load(context: quickjs.Context, source: str, limits: Limits) -> None:
    """Load the user source into `context` (transform in globalThis.__krenalis_transform).

    Raises FunctionCompileError for unusable code, FatalTransformError for
    timeouts and memory exhaustion while loading.
    """
    # 1. Syntax: like Krenalis, the source alone, as a script. quickjs cannot compile without
    #    running, so this runs in a throwaway context and only parse errors count here (they
    #    come with the bare position "at <input>:N" as their only frame); anything else the
    #    top level does is reproduced, and reported, by step 2.
    probe = _new_context(limits)
    try:
        probe.eval(source)
    except quickjs.JSException as exc:
        message = str(exc)
        if _is_out_of_memory(message) or _is_timeout(message):
            raise _fatal_for(exc, limits) from None
        lines = message.strip().split("\n")
        match = _PARSE_ERROR_LINE.fullmatch(lines[-1]) if len(lines) == 2 else None
        if lines[0].startswith("SyntaxError: ") and match:
            raise FunctionCompileError(f"transformation function has a syntax error at line {match.group(1)}: "
                                       f"{lines[0][len('SyntaxError: '):]}") from None
    finally:
        del probe
    # 2. Run the top level, which defines transform.
    try:
        context.eval(_LOAD_PREFIX + source + _LOAD_SUFFIX)
    except quickjs.JSException as exc:
        message = str(exc)
        if _is_out_of_memory(message) or _is_timeout(message):
            raise _fatal_for(exc, limits) from None
        match = _FRAME_LINE.search(message)
        where = f" at line {match.group(1)}" if match else ""
        raise FunctionCompileError(
            f"transformation function raised an error{where}: {_first_line(message)}") from None
    kind = context.eval("typeof globalThis.__krenalis_transform")
    if kind == "undefined":
        raise FunctionCompileError('transformation function does not define "transform"')
    if kind != "function":
        raise FunctionCompileError('transformation function defines "transform" but it is not a function')


def check_javascript(source: str, limits: Limits) -> None:
    context = _new_context(limits)
    try:
        _load(context, source, limits)
    except FatalTransformError as exc:
        raise FunctionCompileError(str(exc)) from None
    finally:
        del context


class JavaScriptRunner:
    """Runs batches through one quickjs context on its own thread."""

    def __init__(self, source: str, keys: list[str], descriptor: dict | None, limits: Limits):
        self._source = source
        self._arguments = f"{json.dumps(descriptor)}, {json.dumps(keys)}"
        self._limits = limits
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quickjs")
        self._context: quickjs.Context | None = None
        self._batch = None
        self.calls = 0

    # ---- on the quickjs thread

    def _start(self) -> None:
        context = _new_context(self._limits)
        try:
            context.eval(_RUNTIME)  # first: it captures the built-ins before user code runs
        except quickjs.JSException as exc:
            raise _fatal_for(exc, self._limits) from None
        try:
            _load(context, self._source, self._limits)
        except FunctionCompileError as exc:
            raise FatalTransformError(str(exc)) from None
        try:
            self._batch = context.eval(
                f"__krenalis_make(globalThis.__krenalis_transform, {self._arguments})")
        except quickjs.JSException as exc:
            raise _fatal_for(exc, self._limits) from None
        self._context = context

    def _call(self, text: str) -> str:
        if self._context is None:
            self._start()
        self.calls += 1
        try:
            result = self._batch(text)
        except (quickjs.JSException, MemoryError) as exc:
            self._discard()
            raise _fatal_for(exc, self._limits) from None
        except quickjs.StackOverflow:
            self._discard()
            raise FatalTransformError("JavaScript: stack overflow") from None
        if not isinstance(result, str):
            self._discard()
            raise FatalTransformError("transformer has unexpectedly returned an invalid JSON response")
        return result

    def _discard(self) -> None:
        self._batch = None
        self._context = None

    # ---- from any thread

    def run(self, records: list) -> list:
        """records: arrays of the inPaths values, or objects. Each result is an object (the
        value), a string (the record's error) or a one-element array (a non-object value)."""
        text = json.dumps(records, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        result = self._thread.submit(self._call, text).result()
        try:
            return json.loads(result)
        except ValueError:
            raise FatalTransformError(
                "transformer has unexpectedly returned an invalid JSON response") from None

    def close(self) -> None:
        try:
            self._thread.submit(self._discard).result()
        except RuntimeError:  # already shut down
            pass
        self._thread.shutdown(wait=True)
