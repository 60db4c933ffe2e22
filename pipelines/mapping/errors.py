"""Errors of the mapping language."""

from __future__ import annotations

from typing import NoReturn


class MappingError(ValueError):
    """A mapping that does not compile; str() is the detail without the 'invalid mapping: ' prefix."""


class TransformError(ValueError):
    """A record the mapping cannot transform (the record fails, the run goes on).

    `step` is "Transformation" when evaluating the expression failed and
    "OutputValidation" when its result does not fit the destination property.
    """

    def __init__(self, message: str, step: str = "Transformation"):
        super().__init__(message)
        self.step = step


class EvalError(Exception):
    """Evaluation failure inside an expression; the caller adds ' while mapping to «path»'."""


class ConvertError(Exception):
    """A value that does not convert to a type.

    `kind` selects the message (see `format_convert_error`), `type` is the
    destination type text and `detail` the bound, limit or pattern.
    """

    __slots__ = ("kind", "type", "detail")

    def __init__(self, kind: str, type_text: str = "", detail: str = ""):
        self.kind = kind
        self.type = type_text
        self.detail = detail


def fail(kind: str, t, detail: str = "") -> NoReturn:
    """Raise the ConvertError of `kind` for the type `t`."""
    raise ConvertError(kind, str(t), detail)


PARSE_WHAT = {
    "datetime": "a date time in ISO 8601 format",
    "date": "a date in ISO 8601 format",
    "time": "a time in ISO 8601 format",
    "uuid": "a UUID",
    "ip": "an IP address",
}


def guillemets(text: str) -> str:
    return "«" + text.replace("»", "≫") + "»"


def format_convert_error(err: ConvertError, subject: str, *, runtime: bool) -> str:
    """The message for a failed conversion.

    At run time `subject` is the expression source and names are wrapped in
    «»; at compile time `subject` is the constant as written in Go syntax.
    """
    q = guillemets if runtime else (lambda s: s)
    s = q(subject)
    kind = err.kind
    if kind == "not_convertible":
        return f"{s} is not convertible to the {q(err.type)} type"
    if kind == "not_value":
        return f"number {s} is not a {q(err.type)} value"
    if kind == "less":
        return f"number {s} is less than {err.detail}"
    if kind == "greater":
        return f"number {s} is greater than {err.detail}"
    if kind == "parse":
        return f"{s} is not parsable as {PARSE_WHAT[err.type]}"
    if kind == "year":
        return f"year of {s} is not in range [1,9999]"
    if kind == "chars":
        return f"{s} exceeds the {err.detail}-char limit"
    if kind == "bytes":
        return f"{s} exceeds the {err.detail}-byte limit"
    if kind == "enum":
        return f"{s} is not one of the allowed values"
    if kind == "pattern":
        return f"{s} does not match {q('/' + err.detail.replace('/', chr(92) + '/') + '/')}"
    raise AssertionError(kind)
