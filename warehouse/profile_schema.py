"""Rules a workspace profile schema must follow (reference §3), as a pure function."""
from pipelines.types import Type, column_name, leaf_paths


class ProfileSchemaError(ValueError):
    pass


def _check_string(t: Type, subject: str, where: str = "") -> None:
    if t.values is not None:
        raise ProfileSchemaError(f"{subject} cannot specify values{where}")
    if t.pattern is not None:
        raise ProfileSchemaError(f"{subject} cannot specify a pattern{where}")


def _walk(properties, prefix=""):
    for prop in properties:
        path = f"{prefix}{prop.name}"
        yield path, prop
        if prop.type.kind == "object":
            yield from _walk(prop.type.properties, path + ".")


def check_profile_schema(schema: Type) -> None:
    """Raises ProfileSchemaError with Krenalis' message for the first property breaking a rule."""
    if schema.kind != "object":
        raise ProfileSchemaError("profile schema is invalid")
    for _, prop in _walk(schema.properties):
        t = prop.type
        if prop.name.startswith("_"):
            raise ProfileSchemaError("profile schema cannot have meta properties")
        if prop.prefilled:
            raise ProfileSchemaError("profile schema properties cannot have a prefilled value")
        if prop.create_required or prop.update_required:
            raise ProfileSchemaError("profile schema properties cannot be required")
        if not prop.read_optional:
            raise ProfileSchemaError("profile schema properties must be optional")
        if prop.nullable:
            raise ProfileSchemaError("profile schema properties cannot be nullable")
        if t.kind == "string":
            _check_string(t, "profile schema properties with type string")
        if t.kind in ("array", "map"):
            element = t.element_type
            if element.kind in ("array", "object", "map"):
                raise ProfileSchemaError(f"profile schema properties cannot have type {t}")
            if element.kind == "string":
                _check_string(element, f"profile schema properties of type {t}", " for their element type")
        if t.kind == "array":
            for present, what in ((t.unique_elements, "unique elements"),
                                  (t.min_elements, "minimum elements count"),
                                  (t.max_elements is not None, "maximum elements count")):
                if present:
                    raise ProfileSchemaError(f"profile schema properties with type array cannot specify {what}")
    seen: dict[str, str] = {}
    for path, _ in leaf_paths(schema):
        column = column_name(path).lower()
        if column in seen:
            raise ProfileSchemaError(f'profile schema properties "{seen[column]}" and "{path}" would have the same '
                                     f'column name "{column}" in the data warehouse, case-insensitively')
        seen[column] = path
