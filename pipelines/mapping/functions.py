"""The 18 functions of the mapping language (§3.5): compile-time checks and run-time code."""

from __future__ import annotations

from decimal import Decimal

from pipelines.types import RawJSON, Type
from pipelines.types.values import format_float

from .compiled import Compiled
from .convert import (
    ARRAY_JSON, BOOLEAN, INT32, JSON, MAP_JSON, STRING, convertible, converter, json_encoder,
    scalar_text,
)
from .errors import ConvertError, EvalError, MappingError, guillemets
from .formats import (
    JSON_NULL, JSONNumber, dumps_json, format_decimal, format_time, json_kind, json_type_name, loads_json,
)
from .parser import Concat, Literal, Path

_SINGLE_ARGUMENT = ("initcap", "json_parse", "len", "lower", "ltrim", "not", "rtrim", "trim", "upper")
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_TEXT_KINDS = ("string", "uuid", "ip")

# Unicode White_Space, what Go's unicode.IsSpace (and so strings.TrimSpace) strips.
WHITE_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
               "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def compile_call(ctx, node, want: Type | None, nullable: bool) -> Compiled:
    name, args = node.name, node.args
    n = len(args)
    if name in ("and", "or") and n < 2:
        raise MappingError(f"'{name}' function requires at least two argument")
    if name == "coalesce" and n < 1:
        raise MappingError("'coalesce' function requires at least one argument")
    if name in ("eq", "ne") and n != 2:
        raise MappingError(f"'{name}' function requires two arguments")
    if name == "if" and n not in (2, 3):
        raise MappingError("'if' function requires either two or three arguments")
    if name in _SINGLE_ARGUMENT and n != 1:
        raise MappingError(f"'{name}' function requires a single argument")
    if name == "substring" and n not in (2, 3):
        raise MappingError("'substring' function requires two or three arguments")
    if name == "map" and n % 2:
        raise MappingError("'map' function requires an even number of arguments")
    return _COMPILERS[name](ctx, node, want, nullable)


def _result(fn, rt: Type, check: Type | None, node) -> Compiled:
    return Compiled(fn, rt, check, node.source, f"{node.name}(...)")


# --------------------------------------------------------------------------- argument coercion

def _param(ctx, arg, want: Type, function: str, coercer):
    """Compile an argument checked against `want` and coerced at run time with
    the function's own error messages; returns fn(record) -> value or None."""
    c = ctx.arg(arg, want)
    if c.const:
        value = c.value
        return lambda record: value
    coerce = coercer(c.rt, function, c.source)
    f = c.fn
    if coerce is None:
        return f

    def evaluate(record):
        v = f(record)
        return None if v is None else coerce(v)
    return evaluate


_BOOLEAN_WORDS = {"true": True, "True": True, "TRUE": True, "yes": True, "Yes": True, "YES": True,
                  "false": False, "False": False, "FALSE": False, "no": False, "No": False, "NO": False}


def boolean_param(rt: Type, function: str, source: str):
    kind = rt.kind
    if kind == "boolean":
        return None
    subject = guillemets(source)
    if kind == "string":
        def from_string(s):
            value = _BOOLEAN_WORDS.get(s)
            if value is None:
                if s == "":
                    return None
                raise EvalError(f"{subject} (type string) does not represent a boolean "
                                f"when passed to the «{function}» function")
            return value
        return from_string
    if kind == "int":
        return lambda v: v != 0
    if kind == "json":
        def from_json(v):
            p = loads_json(v.text)
            if p is None or type(p) is bool:
                return p
            raise EvalError(f"{subject}, of type {json_type_name(p)}, cannot be passed as boolean "
                            f"to the «{function}» function")
        return from_json
    return _generic(rt, BOOLEAN)


def string_param(rt: Type, function: str, source: str):
    kind = rt.kind
    if kind in _TEXT_KINDS:
        return None
    if kind == "json":
        subject = guillemets(source)

        def from_json(v):
            p = loads_json(v.text)
            t = type(p)
            if t is str:
                return p
            if t is JSONNumber:
                return p.text
            if t is bool:
                return "true" if p else "false"
            if p is None:
                return None
            raise EvalError(f"{subject} (a JSON {json_kind(p)}) cannot be converted to a string value "
                            f"to be passed to the «{function}» function")
        return from_json
    if kind in ("array", "object", "map"):
        return _generic(rt, STRING)
    return scalar_text(rt)


def int_param(rt: Type, function: str, source: str):
    """A 32-bit int argument: integral numbers in range, integer text, JSON integers."""
    kind = rt.kind
    subject = guillemets(source)

    def out_of_range(shown: str):
        return EvalError(f"{subject}, with a value of {shown}, cannot be passed as a 32-bit int "
                         f"to the «{function}» function")

    def in_range(n: int, shown) -> int:
        if n < _INT32_MIN or n > _INT32_MAX:
            raise out_of_range(shown())
        return n

    if kind in ("int", "year"):
        return lambda v: in_range(v, lambda: str(v))
    if kind == "float":
        bits = rt.bit_size or 64

        def from_float(v):
            if v != v or not v.is_integer():
                raise out_of_range(format_float(v, bits))
            return in_range(int(v), lambda: format_float(v, bits))
        return from_float
    if kind == "decimal":
        def from_decimal(v):
            if not v.is_finite() or v != v.to_integral_value() or v.adjusted() > 12:
                raise out_of_range(format_decimal(v))
            return in_range(int(v), lambda: format_decimal(v))
        return from_decimal
    if kind == "string":
        def from_string(s):
            if s == "":
                return None
            body = s[1:] if s[:1] in "+-" else s
            if not body or not body.isascii() or not body.isdigit():
                raise EvalError(f"{subject} (type string) does not represent an int "
                                f"when passed to the «{function}» function")
            if len(body.lstrip("0")) > 12:
                raise out_of_range(s)
            return in_range(int(s), lambda: s)
        return from_string
    if kind == "json":
        def from_json(v):
            p = loads_json(v.text)
            if p is None:
                return None
            if type(p) is not JSONNumber:
                raise EvalError(f"{subject}, of type {json_type_name(p)}, cannot be passed as an int "
                                f"to the «{function}» function")
            d = Decimal(p.text)
            if not d.is_finite() or d != d.to_integral_value() or d.adjusted() > 12:
                raise out_of_range(p.text)
            return in_range(int(d), lambda: p.text)
        return from_json
    return _generic(rt, INT32)


def _generic(rt: Type, want: Type):
    return converter(rt, want, True)


# --------------------------------------------------------------------------- logic

def _compile_and(ctx, node, want, nullable):
    fns = [_param(ctx, a, BOOLEAN, "and", boolean_param) for a in node.args]

    def evaluate(record):
        result = True
        for f in fns:
            v = f(record)
            if v is False:
                return False
            if v is None:
                result = None
        return result
    return _result(evaluate, BOOLEAN, BOOLEAN, node)


def _compile_or(ctx, node, want, nullable):
    fns = [_param(ctx, a, BOOLEAN, "or", boolean_param) for a in node.args]

    def evaluate(record):
        result = False
        for f in fns:
            v = f(record)
            if v is True:
                return True
            if v is None:
                result = None
        return result
    return _result(evaluate, BOOLEAN, BOOLEAN, node)


def _compile_not(ctx, node, want, nullable):
    f = _param(ctx, node.args[0], BOOLEAN, "not", boolean_param)

    def evaluate(record):
        v = f(record)
        return None if v is None else not v
    return _result(evaluate, BOOLEAN, want or BOOLEAN, node)


def _unify(compiled: list[Compiled], want: Type | None):
    """Branches of if/coalesce as (fn, converter) pairs sharing one result type.

    When branches have different types each chosen value is converted to
    the context's type (json when there is none), after the choice is made.
    """
    types = [c.rt for c in compiled]
    if all(t == types[0] for t in types):
        return [(c.fn, None) for c in compiled], types[0]
    target = want if want is not None else JSON
    return [(c.fn, converter(c.rt, target, True)) for c in compiled], target


def _compile_if(ctx, node, want, nullable):
    condition = _param(ctx, node.args[0], BOOLEAN, "if", boolean_param)
    branches = [ctx.arg(a, want, nullable) for a in node.args[1:]]
    pairs, rt = _unify(branches, want)
    then_fn, then_conv = pairs[0]
    else_fn, else_conv = pairs[1] if len(pairs) == 2 else (None, None)

    def evaluate(record):
        if condition(record) is True:
            f, conv = then_fn, then_conv
        elif else_fn is None:
            return None
        else:
            f, conv = else_fn, else_conv
        v = f(record)
        if v is None or conv is None:
            return v
        return conv(v)
    return _result(evaluate, rt, want, node)


def is_json_null(raw: RawJSON) -> bool:
    text = raw.text
    return text == "null" or (len(text) < 32 and text.strip() == "null")


def _compile_coalesce(ctx, node, want, nullable):
    args = [ctx.arg(a, want, nullable) for a in node.args]
    pairs, rt = _unify(args, want)
    items = [(f, conv, c.rt.kind == "json") for (f, conv), c in zip(pairs, args)]

    def evaluate(record):
        for f, conv, is_json in items:
            v = f(record)
            if v is None or (is_json and is_json_null(v)):
                continue  # a JSON null counts as null
            return v if conv is None else conv(v)
        return None
    return _result(evaluate, rt, None, node)


def _compile_eq(ctx, node, want, nullable):
    name = node.name
    first = ctx.compile(node.args[0], None, True)
    second = ctx.compile(node.args[1], None, True)
    if first.check is not None and second.check is not None:
        if not convertible(first.check, second.check):
            raise MappingError(f"first argument of '{name}(...)' is not convertible to the type of the second")
        if not convertible(second.check, first.check):
            raise MappingError(f"second argument of '{name}(...)' is not convertible to the type of the first")
    conv = None if first.rt == second.rt else converter(first.rt, second.rt, False)
    equal = _equality(second.rt)
    fa, fb = first.fn, second.fn
    a_json, b_json = first.rt.kind == "json", second.rt.kind == "json"
    is_eq = name == "eq"

    def evaluate(record):
        a, b = fa(record), fb(record)
        if a is None or b is None:
            return None
        if (a_json and is_json_null(a)) or (b_json and is_json_null(b)):
            return None
        if conv is not None:
            try:
                a = conv(a)
            except ConvertError:
                return not is_eq
        result = equal(a, b)
        return result if is_eq else not result
    return _result(evaluate, BOOLEAN, BOOLEAN, node)


def _equality(t: Type):
    if t.kind == "json":
        return lambda a, b: a.text == b.text or loads_json(a.text) == loads_json(b.text)
    return lambda a, b: a == b


# --------------------------------------------------------------------------- text

def _char_upper(c: str) -> str:
    u = c.upper()
    return u if len(u) == 1 else c


def _char_lower(c: str) -> str:
    if c == "\u0130":
        return "i"
    lower = c.lower()
    return lower if len(lower) == 1 else c


def _char_title(c: str) -> str:
    title = c.title()
    return title if len(title) == 1 else _char_upper(c)


def upper(s: str) -> str:
    """Unicode simple upper-case mapping (Go's strings.ToUpper), one rune for one rune."""
    if s.isascii():
        return s.upper()
    return "".join(map(_char_upper, s))


def lower(s: str) -> str:
    if s.isascii():
        return s.lower()
    return "".join(map(_char_lower, s))


def _is_separator(c: str) -> bool:
    if c < "\x80":
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdecimal():
        return False
    return c in WHITE_SPACE


def initcap(s: str) -> str:
    """Title-case the first letter of each word, leave the rest as is (Go's strings.Title)."""
    out = []
    separated = True
    for c in s:
        out.append(_char_title(c) if separated else c)
        separated = _is_separator(c)
    return "".join(out)


def _text_function(operation, result_is_destination: bool):
    def compile_text(ctx, node, want, nullable):
        f = _param(ctx, node.args[0], STRING, node.name, string_param)

        def evaluate(record):
            v = f(record)
            return None if v is None else operation(v)
        check = (want or STRING) if result_is_destination else STRING
        return _result(evaluate, STRING, check, node)
    return compile_text


def _compile_substring(ctx, node, want, nullable):
    text = _param(ctx, node.args[0], STRING, "substring", string_param)
    start = _param(ctx, node.args[1], INT32, "substring", int_param)
    length = _param(ctx, node.args[2], INT32, "substring", int_param) if len(node.args) == 3 else None

    def evaluate(record):
        s, first = text(record), start(record)
        if length is None:
            if s is None or first is None:
                return None
            return s[first - 1:] if first > 1 else s
        n = length(record)
        if s is None or first is None or n is None:
            return None
        if n < 0:
            raise EvalError("substring: negative substring length is not allowed")
        i = first - 1 if first > 1 else 0
        return s[i:i + n]
    return _result(evaluate, STRING, want or STRING, node)


# --------------------------------------------------------------------------- len

def _json_length(v) -> int:
    p = loads_json(v.text)
    t = type(p)
    if p is None:
        return 0
    if t is JSONNumber:
        return len(p.text)
    if t is bool:
        return 4 if p else 5
    return len(p)


def length_of(t: Type):
    """The len() of a non-null value of type t."""
    kind = t.kind
    if kind in _TEXT_KINDS or kind in ("array", "object", "map"):
        return len
    if kind == "boolean":
        return lambda v: 4 if v else 5
    if kind in ("int", "year"):
        return lambda v: len(str(v))
    if kind == "float":
        bits = t.bit_size or 64
        return lambda v: len(format_float(v, bits))
    if kind == "decimal":
        return lambda v: len(format_decimal(v))
    if kind == "datetime":
        return lambda v: 20
    if kind == "date":
        return lambda v: 10
    if kind == "time":
        return lambda v: len(format_time(v))
    return _json_length


def _compile_len(ctx, node, want, nullable):
    c = ctx.compile(node.args[0], None, True)
    measure = length_of(c.rt)
    f = c.fn

    def evaluate(record):
        v = f(record)
        return 0 if v is None else measure(v)
    return _result(evaluate, INT32, INT32, node)


# --------------------------------------------------------------------------- JSON

def _compile_json_parse(ctx, node, want, nullable):
    arg = node.args[0]
    c = ctx.arg(arg, STRING)
    subject = guillemets(c.source)
    f = c.fn
    kind = c.rt.kind

    def parse(s: str) -> RawJSON:
        try:
            return RawJSON(dumps_json(loads_json(s)))
        except (ValueError, RecursionError):
            raise EvalError(f"{subject} cannot be parsed by «json_parse» because it is not valid JSON") from None

    if kind == "string":
        def evaluate(record):
            v = f(record)
            return None if v is None else parse(v)
    elif kind == "json":
        def evaluate(record):
            v = f(record)
            if v is None:
                return None
            p = loads_json(v.text)
            if p is None:
                return None
            if type(p) is not str:
                raise EvalError(f"{subject} is a {json_type_name(p)} and cannot be passed as a string value "
                                f"to the «json_parse» function")
            return parse(p)
    else:
        def evaluate(record):
            if f(record) is None:
                return None
            raise EvalError(f"{subject} has type {kind} and cannot be passed as a string value "
                            f"to the «json_parse» function")
    return _result(evaluate, JSON, JSON, node)


def _encoded(c: Compiled, element: Type):
    """fn(record) -> RawJSON of the node's value converted to `element` (JSON null for null)."""
    if c.const:
        value = JSON_NULL if c.value is None else RawJSON(json_encoder(c.rt)(c.value))
        return lambda record: value
    conv = converter(c.rt, element, False)
    f = c.fn
    if conv is None and c.rt.kind == "json":
        def evaluate_json(record):
            v = f(record)
            return JSON_NULL if v is None else v
        return evaluate_json
    encode = json_encoder(c.rt if conv is None else element)
    if conv is None:
        def evaluate(record):
            v = f(record)
            return JSON_NULL if v is None else RawJSON(encode(v))
        return evaluate

    def evaluate_converted(record):
        v = f(record)
        return JSON_NULL if v is None else RawJSON(encode(conv(v)))
    return evaluate_converted


def _compile_array(ctx, node, want, nullable):
    # Elements are converted to the destination element type, then JSON-encoded.
    element = want.element_type if want is not None and want.kind == "array" else JSON
    fns = [_encoded(ctx.arg(a, element, False), element) for a in node.args]

    def evaluate(record):
        return [f(record) for f in fns]
    return _result(evaluate, ARRAY_JSON, ARRAY_JSON, node)


def _constant_key(arg) -> str:
    if isinstance(arg, Literal):
        if arg.kind != "string":
            raise MappingError("'map' key is not string")
        return arg.value
    if isinstance(arg, Concat) and all(isinstance(op, Literal) for op in arg.operands):
        return "".join(literal_text(op) for op in arg.operands)
    raise MappingError("'map' key is not constant")


def literal_text(node: Literal) -> str:
    """A literal as concatenation writes it."""
    kind = node.kind
    if kind == "string":
        return node.value
    if kind == "boolean":
        return "true" if node.value else "false"
    if kind == "null":
        return ""
    if kind == "int":
        return str(node.value)
    return format_decimal(node.value)


def _compile_map(ctx, node, want, nullable):
    # Values are converted to the destination element type (json if not a map), then JSON-encoded.
    element = want.element_type if want is not None and want.kind == "map" else JSON
    args = node.args
    entries = []
    keys: set[str] = set()
    for i in range(0, len(args), 2):
        key = _constant_key(args[i])
        if key in keys:
            raise MappingError("duplicate key in 'map' function")
        keys.add(key)
        value = args[i + 1]
        c = ctx.arg(value, element)
        # A bare path that is null is left out; any other null is a JSON null.
        entries.append((key, _encoded(c, element), c.fn if isinstance(value, Path) else None))

    def evaluate(record):
        out = {}
        for key, encoded, path in entries:
            if path is not None and path(record) is None:
                continue
            out[key] = encoded(record)
        return out
    return _result(evaluate, MAP_JSON, MAP_JSON, node)


_COMPILERS = {
    "and": _compile_and,
    "or": _compile_or,
    "not": _compile_not,
    "if": _compile_if,
    "eq": _compile_eq,
    "ne": _compile_eq,
    "coalesce": _compile_coalesce,
    "len": _compile_len,
    "lower": _text_function(lower, True),
    "upper": _text_function(upper, True),
    "initcap": _text_function(initcap, True),
    "trim": _text_function(lambda s: s.strip(WHITE_SPACE), False),
    "ltrim": _text_function(lambda s: s.lstrip(WHITE_SPACE), False),
    "rtrim": _text_function(lambda s: s.rstrip(WHITE_SPACE), False),
    "substring": _compile_substring,
    "json_parse": _compile_json_parse,
    "array": _compile_array,
    "map": _compile_map,
}
