"""The result of compiling one expression node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.types import Type


@dataclass
class Compiled:
    """A compiled node.

    fn(record) evaluates it; `rt` is the type of the values fn returns (what
    run-time converters are built from); `check` is the static type compile
    checks use (None when it has none, as for coalesce); constants carry
    their already converted `value`; `desc` names the node in compile errors.
    """

    fn: Callable[[dict], Any]
    rt: Type
    check: Type | None
    source: str
    desc: str
    const: bool = False
    value: Any = None


def constant(value, t: Type, source: str) -> Compiled:
    return Compiled(lambda record: value, t, t, source, source, True, value)
