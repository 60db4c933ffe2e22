"""Property paths (`address.city`): syntax, resolution in object types, schema subsets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from .schema import Property, SchemaError, Type, is_valid_name


class PathNotExistError(SchemaError):
    """A path that does not resolve; `path` is the prefix up to the first failing segment."""

    def __init__(self, path: str):
        super().__init__(f'property path "{path}" does not exist')
        self.path = path


def is_valid_property_name(s: str) -> bool:
    return is_valid_name(s)


def is_valid_property_path(s: str) -> bool:
    return isinstance(s, str) and all(is_valid_name(name) for name in s.split("."))


def _check_syntax(path: str) -> None:
    # Krenalis panics on malformed paths; we report them instead.
    if not is_valid_property_path(path):
        raise SchemaError(f'property path "{path}" is not valid')


def property_by_path(object_type: Type, path: str) -> Property:
    """The property at `path`, walking only through object properties (Krenalis' ByPath)."""
    _check_syntax(path)
    names = path.split(".")
    current: Type | None = object_type
    for depth, name in enumerate(names):
        prop = current.property_named(name) if current is not None and current.kind == "object" else None
        if prop is None:
            raise PathNotExistError(".".join(names[: depth + 1]))
        if depth == len(names) - 1:
            return prop
        current = prop.type
    raise AssertionError("unreachable")


def _element_object(t: Type) -> Type:
    """The object type reached through any nesting of array/map elements, if any."""
    while t.kind in ("array", "map"):
        t = t.element_type
    return t


def contains_path(object_type: Type, path: str) -> bool:
    """Whether `path` exists, also looking into array/map element object types."""
    if not is_valid_property_path(path):
        return False
    current = object_type
    for name in path.split("."):
        current = _element_object(current)
        if current.kind != "object":
            return False
        prop = current.property_named(name)
        if prop is None:
            return False
        current = prop.type
    return True


def walk_properties(object_type: Type, *, into_elements: bool = True) -> Iterator[tuple[str, Property]]:
    """Every property depth-first, objects included; with `into_elements` also those of
    array/map element object types, with the same dotted notation (Krenalis' WalkAll)."""
    for prop in object_type.properties or ():
        yield prop.name, prop
        inner = _element_object(prop.type) if into_elements else prop.type
        if inner.kind == "object":
            for sub_path, sub_prop in walk_properties(inner, into_elements=into_elements):
                yield f"{prop.name}.{sub_path}", sub_prop


def leaf_paths(object_type: Type) -> list[tuple[str, Property]]:
    """Non-object properties depth-first with their dotted paths; arrays and maps are leaves."""
    return [(path, prop) for path, prop in walk_properties(object_type, into_elements=False)
            if prop.type.kind != "object"]


def leaf_values(object_type: Type) -> Callable[[dict], tuple]:
    """A function taking a nested dict (a value of `object_type`) to the tuple of its leaf values,
    in leaf_paths order: a row of warehouse columns. A missing key, or a non-dict on the way,
    gives None."""
    paths = [path.split(".") for path, _ in leaf_paths(object_type)]
    if all(len(segments) == 1 for segments in paths):
        names = [segments[0] for segments in paths]
        return lambda value: tuple(map(value.get, names))

    def value_at(value, segments):
        for segment in segments:
            if not isinstance(value, dict):
                return None
            value = value.get(segment)
        return value

    return lambda value: tuple(value_at(value, segments) for segments in paths)


def column_name(path: str) -> str:
    """The warehouse column holding a leaf: `address.city` -> `address_city`."""
    return path.replace(".", "_")


def _ancestors(path: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`, `a.b.c`."""
    position = path.find(".")
    while position != -1:
        yield path[:position]
        position = path.find(".", position + 1)
    yield path


def prune(object_type: Type, paths: Iterable[str]) -> Type | None:
    """The subset of an object type reached by `paths` (Krenalis' schemaSubset).

    A listed path keeps its whole property; an object is kept with just the
    listed parts below it; unknown paths are ignored; None when nothing remains.
    """
    wanted = set(paths)
    return _prune(object_type, "", wanted, {a for p in wanted for a in _ancestors(p)})


def _prune(object_type: Type, prefix: str, wanted: set[str], ancestors: set[str]) -> Type | None:
    kept: list[Property] = []
    for prop in object_type.properties:
        path = prefix + prop.name
        if path in wanted:
            kept.append(prop)
        elif path in ancestors and prop.type.kind == "object":
            inner = _prune(prop.type, path + ".", wanted, ancestors)
            if inner is not None:
                kept.append(replace(prop, type=inner))
    if not kept:
        return None
    return replace(object_type, properties=tuple(kept))


def unused_leaf_paths(object_type: Type, used_paths: Iterable[str]) -> list[str]:
    """Leaf paths not covered by `used_paths`, in schema order (Krenalis' unusedPropertyPath).

    A leaf is used when its own path or an ancestor's path is listed. A listed
    path below a leaf (`attrs.plan` for a json leaf `attrs`) also uses it.
    """
    used = set(used_paths)
    used_below = {a for p in used for a in _ancestors(p)}
    unused: list[str] = []
    for path, _ in leaf_paths(object_type):
        if path in used_below or any(a in used for a in _ancestors(path)):
            continue
        unused.append(path)
    return unused


def store_value(record: dict, path: str, value) -> None:
    """Set `value` at a dotted path, creating intermediate objects (Krenalis' storeValue)."""
    names = path.split(".")
    for name in names[:-1]:
        inner = record.get(name)
        if not isinstance(inner, dict):
            inner = record[name] = {}
        record = inner
    record[names[-1]] = value
