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


_MESSAGES = {
    "not_convertible": "{subject} is not convertible to the {type} type",
    "not_value": "number {subject} is not a {type} value",
    "less": "number {subject} is less than {detail}",
    "greater": "number {subject} is greater than {detail}",
    "parse": "{subject} is not parsable as {what}",
    "year": "year of {subject} is not in range [1,9999]",
    "chars": "{subject} exceeds the {detail}-char limit",
    "bytes": "{subject} exceeds the {detail}-byte limit",
    "enum": "{subject} is not one of the allowed values",
    "pattern": "{subject} does not match {pattern}",
}


def guillemets(text: str) -> str:
    return "«" + text.replace("»", "≫") + "»"


def format_convert_error(err: ConvertError, subject: str, *, runtime: bool) -> str:
    """The message for a failed conversion.

    At run time `subject` is the expression source and names are wrapped in
    «»; at compile time `subject` is the constant as written in Go syntax.
    """
    q = guillemets if runtime else (lambda s: s)
    pattern = q("/" + err.detail.replace("/", "\\/") + "/") if err.kind == "pattern" else ""
    return _MESSAGES[err.kind].format(subject=q(subject), type=q(err.type), detail=err.detail,
                                      what=PARSE_WHAT.get(err.type, ""), pattern=pattern)
