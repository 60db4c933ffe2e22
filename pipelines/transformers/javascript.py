"""JavaScript transformation functions in quickjs.

One quickjs Context per transformer, with a memory limit (the runtime's malloc
limit) and a time limit per call (quickjs interrupts code once the call used
that much CPU time, measured with the C clock(), i.e. process CPU time). The
user source is loaded once; the records the transformer sends at once (a whole
batch for a fast function) are ONE call into the runtime, and a limit exceeded
there is LimitExceeded (the context is dropped; the next call makes another): a JS
wrapper parses the batch (one JSON.parse), converts the few kinds JSON cannot
carry (int64 -> BigInt, NaN/±Infinity), calls `transform` on every record
catching exceptions per record, normalizes each result (§4.4) and returns one
JSON text. Records go as columns of values (or, from transform_batch, as
objects), made objects by a constructor generated once from the property names.
Results whose JSON would be just the output columns' strings, booleans, finite
numbers and nulls come back as columns (one JSON.stringify for the batch); any
other result alone, in its per-record form (one JSON.stringify each, which costs
about as much again as the rest of the call).

A quickjs runtime must be used from the thread that created it (its stack
overflow check is computed from that thread's stack), so every quickjs call of
a transformer runs on a dedicated single thread.

quickjs exposes no I/O to scripts (no std/os modules, no require/process), so
JavaScript code cannot reach files, the network or the environment.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import quickjs

from . import (INVALID_RESPONSE, CallCost, FatalTransformError, FunctionCompileError, LimitExceeded, Limits,
               memory_message, timeout_message)

# The runtime: a factory returning the batch function, built before the user code is
# loaded so the built-ins it uses cannot be tampered with by that code.
_RUNTIME = r"""
globalThis.__krenalis_make = (function () {
  const parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray, keysOf = Object.keys;
  const create = Object.create;
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

  const MAX_SHAPES = 64;  // key orders kept per batch; a row of another order comes back alone

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

  // A record arrives as an array of the inPaths values (or, from transform_batch, as an object),
  // or as position i of columns of those values; build makes it the object transform expects.
  function builder(keys, access) {
    const fields = [];
    for (let i = 0; i < keys.length; i++) fields.push(stringify(keys[i]) + ":" + access(i));
    return Function_("c", "i", "return {" + fields.join(",") + "};");
  }

  // Returns the function of one way in: records (a JSON array of records in, a JSON array of
  // per-record results out) or columns (see columns below).
  return function (transform, descriptor, keys, names, way) {
    const build = builder(keys, (k) => "c[" + k + "]");
    const buildAt = builder(keys, (k) => "c[" + k + "][i]");
    const width = names.length;

    // transform's value for one record; what it throws is that record's error.
    function apply(record) {
      if (descriptor !== null) convertObject(record, descriptor);
      const value = transform(record);
      if (value === undefined) throw new Error_("transformed value is undefined");
      if (value === null) throw new Error_("transformed value is null");
      if (isArray(value)) throw new Error_("transformed value is array");
      if (typeof value !== "object") throw new Error_("transformed value is " + typeof value + ", not object");
      return value;
    }

    // One result's JSON: an object's JSON as is; any other JSON (a toJSON method's doing) in an array.
    function itemJSON(value) {
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
      return json === undefined ? "[null]" : json.charCodeAt(0) === 123 ? json : "[" + json + "]";
    }

    function failure(e) {
      if (outOfMemory(e)) throw e;
      return stringify(describe(e));
    }

    const position = create(null);
    for (let j = 0; j < width; j++) position[names[j]] = j;
    let lastShape = 0;  // the shape of the previous row, tried first

    function sameKeys(a, b) {
      if (a.length !== b.length) return false;
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
      return true;
    }

    // Puts the value's properties at row i of the output columns when its JSON would be exactly
    // them (own keys among names, each a string, a boolean, a finite number or null) and returns
    // the index in `shapes` of its keys' order (kept so that a failing check in Python reports the
    // same property as the per-record form); -1 otherwise, with row i left empty.
    function intoColumns(value, columns, i, shapes) {
      if (value.toJSON !== undefined) return -1;
      const own = keysOf(value);
      let k = 0;
      for (; k < own.length; k++) {
        const j = position[own[k]];
        if (j === undefined) break;
        const x = value[own[k]];
        const kind = typeof x;
        if (!(kind === "string" || kind === "boolean" || x === null || (kind === "number" && x - x === 0))) break;
        columns[j][i] = x;
      }
      let shape = -1;
      if (k === own.length) {
        if (shapes.length > 0 && sameKeys(own, shapes[lastShape])) return lastShape;
        for (let s = 0; s < shapes.length && shape < 0; s++) if (sameKeys(own, shapes[s])) shape = s;
        if (shape < 0 && shapes.length < MAX_SHAPES) shape = shapes.push(own) - 1;
        if (shape >= 0) return (lastShape = shape);
      }
      for (let q = 0; q < k; q++) columns[position[own[q]]][i] = undefined;
      return -1;
    }

    function records(text) {
      const input = parse(text);
      const count = input.length;
      const out = new Array(count);
      for (let i = 0; i < count; i++) {
        try {
          out[i] = itemJSON(apply(isArray(input[i]) ? build(input[i]) : input[i]));
        } catch (e) {
          out[i] = failure(e);
        }
      }
      return "[" + out.join(",") + "]";
    }

    // [count, [column of each key]] in; [[column of each name], [shape], [shape of each row],
    // [index], [result]] out: the values of names, row by row, with the order of each row's keys
    // (the shape of every row when there is one shape), and the per-record result (as records
    // gives it) of each row whose value does not fit in the columns (its cells there are null).
    function columns(text) {
      const input = parse(text);
      const count = input[0], values = input[1];
      const out = [];
      for (let j = 0; j < width; j++) out.push(new Array(count));
      const shapes = [], shapeOf = new Array(count), indices = [], items = [];
      lastShape = 0;
      for (let i = 0; i < count; i++) {
        let item;
        try {
          const value = apply(buildAt(values, i));
          const shape = intoColumns(value, out, i, shapes);
          if (shape >= 0) {
            shapeOf[i] = shape;
            continue;
          }
          item = itemJSON(value);
        } catch (e) {
          item = failure(e);
        }
        indices.push(i);
        items.push(item);
      }
      return "[" + stringify(out) + "," + stringify(shapes) + "," + stringify(shapes.length > 1 ? shapeOf : []) +
             "," + stringify(indices) + ",[" + items.join(",") + "]]";
    }

    return way === "columns" ? columns : records;
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


def _fatal_for(exc: Exception, limits: Limits, call: bool = False) -> FatalTransformError:
    """The error that ends the run; for a batch's `call`, a limit exceeded is LimitExceeded (the
    records may be taken again in smaller calls)."""
    message = str(exc)
    limit = ("memory" if isinstance(exc, MemoryError) or _is_out_of_memory(message)
             else "time" if _is_timeout(message) else None)
    if limit is not None and call:
        return LimitExceeded(limit, limits)
    if limit == "memory":
        return FatalTransformError(memory_message(limits))
    if limit == "time":
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

    def __init__(self, source: str, keys: list[str], descriptor: dict | None, names: list[str], limits: Limits):
        self._source = source
        self._arguments = f"{json.dumps(descriptor)}, {json.dumps(keys)}, {json.dumps(names)}"
        self._limits = limits
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quickjs")
        self._context: quickjs.Context | None = None
        self._ways: dict[str, quickjs.Object] = {}
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
            self._ways = {way: context.eval(f"__krenalis_make(globalThis.__krenalis_transform, {self._arguments}, "
                                            f"{json.dumps(way)})") for way in ("records", "columns")}
        except quickjs.JSException as exc:
            raise _fatal_for(exc, self._limits) from None
        self._context = context

    def _call(self, way: str, text: str) -> tuple[str, CallCost]:
        if self._context is None:
            self._start()
        self.calls += 1
        started = time.process_time()  # the clock of quickjs's time limit: the process's CPU time
        try:
            result = self._ways[way](text)
        except (quickjs.JSException, MemoryError) as exc:
            self._discard()
            raise _fatal_for(exc, self._limits, call=True) from None
        except quickjs.StackOverflow:
            self._discard()
            raise FatalTransformError("JavaScript: stack overflow") from None
        if not isinstance(result, str):
            self._discard()
            raise FatalTransformError(INVALID_RESPONSE)
        return result, CallCost(time.process_time() - started, len(text) + len(result))

    def _discard(self) -> None:
        self._ways = {}
        self._context = None

    # ---- from any thread

    def _exchange(self, way: str, payload) -> tuple[object, CallCost]:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        result, cost = self._thread.submit(self._call, way, text).result()
        try:
            return json.loads(result), cost
        except ValueError:
            raise FatalTransformError(INVALID_RESPONSE) from None

    def run(self, records: list) -> tuple[list, CallCost]:
        """records: arrays of the inPaths values, or objects. Each result is an object (the
        value), a string (the record's error) or a one-element array (a non-object value); with
        what the call cost."""
        return self._exchange("records", records)

    def run_columns(self, count: int, columns: list[list]) -> tuple[tuple, CallCost]:
        """columns: the inPaths values of `count` records, one list per key. Returns the output
        columns (one list per name), the orders of keys seen (shapes) and each row's (empty when
        there is one), and the indices and results (as run gives them) of the records whose value
        is not just those columns' values; with what the call cost."""
        reply, cost = self._exchange("columns", [count, columns])
        try:
            out, shapes, shape_of, indices, items = reply
        except (TypeError, ValueError):
            raise FatalTransformError(INVALID_RESPONSE) from None
        return (out, shapes, shape_of, indices, items), cost

    def close(self) -> None:
        try:
            self._thread.submit(self._discard).result()
        except RuntimeError:  # already shut down
            pass
        self._thread.shutdown(wait=True)
