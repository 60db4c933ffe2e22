"""Schema alignment: is `schema` still a subset of `reference` with identical types?

Used for a pipeline's outSchema against the workspace profile schema (at create/update and when a
run starts) and for its inSchema against the query's columns (when a run starts). The messages
say how `reference` differs from what the pipeline declared, in the reference's wording.

One difference is allowed for the inSchema only (`widening=True`): a nullable property over a
non-nullable column. Reading a column that has no NULL into a property that accepts NULL loses
nothing, and it lets a pipeline read NULL where a driver makes one of a NOT NULL column (MySQL's
zero date) without rewriting its query.
Pure Python.
"""
from .types import Property, Type


def _bound(value) -> str:
    return "unbounded" if value is None else str(value)


def _type_difference(name: str, declared: Type, actual: Type) -> str | None:
    if declared == actual:
        return None
    if declared.kind != actual.kind or declared.bit_size != actual.bit_size:
        return f'"{name}" property\'s type has changed from {declared} to {actual}'
    if declared.kind == "object":
        return _properties_difference(declared.properties, actual.properties, prefix=f"{name}.")
    changes = (
        ("max_length", "character length"),
        ("max_bytes", "byte length"),
        ("precision", "precision"),
        ("scale", "scale"),
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("min_elements", "minimum number of elements"),
        ("max_elements", "maximum number of elements"),
    )
    for attribute, label in changes:
        before, after = getattr(declared, attribute), getattr(actual, attribute)
        if before != after:
            return f'{label} of the "{name}" property\'s type has changed from {_bound(before)} to {_bound(after)}'
    if declared.unsigned != actual.unsigned:
        return f'"{name}" property\'s type has changed from {_signedness(declared)} to {_signedness(actual)}'
    if declared.real != actual.real:
        return f'"{name}" property\'s type has changed from {_realness(declared)} to {_realness(actual)}'
    if declared.values != actual.values:
        return f'allowed values of the "{name}" property\'s type have changed'
    if declared.pattern != actual.pattern:
        return f'regular expression of the "{name}" property\'s type has changed'
    if declared.unique_elements != actual.unique_elements:
        return f'uniqueness of the elements of the "{name}" property\'s type has changed'
    if declared.element_type is not None and actual.element_type is not None:
        inner = _type_difference(f"{name} element", declared.element_type, actual.element_type)
        if inner:
            return inner
    return f'"{name}" property\'s type has changed from {declared} to {actual}'


def _signedness(t: Type) -> str:
    return f"unsigned {t}" if t.unsigned else f"signed {t}"


def _realness(t: Type) -> str:
    return f"real {t}" if t.real else f"non-real {t}"


def _property_difference(path: str, declared: Property, actual: Property, widening: bool) -> str | None:
    difference = _type_difference(path, declared.type, actual.type)
    if difference:
        return difference
    if declared.nullable != actual.nullable and not (widening and declared.nullable):
        if actual.nullable:
            return f'"{path}" property was previously non-nullable but is now nullable'
        return f'"{path}" property was previously nullable but is now non-nullable'
    if declared.read_optional != actual.read_optional:
        if actual.read_optional:
            return f'"{path}" property was previously required for reading but is now optional'
        return f'"{path}" property was previously optional for reading but is now required'
    return None


def _properties_difference(declared_properties, actual_properties, prefix: str = "",
                           widening: bool = False) -> str | None:
    actual_by_name = {p.name: p for p in actual_properties}
    for declared in declared_properties:
        path = prefix + declared.name
        actual = actual_by_name.get(declared.name)
        if actual is None:
            return f'"{path}" property no longer exists'
        difference = _property_difference(path, declared, actual, widening)
        if difference:
            return difference
    return None


def alignment_difference(schema: Type, reference: Type, *, widening: bool = False) -> str | None:
    """None when every property of `schema` exists in `reference` with the same type and flags;
    with `widening`, a property of `schema` may also be nullable where `reference`'s is not."""
    return _properties_difference(schema.properties, reference.properties, widening=widening)
