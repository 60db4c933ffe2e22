"""Compiling a mapping: type checks against the schemas, then closures run once per record."""

from __future__ import annotations

from pipelines.types import (
    PathNotExistError, RawJSON, Type, is_valid_property_path, property_by_path,
)

from .compiled import Compiled, constant
from .convert import (
    BOOLEAN, DECIMAL_LITERAL, INT32, INT64, JSON, STRING, convertible, converter, holds_every_value,
    scalar_text,
)
from .errors import (
    ConvertError, EvalError, MappingError, TransformError, format_convert_error, guillemets,
)
from .formats import JSONNumber, dumps_json, go_quote, json_kind, loads_json
from .functions import compile_call, literal_text
from .parser import Call, Concat, Literal, Path, is_valid_name, parse

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_LITERAL_TYPES = {"string": STRING, "int": INT32, "decimal": DECIMAL_LITERAL, "boolean": BOOLEAN,
                  "null": JSON}


# --------------------------------------------------------------------------- mapping

class CompiledMapping:
    """A mapping compiled against its input and output schemas; apply() it to each record.

    `copies` is {output path: (input property, converter or None)} when every expression is a
    top-level input property, else None: for a record valid against the input schema, apply() then
    sets each path to converter(record[property]) (None stays None, and a null is the same as a
    path left out), which lets a caller skip building the output object.
    """

    __slots__ = ("in_paths", "out_paths", "copies", "_plan")

    def __init__(self, in_paths: list[str], out_paths: list[str], plan: list, copies: dict | None = None):
        self.in_paths = in_paths
        self.out_paths = out_paths
        self.copies = copies
        self._plan = plan

    def apply(self, record: dict) -> dict:
        """The output object of one input record (top-level property name -> value).

        Keys are evaluated in sorted order against the input record; a null
        result is written for nullable destinations and left out otherwise.
        Raises TransformError for a record the mapping cannot transform.
        """
        out: dict = {}
        key = expression = None
        try:
            for key, parents, leaf, run, nullable, expression in self._plan:
                value = run(record)
                if value is None and not nullable:
                    continue
                target = out
                for name in parents:
                    inner = target.get(name)
                    if inner is None:
                        inner = target[name] = {}
                    target = inner
                target[leaf] = value
        except EvalError as err:
            raise TransformError(f"{err} while mapping to {guillemets(key)}") from None
        except ConvertError as err:
            message = format_convert_error(err, expression, runtime=True)
            raise TransformError(f"{message} while mapping to {guillemets(key)}", "OutputValidation") from None
        return out


def compile_mapping(mapping: dict[str, str], in_schema: Type | None, out_schema: Type) -> CompiledMapping:
    """Validate the output paths and compile every expression once (MappingError on failure)."""
    keys = sorted(mapping)
    destinations = {}
    for key in keys:
        if not isinstance(key, str) or not is_valid_property_path(key):
            raise MappingError(f"output property path {go_quote(str(key))} is not valid")
        try:
            destinations[key] = property_by_path(out_schema, key)
        except PathNotExistError as err:
            raise MappingError(str(err)) from None
    for shorter, longer in zip(keys, keys[1:]):
        if longer.startswith(shorter + "."):
            raise MappingError(f'paths "{shorter}" and "{longer}" have the same prefix')

    context = Context(in_schema)
    plan = []
    copies: dict | None = {}
    for key in keys:
        expression = mapping[key]
        if not isinstance(expression, str):
            raise MappingError(f'expression of "{key}" is not a string')
        prop = destinations[key]
        run, copy = compile_expression(expression, prop.type, context)
        *parents, leaf = key.split(".")
        plan.append((key, tuple(parents), leaf, run, prop.nullable, expression))
        if copy is None:
            copies = None
        elif copies is not None:
            copies[key] = copy
    return CompiledMapping(sorted(context.in_paths), keys, plan, copies)


def compile_expression(expression: str, destination: Type, context: "Context"):
    """(fn(record) -> the value of the expression converted to `destination` (None for null), copy),
    copy being (input property, converter of its valid values or None) when the expression is a
    top-level input property, else None."""
    node = parse(expression)
    c = context.compile(node, destination, True)
    if c.const:
        value = c.value
        return (lambda record: value), None
    if c.check is not None and not convertible(c.check, destination):
        raise MappingError(f"cannot convert expression (type {c.check}) to {destination}")
    final = converter(c.rt, destination, True)
    f = c.fn
    copy = None
    if isinstance(node, Path) and len(node.segments) == 1:
        copy = (node.segments[0].key, None if holds_every_value(c.rt, destination) else final)
    if final is None:
        return f, copy

    def run(record):
        v = f(record)
        return None if v is None else final(v)
    return run, copy


# --------------------------------------------------------------------------- nodes

class Context:
    """Compilation state shared by the expressions of a mapping: the input
    schema and the input paths they reference."""

    def __init__(self, in_schema: Type | None):
        self.in_schema = in_schema
        self.in_paths: set[str] = set()

    def compile(self, node, want: Type | None, nullable: bool) -> Compiled:
        """Compile a node whose value goes where `want` is expected (None: anything).

        Literals are converted to `want` right away, so their conversion
        errors are compile errors; other nodes are checked by the caller.
        """
        if isinstance(node, Literal):
            return self._literal(node, want, nullable)
        if isinstance(node, Path):
            return self._path(node)
        if isinstance(node, Call):
            return compile_call(self, node, want, nullable)
        return self._concat(node)

    def arg(self, node, want: Type | None, nullable: bool = True) -> Compiled:
        """Compile a node that must be convertible to `want`."""
        c = self.compile(node, want, nullable)
        if (want is not None and not c.const and c.check is not None
                and not convertible(c.check, want)):
            raise MappingError(f"cannot convert {c.desc} (type {c.check}) to {want}")
        return c

    @staticmethod
    def _literal(node: Literal, want: Type | None, nullable: bool) -> Compiled:
        literal_type = _LITERAL_TYPES[node.kind]
        if node.kind == "int" and not _INT32_MIN <= node.value <= _INT32_MAX:
            literal_type = INT64  # so eq() against a wide int does not narrow it to 32 bits
        if want is None:
            return constant(node.value, literal_type, node.source)
        if node.value is None:
            if not nullable:
                raise MappingError(f"null is not convertible to the {want} type")
            return constant(None, want, node.source)
        # An empty string constant converts as non-nullable: '' into an int is an error, not null.
        conv = converter(INT64 if node.kind == "int" else literal_type, want, False)  # range-checked
        try:
            value = node.value if conv is None else conv(node.value)
        except ConvertError as err:
            raise MappingError(format_convert_error(err, _literal_repr(node), runtime=False)) from None
        return constant(value, want, node.source)

    def _path(self, node: Path) -> Compiled:
        segments = node.segments
        source = node.source
        first = segments[0]
        schema = self.in_schema
        prop = schema.property_named(first.key) if schema is not None else None
        if prop is None:
            raise MappingError(f'property "{first.key}" does not exist')
        if first.optional:
            raise MappingError(f"invalid {source}: operator '?' can be used only with json")
        t = prop.type
        schema_path = [first.key]
        keys: list[str] = []  # object properties and map keys, looked up in dicts
        json_steps: list[tuple[str, bool, str]] = []  # (key, optional, text of the value indexed)
        for i in range(1, len(segments)):
            segment = segments[i]
            prefix = source[:segments[i - 1].end]
            if t.kind == "json":
                json_steps.append((segment.key, segment.optional, prefix))
                continue
            if t.kind == "object":
                if segment.optional:
                    raise MappingError(f"invalid {source}: operator '?' can be used only with json")
                if segment.bracket and not is_valid_name(segment.key):
                    raise MappingError(f"invalid {source}: {go_quote(segment.key)} is not a valid property name")
                inner = t.property_named(segment.key)
                if inner is None:
                    raise MappingError(f'invalid {source}: property "{segment.key}" does not exist')
                schema_path.append(segment.key)
                keys.append(segment.key)
                t = inner.type
            elif t.kind == "map":
                if segment.optional:
                    raise MappingError(f"invalid {source}: operator '?' can be used only with json")
                keys.append(segment.key)
                t = t.element_type
            else:
                raise MappingError(f"invalid {source}: {prefix} (type {t}) cannot have properties or keys")
        self.in_paths.add(".".join(schema_path))
        rt = JSON if json_steps else t
        fn = _path_evaluator(first.key, keys, json_steps, source)
        return Compiled(fn, rt, rt, source, source)

    def _concat(self, node: Concat) -> Compiled:
        parts: list = []
        for operand in node.operands:
            if isinstance(operand, Literal):
                text = literal_text(operand)
                if parts and isinstance(parts[-1], str):
                    parts[-1] += text
                else:
                    parts.append(text)
                continue
            c = self.arg(operand, STRING)
            parts.append(_appender(c))
        funcs = [(lambda record, s=part: s) if isinstance(part, str) else part for part in parts]
        if len(funcs) == 2:
            f, g = funcs

            def concat2(record):
                return f(record) + g(record)
            fn = concat2
        else:
            def concat(record):
                return "".join([f(record) for f in funcs])
            fn = concat
        return Compiled(fn, STRING, STRING, node.source, node.source)


def _literal_repr(node: Literal) -> str:
    if node.kind == "string":
        return go_quote(node.value)
    return literal_text(node) if node.kind != "null" else "null"


def _appender(c: Compiled):
    """fn(record) -> the text the operand contributes to a concatenation ('' for null)."""
    f = c.fn
    kind = c.rt.kind
    if c.const:
        value = c.value
        text = "" if value is None else (value if isinstance(value, str) else str(value))
        return lambda record: text
    if kind in ("string", "uuid", "ip"):
        def text_operand(record):
            v = f(record)
            return "" if v is None else v
        return text_operand
    if kind == "json":
        def json_operand(record):
            v = f(record)
            if v is None:
                return ""
            p = loads_json(v.text)
            t = type(p)
            if t is str:
                return p
            if t is JSONNumber:
                return p.text
            if t is dict or t is list:
                raise EvalError("cannot convert")
            return json_kind(p)  # true, false, null
        return json_operand
    to_text = scalar_text(c.rt)

    def operand(record):
        v = f(record)
        return "" if v is None else to_text(v)
    return operand


def _path_evaluator(name: str, keys: list[str], json_steps: list, source: str):
    """fn(record) reading a path: dict lookups, then (inside a json value) JSON lookups."""
    if not keys and not json_steps:
        def top_level(record):
            return record.get(name)
        return top_level
    if not json_steps:
        if len(keys) == 1:
            key = keys[0]

            def one_level(record):
                v = record.get(name)
                return None if v is None else v.get(key)
            return one_level

        def nested(record):
            v = record.get(name)
            for key in keys:
                if v is None:
                    return None
                v = v.get(key)
            return v
        return nested

    read_json = _path_evaluator(name, keys, [], source)  # the dict lookups up to the json value

    def into_json(record):
        v = read_json(record)
        if v is None:
            return None
        current = loads_json(v.text)
        for key, optional, prefix in json_steps:
            if type(current) is dict:
                if key not in current:
                    return None
                current = current[key]
            elif optional:
                return None
            else:
                raise EvalError(f"invalid {source}: {prefix} is not JSON object, it is {json_kind(current)}")
        return RawJSON(dumps_json(current))
    return into_json
