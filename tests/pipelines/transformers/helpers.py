"""Helpers for the transformation function tests: real quickjs, real worker processes."""

from __future__ import annotations

import contextlib

from pipelines.transformers import DEFAULT_LIMITS, FunctionTransformer, Limits
from pipelines.types import Property, Type, object_type

LANGUAGES = ["JavaScript", "Python"]


def prop(name: str, t: Type, **flags) -> Property:
    return Property(name, t, **flags)


def out_prop(name: str, t: Type, **flags) -> Property:
    """An output (profile) property: readOptional, as import pipelines require."""
    return Property(name, t, read_optional=True, **flags)


def schema(*properties: Property) -> Type:
    return object_type(*properties)


@contextlib.contextmanager
def transformer(language: str, source: str, in_schema: Type, out_schema: Type, *,
                in_paths: list[str] | None = None, out_paths: list[str] | None = None,
                preserve_json: bool = False, limits: Limits = DEFAULT_LIMITS):
    """A FunctionTransformer; paths default to every top-level property."""
    t = FunctionTransformer(
        language=language, source=source, in_schema=in_schema, out_schema=out_schema,
        in_paths=[p.name for p in in_schema.properties] if in_paths is None else in_paths,
        out_paths=[p.name for p in out_schema.properties] if out_paths is None else out_paths,
        preserve_json=preserve_json, limits=limits)
    try:
        yield t
    finally:
        t.close()


def run(language: str, source: str, in_schema: Type, out_schema: Type, records: list[dict], **kwargs) -> list:
    with transformer(language, source, in_schema, out_schema, **kwargs) as t:
        return t.transform_batch(records)


def peak_rss_growth(call) -> tuple[object, int]:
    """(call(), how far this process's resident memory rose above where it was, at its peak, in
    bytes). The kernel's peak (VmHWM) is reset to the current RSS first (/proc/self/clear_refs)."""
    def status(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise LookupError(field)

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    try:
        result = call()
    except BaseException as error:  # noqa: BLE001 - the caller asserts on it
        result = error
    return result, status("VmHWM") - before
