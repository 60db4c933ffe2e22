"""The range and shape checks of a conversion's destination type, built once per mapping."""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal

from pipelines.types import Type
from pipelines.types.schema import MAX_FLOAT32, MAX_FLOAT64, decimal_fits, to_float32
from pipelines.types.values import format_float

from .errors import ConvertError
from .formats import format_decimal

try:  # the type system's RE2-flavoured compiler, when it has one
    from pipelines.types.schema import compile_pattern as _compile_pattern
except ImportError:  # pragma: no cover
    _compile_pattern = re.compile

DECIMAL_CONTEXT = Context(prec=400, Emax=999999, Emin=-999999)
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1


def int_bounds(t: Type) -> tuple[int, int]:
    if t.kind == "year":
        return 1, 9999
    bits = t.bit_size
    if t.unsigned:
        low, high = 0, (1 << bits) - 1
    else:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if t.minimum is not None:
        low = int(t.minimum)
    if t.maximum is not None:
        high = int(t.maximum)
    return low, high


def float_bounds(t: Type) -> tuple[float, float]:
    if t.real:
        top = MAX_FLOAT32 if t.bit_size == 32 else MAX_FLOAT64
        low, high = -top, top
    else:
        low, high = -math.inf, math.inf
    if t.minimum is not None:
        low = float(t.minimum)
    if t.maximum is not None:
        high = float(t.maximum)
    return low, high


def decimal_bounds(t: Type) -> tuple[Decimal, Decimal]:
    top = (Decimal(10) ** t.precision - 1).scaleb(-t.scale, DECIMAL_CONTEXT)
    low = -top if t.minimum is None else Decimal(t.minimum)
    high = top if t.maximum is None else Decimal(t.maximum)
    return low, high


def strip_zeros(value: Decimal) -> Decimal:
    """1.500 -> 1.5 without ever switching to exponent form."""
    if value.as_tuple().exponent >= 0:
        return value
    reduced = DECIMAL_CONTEXT.normalize(value)
    if reduced.as_tuple().exponent > 0:
        reduced = reduced.quantize(Decimal(1), context=DECIMAL_CONTEXT)
    return reduced


def string_check(dst: Type, nullable: bool):
    """The constraints of a string type (enum, pattern, or byte/char limits), None if it has none."""
    if dst.values is not None:
        allowed = frozenset(dst.values)
        t = str(dst)

        def check_enum(s):
            if s in allowed:
                return s
            if s == "" and nullable:
                return None
            raise ConvertError("enum", t)
        return check_enum
    if dst.pattern is not None:
        search = _compile_pattern(dst.pattern).search
        pattern = dst.pattern
        t = str(dst)

        def check_pattern(s):
            if search(s) is not None:
                return s
            if s == "" and nullable:
                return None
            raise ConvertError("pattern", t, pattern)
        return check_pattern
    max_bytes, max_length = dst.max_bytes, dst.max_length
    if max_bytes is None and max_length is None:
        return None
    t = str(dst)

    def check_length(s):
        if max_bytes is not None and len(s) * 4 > max_bytes and len(s.encode("utf-8", "surrogatepass")) > max_bytes:
            raise ConvertError("bytes", t, str(max_bytes))
        if max_length is not None and len(s) > max_length:
            raise ConvertError("chars", t, str(max_length))
        return s
    return check_length


def int_check(dst: Type):
    """Range check of an int (or year) destination: "not a value" beyond 64 bits or negative
    into unsigned, otherwise "less than" / "greater than" its bounds."""
    low, high = int_bounds(dst)
    unsigned = dst.unsigned
    t = str(dst)
    if dst.kind == "year":
        def check_year(v):
            if v < 1 or v > 9999:
                raise ConvertError("year", t)
            return v
        return check_year

    def check(v):
        if v < low:
            if v < 0 and (unsigned or v < INT64_MIN):
                raise ConvertError("not_value", t)
            raise ConvertError("less", t, str(low))
        if v > high:
            if v > (UINT64_MAX if unsigned else INT64_MAX):
                raise ConvertError("not_value", t)
            raise ConvertError("greater", t, str(high))
        return v
    return check


def float_post(dst: Type):
    """Rounding to the destination bit size and its range checks."""
    bits = dst.bit_size
    real = dst.real
    low, high = float_bounds(dst)
    t = str(dst)
    low_text, high_text = format_float(low, bits), format_float(high, bits)

    def post(v):
        if bits == 32:
            try:
                v = to_float32(v)
            except OverflowError:
                raise ConvertError("not_value", t) from None
        if v != v:
            if real:
                raise ConvertError("not_value", t)
            return v
        if real and (v == math.inf or v == -math.inf):
            raise ConvertError("not_value", t)
        if v < low:
            raise ConvertError("less", t, low_text)
        if v > high:
            raise ConvertError("greater", t, high_text)
        return v
    return post


def decimal_post(dst: Type):
    precision, scale = dst.precision, dst.scale
    low, high = decimal_bounds(dst)
    t = str(dst)
    low_text, high_text = format_decimal(low), format_decimal(high)

    def post(d):
        if not decimal_fits(d, precision, scale):
            raise ConvertError("not_value", t)
        if d < low:
            raise ConvertError("less", t, low_text)
        if d > high:
            raise ConvertError("greater", t, high_text)
        return d
    return post


def array_checks(dst: Type):
    low, high = dst.min_elements or 0, dst.max_elements
    unique = dst.unique_elements
    t = str(dst)

    def finish(items):
        n = len(items)
        if n < low or (high is not None and n > high):
            raise ConvertError("not_convertible", t)
        if unique and len(set(items)) != n:
            raise ConvertError("not_convertible", t)
        return items
    return finish
