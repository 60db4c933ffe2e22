"""The Krenalis type system: schemas, property paths and values (pure Python, no Django)."""

from pipelines.timeformats.iso8601 import parse_iso8601

from .normalize import make_normalizer, normalize_value
from .paths import (
    PathNotExistError, column_name, contains_path, is_valid_property_name, is_valid_property_path,
    leaf_paths, leaf_values, property_by_path, prune, store_value, unused_leaf_paths, walk_properties,
)
from .schema import (
    KINDS, Property, SchemaError, Type, array_, boolean, date_, datetime_, decimal, dumps_json,
    float_, int_, ip, json_, loads_json, map_, natural_bounds, object_, object_type, parse_property,
    parse_type, property_to_json, string, time_, type_to_json, uuid_, year,
)
from .values import (
    NormalizeError, RawJSON, encode_value, format_datetime, format_float, format_time, parse_time_of_day,
)

__all__ = [
    "KINDS", "NormalizeError", "PathNotExistError", "Property", "RawJSON", "SchemaError", "Type",
    "array_", "boolean", "column_name", "contains_path", "date_", "datetime_", "decimal",
    "dumps_json", "encode_value", "float_", "format_datetime", "format_float", "format_time",
    "int_", "ip", "is_valid_property_name", "is_valid_property_path", "json_", "leaf_paths",
    "leaf_values", "loads_json", "make_normalizer", "map_", "natural_bounds", "normalize_value", "object_",
    "object_type", "parse_iso8601", "parse_property", "parse_time_of_day", "parse_type",
    "property_by_path", "property_to_json", "prune", "store_value", "string", "time_",
    "type_to_json", "unused_leaf_paths", "uuid_", "walk_properties", "year",
]
