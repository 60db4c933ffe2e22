"""Rules a workspace profile schema must follow (reference §3), as a pure function."""
from pipelines.types import Type, column_name, leaf_paths


class ProfileSchemaError(ValueError):
    pass


def _walk(properties, prefix=""):
    for prop in properties:
        path = f"{prefix}{prop.name}"
        yield path, prop
        if prop.type.kind == "object":
            yield from _walk(prop.type.properties, path + ".")


def check_profile_schema(schema: Type) -> None:
    if schema.kind != "object":
        raise ProfileSchemaError("profile schema is invalid")
    for path, prop in _walk(schema.properties):
        t = prop.type
        if prop.name.startswith("_"):
            raise ProfileSchemaError(f'profile schema property "{path}" cannot start with an underscore')
        if prop.prefilled:
            raise ProfileSchemaError(f'profile schema property "{path}" cannot have a prefilled value')
        if prop.create_required or prop.update_required:
            raise ProfileSchemaError(f'profile schema property "{path}" cannot be required for creation or update')
        if not prop.read_optional:
            raise ProfileSchemaError(f'profile schema property "{path}" must be optional (readOptional must be true)')
        if prop.nullable:
            raise ProfileSchemaError(f'profile schema property "{path}" cannot be nullable')
        if t.kind == "string" and (t.values is not None or t.pattern is not None):
            raise ProfileSchemaError(f'profile schema property "{path}" cannot have values or a pattern')
        if t.kind in ("array", "map"):
            element = t.element_type
            if element.kind in ("array", "object", "map"):
                raise ProfileSchemaError(f'profile schema property "{path}" cannot have type {t}')
            if element.kind == "string" and (element.values is not None or element.pattern is not None):
                raise ProfileSchemaError(f'profile schema property "{path}" cannot have values or a pattern')
        if t.kind == "array" and (t.unique_elements or t.min_elements or t.max_elements is not None):
            raise ProfileSchemaError(
                f'profile schema property "{path}" cannot have unique, minimum or maximum elements')
    seen: dict[str, str] = {}
    for path, _ in leaf_paths(schema):
        column = column_name(path).lower()
        if column in seen:
            raise ProfileSchemaError(f'profile schema properties "{seen[column]}" and "{path}" would have the same '
                                     f'column name "{column}" in the data warehouse, case-insensitively')
        seen[column] = path
