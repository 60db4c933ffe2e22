"""Shared helpers: compile one expression into one destination and run it."""

from __future__ import annotations

from pipelines.mapping import MappingError, TransformError, compile_mapping
from pipelines.types import Property, Type, object_type


def schema(**types: Type) -> Type:
    """An object type whose properties are all nullable (so nulls show up as None)."""
    return object_type(*(Property(name, t, nullable=True) for name, t in types.items()))


def run(expression: str, destination: Type, record: dict | None = None, *,
        inputs: Type | None = None, nullable: bool = True, **input_types: Type):
    """The value mapped into property `x` of type `destination` ("<omitted>" when left out)."""
    in_schema = inputs if inputs is not None else schema(**(input_types or {"unused": destination}))
    out_schema = object_type(Property("x", destination, nullable=nullable))
    mapping = compile_mapping({"x": expression}, in_schema, out_schema)
    out = mapping.apply(record or {})
    return out["x"] if "x" in out else "<omitted>"


def compile_error(expression: str, destination: Type, *, inputs: Type | None = None, **input_types) -> str:
    in_schema = inputs if inputs is not None else schema(**(input_types or {"unused": destination}))
    out_schema = object_type(Property("x", destination, nullable=True))
    try:
        compile_mapping({"x": expression}, in_schema, out_schema)
    except MappingError as err:
        return str(err)
    raise AssertionError(f"{expression!r} compiled")


def run_error(expression: str, destination: Type, record: dict | None = None, *,
              inputs: Type | None = None, **input_types) -> tuple[str, str]:
    """(message, step) of the TransformError a record raises."""
    in_schema = inputs if inputs is not None else schema(**(input_types or {"unused": destination}))
    out_schema = object_type(Property("x", destination, nullable=True))
    mapping = compile_mapping({"x": expression}, in_schema, out_schema)
    try:
        out = mapping.apply(record or {})
    except TransformError as err:
        return str(err), err.step
    raise AssertionError(f"{expression!r} gave {out!r}")
