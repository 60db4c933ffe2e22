"""Conversions between types (§3.7): which pairs compile, and the run-time converters.

`converter(src, dst, nullable)` is called once at compile time and returns a
function for one value of type `src` (never None) that returns the value of
type `dst`, or None when a null results in nullable mode. It returns None
when no work is needed. Failures raise ConvertError; the caller words them.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

from pipelines.types import RawJSON, Type

from .errors import ConvertError
from .formats import (
    JSON_NULL, JSONNumber, dumps_json, format_date, format_datetime, format_decimal, format_float,
    format_time, json_float, loads_json, to_float32,
)

try:  # the type system's RE2-flavoured compiler, when it has one
    from pipelines.types.schema import compile_pattern as _compile_pattern
except ImportError:  # pragma: no cover
    _compile_pattern = re.compile

UTC = timezone.utc
DECIMAL_CONTEXT = Context(prec=400, Emax=999999, Emin=-999999)

STRING = Type("string")
BOOLEAN = Type("boolean")
INT32 = Type("int", bit_size=32)
INT64 = Type("int", bit_size=64)
DECIMAL_LITERAL = Type("decimal", precision=76, scale=37)
JSON = Type("json")
ARRAY_JSON = Type("array", element_type=JSON)
MAP_JSON = Type("map", element_type=JSON)

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
_FLOAT_INT64_MAX = 9223372036854774784.0  # largest float below 2**63
_FLOAT_UINT64_MAX = 18446744073709549568.0  # largest float below 2**64
MAX_FLOAT32 = 3.4028234663852886e38
MAX_FLOAT64 = 1.7976931348623157e308

_TEXT_KINDS = ("string", "uuid", "ip")


# --------------------------------------------------------------------------- compile-time matrix

_SCALAR_TARGETS = {
    "string": {"string", "boolean", "int", "float", "decimal", "datetime", "date", "time", "year",
               "uuid", "json", "ip"},
    "boolean": {"string", "boolean", "json"},
    "int": {"string", "int", "float", "decimal", "year", "json"},
    "float": {"string", "int", "float", "decimal", "json"},
    "decimal": {"string", "int", "float", "decimal", "json"},
    "datetime": {"string", "datetime", "date", "time", "json"},
    "date": {"string", "datetime", "date", "json"},
    "time": {"string", "time", "json"},
    "year": {"string", "int", "year", "json"},
    "uuid": {"string", "uuid", "json"},
    "ip": {"string", "ip", "json"},
}


def convertible(src: Type, dst: Type) -> bool:
    """Whether values of `src` may be mapped into `dst` (the matrix of §3.7)."""
    s, d = src.kind, dst.kind
    if s == "json" or d == "json":
        return True
    if s == "boolean" and d == "int":
        return dst.bit_size == 8
    if s == "int" and d == "boolean":
        return src.bit_size == 8
    targets = _SCALAR_TARGETS.get(s)
    if targets is not None:
        return d in targets
    if s == "array":
        return d == "array" and convertible(src.element_type, dst.element_type)
    if s == "object":
        if d == "object":
            common = [(p, property_named(dst, p.name)) for p in src.properties]
            common = [(p, q) for p, q in common if q is not None]
            return bool(common) and all(convertible(p.type, q.type) for p, q in common)
        if d == "map":
            return all(convertible(p.type, dst.element_type) for p in src.properties)
        return False
    if s == "map":
        if d == "map":
            return convertible(src.element_type, dst.element_type)
        if d == "object":
            return all(convertible(src.element_type, p.type) for p in dst.properties)
        return False
    return False


# --------------------------------------------------------------------------- helpers

def property_named(t: Type, name: str):
    """The property of an object type with that name, or None."""
    for p in t.properties or ():
        if p.name == name:
            return p
    return None


def _fail(kind: str, t: Type, detail: str = ""):
    raise ConvertError(kind, str(t), detail)


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


def decimal_fits(value: Decimal, precision: int, scale: int) -> bool:
    """At most precision-scale integer digits and scale fractional digits (trailing zeros ignored)."""
    if not value.is_finite():
        return False
    if value.is_zero():
        return True
    _, digits, exponent = value.as_tuple()
    significant = len(digits)
    while significant > 1 and exponent < 0 and digits[significant - 1] == 0:
        significant -= 1
        exponent += 1
    fractional = -exponent if exponent < 0 else 0
    return fractional <= scale and significant + exponent <= precision - scale


def strip_zeros(value: Decimal) -> Decimal:
    """1.500 -> 1.5 without ever switching to exponent form."""
    if value.as_tuple().exponent >= 0:
        return value
    reduced = DECIMAL_CONTEXT.normalize(value)
    if reduced.as_tuple().exponent > 0:
        reduced = reduced.quantize(Decimal(1), context=DECIMAL_CONTEXT)
    return reduced


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def scalar_text(src: Type):
    """Function giving the text of a non-JSON scalar (None for text kinds, already a str)."""
    kind = src.kind
    if kind in _TEXT_KINDS:
        return None
    if kind == "boolean":
        return _bool_text
    if kind in ("int", "year"):
        return int.__repr__
    if kind == "float":
        bits = src.bit_size or 64
        return lambda v: format_float(v, bits)
    if kind == "decimal":
        return format_decimal
    if kind == "datetime":
        return format_datetime
    if kind == "date":
        return format_date
    if kind == "time":
        return format_time
    raise TypeError(f"{src} has no text form")


# --------------------------------------------------------------------------- parsers of text

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))\Z")
_ISO8601 = re.compile(
    r"\+?(\d{4})(?:-(\d{2})(?:-(\d{2}))?|-(\d{3}))?"
    r"(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?\Z")
_YMD = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_MDY = re.compile(r"(\d{2})([/.])(\d{2})\2(\d{4})\Z")
_EXCEL = re.compile(r"(\d+)(?:\.\d+)?\Z")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_EXCEL_EPOCH = date(1899, 12, 31)


def _micro(fraction: str | None) -> int:
    return int((fraction or "0").ljust(6, "0")[:6])


def _to_utc(year, month, day, hour, minute, second, micro, offset: timedelta, t: Type) -> datetime:
    if year == 0:
        _fail("year", t)
    try:
        local = datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        _fail("parse", Type("datetime"))
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:
        _fail("year", t)


def parse_rfc3339(text: str, t: Type) -> datetime:
    """Strict RFC 3339 (YYYY-MM-DDTHH:MM:SS[.f](Z|±hh:mm)) to an aware UTC datetime."""
    m = _RFC3339.match(text)
    if m is None:
        _fail("parse", Type("datetime"))
    year, month, day, hour, minute, second, fraction, z, sign, oh, om = m.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        _fail("parse", Type("datetime"))
    offset = timedelta(0)
    if z is None:
        if int(oh) > 23 or int(om) > 59:
            _fail("parse", Type("datetime"))
        offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    return _to_utc(int(year), int(month), int(day), int(hour), int(minute), int(second),
                   _micro(fraction), offset, t)


def parse_iso8601(text: str, t: Type) -> datetime:
    """The lenient ISO 8601 parser (spec §6.3) to an aware UTC datetime."""
    m = _ISO8601.match(text)
    if m is None:
        _fail("parse", Type("datetime"))
    year, month, day, ordinal, hour, minute, second, fraction, zone = m.groups()
    year = int(year)
    if ordinal is not None:
        number = int(ordinal)
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if not 1 <= number <= (366 if leap else 365):
            _fail("parse", Type("datetime"))
        if year == 0:
            _fail("year", t)
        first = date(year, 1, 1) + timedelta(days=number - 1)
        month, day = first.month, first.day
    else:
        month, day = int(month or 1), int(day or 1)
    hour, minute, second = int(hour or 0), int(minute or 0), int(second or 0)
    if hour > 23 or minute > 59 or second > 59:
        _fail("parse", Type("datetime"))
    offset = timedelta(0)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:] or 0)
        if oh > 23 or om > 59 or (zone[0] == "-" and oh == 0 and om == 0):
            _fail("parse", Type("datetime"))
        offset = timedelta(hours=oh, minutes=om) * (-1 if zone[0] == "-" else 1)
    return _to_utc(year, month, day, hour, minute, second, _micro(fraction), offset, t)


def _make_date(year: int, month: int, day: int, t: Type) -> date:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        _fail("parse", t)
    if year == 0:
        _fail("year", t)
    try:
        return date(year, month, day)
    except ValueError:
        _fail("parse", t)


def parse_date_text(text: str, t: Type) -> date:
    """YYYY-MM-DD, MM/DD/YYYY, MM.DD.YYYY or an Excel serial day number."""
    if len(text) == 10:
        m = _YMD.match(text)
        if m is not None:
            return _make_date(int(m[1]), int(m[2]), int(m[3]), t)
        m = _MDY.match(text)
        if m is not None:
            return _make_date(int(m[4]), int(m[1]), int(m[3]), t)
    if len(text) >= 3:
        m = _EXCEL.match(text)
        if m is not None:
            serial = int(m[1]) if len(m[1]) < 10 else 10 ** 9
            if serial == 60:  # 1900-02-29, the Lotus leap-year bug
                _fail("parse", t)
            if serial > 60:
                serial -= 1
            try:
                return _EXCEL_EPOCH + timedelta(days=serial)
            except OverflowError:
                _fail("year", t)
    _fail("parse", t)


def parse_iso_date(text: str, t: Type) -> date:
    m = _YMD.match(text)
    if m is None:
        _fail("parse", t)
    return _make_date(int(m[1]), int(m[2]), int(m[3]), t)


def parse_time_text(text: str, t: Type) -> time:
    """HH:MM:SS[.f{1,9}], anything after it ignored."""
    m = _TIME.match(text)
    if m is None:
        _fail("parse", t)
    hour, minute, second = int(m[1]), int(m[2]), int(m[3])
    if hour > 23 or minute > 59 or second > 59:
        _fail("parse", t)
    return time(hour, minute, second, _micro(m[4]))


_HEX32 = re.compile(r"[0-9a-fA-F]{32}\Z")


def parse_uuid(text: str, t: Type) -> str:
    """The forms Google's uuid.Parse accepts, to the canonical lower-case form."""
    n = len(text)
    if n == 45:
        if text[:9].lower() != "urn:uuid:":
            _fail("parse", t)
        text = text[9:]
    elif n == 38:
        if text[0] != "{" or text[-1] != "}":
            _fail("parse", t)
        text = text[1:-1]
    elif n == 32:
        if _HEX32.match(text) is None:
            _fail("parse", t)
        h = text.lower()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    elif n != 36:
        _fail("parse", t)
    if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        _fail("parse", t)
    h = text[:8] + text[9:13] + text[14:18] + text[19:23] + text[24:]
    if _HEX32.match(h) is None:
        _fail("parse", t)
    return text.lower()


def parse_ip(text: str, t: Type) -> str:
    """A single IPv4/IPv6 address (no prefix) in Go's canonical text form."""
    if not text or not text.isascii():
        _fail("parse", t)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        _fail("parse", t)
    if address.version == 6 and address.ipv4_mapped is not None:
        scope = f"%{address.scope_id}" if address.scope_id else ""
        return f"::ffff:{address.ipv4_mapped}{scope}"
    return str(address)


# --------------------------------------------------------------------------- converters by destination

def converter(src: Type, dst: Type, nullable: bool):
    """The function converting a non-null value of `src` into `dst` (None: nothing to do)."""
    if src == dst:
        return None
    if not convertible(src, dst):
        return _never(dst)
    if src.kind == "json":
        if dst.kind == "json":
            return None
        from_parsed = from_json(dst, nullable)
        return lambda v: from_parsed(loads_json(v.text))
    return _BUILDERS[dst.kind](src, dst, nullable)


def holds_every_value(src: Type, dst: Type) -> bool:
    """Whether every valid value of `src` is, unchanged, a valid value of `dst`: a value known to
    fit `src` then needs no conversion (e.g. string(120) into string(254), where `converter`
    checks the length of values that may not have been validated)."""
    if src == dst:
        return True
    if src.kind != "string" or dst.kind != "string" or dst.values is not None or dst.pattern is not None:
        return False
    length, size = src.max_length, src.max_bytes  # a character takes 1 to 4 bytes
    chars = min((n for n in (length, size) if n is not None), default=None)
    size = min((n for n in (size, None if length is None else 4 * length) if n is not None), default=None)
    return ((dst.max_length is None or (chars is not None and chars <= dst.max_length))
            and (dst.max_bytes is None or (size is not None and size <= dst.max_bytes)))


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


def _to_string(src: Type, dst: Type, nullable: bool):
    check = string_check(dst, nullable)
    text = scalar_text(src)
    if text is None:
        return check
    if check is None:
        return text
    return lambda v: check(text(v))


def _to_boolean(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "boolean":
        return None
    if kind == "int":
        return lambda v: v != 0
    if kind == "string":
        return _string_to_bool(dst, nullable)
    return _never(dst)


_TRUE_WORDS = {"true": True, "True": True, "TRUE": True, "yes": True, "Yes": True, "YES": True,
               "false": False, "False": False, "FALSE": False, "no": False, "No": False, "NO": False}


def _string_to_bool(dst: Type, nullable: bool):
    words = _TRUE_WORDS
    t = str(dst)

    def conv(s):
        value = words.get(s)
        if value is None:
            if s == "" and nullable:
                return None
            raise ConvertError("not_convertible", t)
        return value
    return conv


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


_SIGNED_INT = re.compile(r"[+-]?[0-9]+\Z")
_UNSIGNED_INT = re.compile(r"[0-9]+\Z")


def _parse_int_text(s: str, t: str) -> int:
    digits = s.lstrip("+-").lstrip("0")
    if len(digits) > 20:  # far beyond 64 bits (and Python's int() digit limit)
        raise ConvertError("not_value", t)
    return int(s)


def _to_int(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    check = int_check(dst)
    t = str(dst)
    if kind in ("int", "year"):
        low, high = int_bounds(dst)
        src_low, src_high = int_bounds(src)
        if low <= src_low and src_high <= high:
            return None
        return check
    if kind == "boolean":
        return lambda v: check(1 if v else 0)
    if kind == "string":
        pattern = _UNSIGNED_INT if dst.unsigned else _SIGNED_INT
        match = pattern.match

        def from_string(s):
            if match(s) is None:
                if s == "" and nullable:
                    return None
                raise ConvertError("not_convertible", t)
            return check(_parse_int_text(s, t))
        return from_string
    if kind == "float":
        unsigned = dst.unsigned

        def from_float(v):
            if v != v:
                raise ConvertError("not_value", t)
            if unsigned:
                if v < 0 or v > _FLOAT_UINT64_MAX:
                    raise ConvertError("not_value", t)
            elif v < -9223372036854775808.0 or v > _FLOAT_INT64_MAX:
                raise ConvertError("not_value", t)
            if v.is_integer():
                return check(int(v))
            return check(int(Decimal(v).to_integral_value(rounding=ROUND_HALF_UP)))
        return from_float
    if kind == "decimal":
        unsigned = dst.unsigned

        def from_decimal(v):
            if not v.is_finite() or v != v.to_integral_value() or v.adjusted() > 20:
                raise ConvertError("not_value", t)
            n = int(v)
            if n > (UINT64_MAX if unsigned else INT64_MAX) or n < (0 if unsigned else INT64_MIN):
                raise ConvertError("not_value", t)
            return check(n)
        return from_decimal
    return _never(dst)


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


_FLOAT_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))\Z")


def _to_float(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    post = float_post(dst)
    t = str(dst)
    if kind == "float":
        if (dst.bit_size == 64 and dst.minimum is None and dst.maximum is None
                and (not dst.real or src.real)):
            return None
        return post
    if kind == "int":
        return lambda v: post(float(v))
    if kind == "decimal":
        return lambda v: post(float(v))
    if kind == "string":
        match = _FLOAT_TEXT.match

        def from_string(s):
            if match(s) is None:
                if s == "" and nullable:
                    return None
                raise ConvertError("not_convertible", t)
            v = float(s)
            if (v == math.inf or v == -math.inf) and s.lstrip("+-")[:1] not in ("i", "I"):
                raise ConvertError("not_value", t)
            return post(v)
        return from_string
    return _never(dst)


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


_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def _to_decimal(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    post = decimal_post(dst)
    t = str(dst)
    if kind == "int":
        return lambda v: post(Decimal(v))
    if kind == "decimal":
        if (dst.minimum is None and dst.maximum is None and src.scale <= dst.scale
                and src.precision - src.scale <= dst.precision - dst.scale):
            return None
        return post
    if kind == "float":
        return _float_to_decimal(dst)
    if kind == "string":
        match = _DECIMAL_TEXT.match

        def from_string(s):
            if match(s) is None:
                if s == "" and nullable:
                    return None
                raise ConvertError("not_convertible", t)
            return post(Decimal(s))
        return from_string
    return _never(dst)


def _float_to_decimal(dst: Type):
    post = decimal_post(dst)
    limit = 10.0 ** (dst.precision - dst.scale)
    quantum = Decimal(1).scaleb(-dst.scale)
    t = str(dst)

    def conv(v):
        if v != v or v == math.inf or v == -math.inf or abs(v) >= limit * 10:
            raise ConvertError("not_value", t)
        d = Decimal(v).quantize(quantum, rounding=ROUND_HALF_EVEN, context=DECIMAL_CONTEXT)
        return post(strip_zeros(d))
    return conv


def _to_datetime(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "date":
        return lambda v: datetime(v.year, v.month, v.day, tzinfo=UTC)
    if kind == "string":
        def from_string(s):
            if s == "" and nullable:
                return None
            return parse_rfc3339(s, dst)
        return from_string
    return _never(dst)


def _to_date(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "datetime":
        return lambda v: v.astimezone(UTC).date() if v.tzinfo is not None and v.utcoffset() else v.date()
    if kind == "string":
        def from_string(s):
            if s == "" and nullable:
                return None
            return parse_date_text(s, dst)
        return from_string
    return _never(dst)


def _to_time(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "datetime":
        return lambda v: (v.astimezone(UTC) if v.tzinfo is not None and v.utcoffset() else v).time()
    if kind == "string":
        def from_string(s):
            if s == "" and nullable:
                return None
            return parse_time_text(s, dst)
        return from_string
    return _never(dst)


_YEAR_TEXT = re.compile(r"(?:0|[1-9][0-9]*)\Z")


def _to_year(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    check = int_check(dst)
    t = str(dst)
    if kind == "int":
        return check
    if kind == "string":
        match = _YEAR_TEXT.match

        def from_string(s):
            if match(s) is None:
                if s == "" and nullable:
                    return None
                raise ConvertError("not_convertible", t)
            if len(s) > 4:
                raise ConvertError("year", t)
            return check(int(s))
        return from_string
    return _never(dst)


def _text_parser(parse):
    def build(src: Type, dst: Type, nullable: bool):
        if src.kind != "string":
            return _never(dst)

        def from_string(s):
            if s == "" and nullable:
                return None
            return parse(s, dst)
        return from_string
    return build


def _to_json(src: Type, dst: Type, nullable: bool):
    encode = json_encoder(src)
    return lambda v: RawJSON(encode(v))


def _to_array(src: Type, dst: Type, nullable: bool):
    if src.kind != "array":
        return _never(dst)
    convert_element = converter(src.element_type, dst.element_type, False)
    element_text = str(dst.element_type)
    finish = _array_checks(dst)

    def conv(v):
        if convert_element is not None:
            out = []
            append = out.append
            for item in v:
                if item is None:
                    raise ConvertError("not_convertible", element_text)
                append(convert_element(item))
            v = out
        return finish(v)
    return conv


def _array_checks(dst: Type):
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


def _object_plan(dst: Type, source_type_of):
    """[(name, converter, nullable, type text)] for each destination property with a source."""
    plan = []
    for p in dst.properties:
        src_type = source_type_of(p.name)
        if src_type is None:
            continue
        plan.append((p.name, converter(src_type, p.type, p.nullable), p.nullable, str(p.type)))
    return plan


def _convert_object(plan, v, get_present):
    out = {}
    for name, conv, nullable, type_text in plan:
        present, item = get_present(v, name)
        if not present:
            continue
        if item is None:
            if nullable:
                out[name] = None
                continue
            raise ConvertError("not_convertible", type_text)
        out[name] = item if conv is None else conv(item)
    return out


_MISSING = object()


def _get_present(v, name):
    item = v.get(name, _MISSING)
    if item is _MISSING:
        return False, None
    return True, item


def _to_object(src: Type, dst: Type, nullable: bool):
    if src.kind == "object":
        def source_type_of(name):
            p = property_named(src, name)
            return None if p is None else p.type
    elif src.kind == "map":
        def source_type_of(name):
            return src.element_type
    else:
        return _never(dst)
    plan = _object_plan(dst, source_type_of)
    return lambda v: _convert_object(plan, v, _get_present)


def _to_map(src: Type, dst: Type, nullable: bool):
    element_text = str(dst.element_type)
    if src.kind == "map":
        conv = converter(src.element_type, dst.element_type, False)
        if conv is None:
            def check_nulls(v):
                if None in v.values():
                    raise ConvertError("not_convertible", element_text)
                return v
            return check_nulls
        convs = None
    elif src.kind == "object":
        convs = {p.name: converter(p.type, dst.element_type, False) for p in src.properties}
        conv = None
    else:
        return _never(dst)

    def convert_map(v):
        out = {}
        for key, item in v.items():
            if item is None:
                raise ConvertError("not_convertible", element_text)
            c = conv if convs is None else convs.get(key)
            out[key] = item if c is None else c(item)
        return out
    return convert_map


def _never(dst: Type):
    t = str(dst)

    def fail(v):
        raise ConvertError("not_convertible", t)
    return fail


_BUILDERS = {
    "string": _to_string,
    "boolean": _to_boolean,
    "int": _to_int,
    "float": _to_float,
    "decimal": _to_decimal,
    "datetime": _to_datetime,
    "date": _to_date,
    "time": _to_time,
    "year": _to_year,
    "uuid": _text_parser(parse_uuid),
    "ip": _text_parser(parse_ip),
    "json": _to_json,
    "array": _to_array,
    "object": _to_object,
    "map": _to_map,
}


# --------------------------------------------------------------------------- from JSON values

def from_json(dst: Type, nullable: bool):
    """Converter of a decoded JSON value (see formats.loads_json) into `dst`.

    A JSON null stays a JSON null into json, becomes null when nullable,
    and fails otherwise.
    """
    if dst.kind == "json":
        return lambda p: JSON_NULL if p is None else RawJSON(dumps_json(p))
    inner = _JSON_BUILDERS[dst.kind](dst, nullable)
    t = str(dst)

    def conv(p):
        if p is None:
            if nullable:
                return None
            raise ConvertError("not_convertible", t)
        return inner(p)
    return conv


def _json_to_string(dst: Type, nullable: bool):
    check = string_check(dst, nullable)
    t = str(dst)

    def conv(p):
        kind = type(p)
        if kind is str:
            s = p
        elif kind is JSONNumber:
            s = p.text
        elif kind is bool:
            s = "true" if p else "false"
        else:
            raise ConvertError("not_convertible", t)
        return s if check is None else check(s)
    return conv


def _json_to_boolean(dst: Type, nullable: bool):
    t = str(dst)

    def conv(p):
        if type(p) is bool:
            return p
        raise ConvertError("not_convertible", t)
    return conv


_JSON_INT = re.compile(r"-?([0-9]+)(?:\.0+)?\Z")


def json_integer(p, t: str) -> int:
    """A JSON number that is an integer (a trailing `.0` is tolerated)."""
    if type(p) is not JSONNumber:
        raise ConvertError("not_convertible", t)
    m = _JSON_INT.match(p.text)
    if m is None:
        raise ConvertError("not_convertible", t)
    digits = m[1].lstrip("0")
    if len(digits) > 20:
        raise ConvertError("not_value", t)
    n = int(m[1])
    return -n if p.text[0] == "-" else n


def _json_to_int(dst: Type, nullable: bool):
    check = int_check(dst)
    t = str(dst)
    return lambda p: check(json_integer(p, t))


def _json_to_float(dst: Type, nullable: bool):
    post = float_post(dst)
    t = str(dst)

    def conv(p):
        if type(p) is not JSONNumber:
            raise ConvertError("not_convertible", t)
        v = float(p.text)
        if v == math.inf or v == -math.inf:
            raise ConvertError("not_value", t)
        return post(v)
    return conv


def _json_to_decimal(dst: Type, nullable: bool):
    post = decimal_post(dst)
    t = str(dst)

    def conv(p):
        if type(p) is not JSONNumber:
            raise ConvertError("not_convertible", t)
        return post(Decimal(p.text))
    return conv


def _json_string(parse):
    def build(dst: Type, nullable: bool):
        t = str(dst)

        def conv(p):
            if type(p) is not str:
                raise ConvertError("not_convertible", t)
            return parse(p, dst)
        return conv
    return build


def _json_to_year(dst: Type, nullable: bool):
    check = int_check(dst)
    t = str(dst)
    return lambda p: check(json_integer(p, t))


def _json_to_array(dst: Type, nullable: bool):
    element = from_json(dst.element_type, False)
    finish = _array_checks(dst)
    t = str(dst)

    def conv(p):
        kind = type(p)
        if kind is list:
            return finish([element(item) for item in p])
        if kind is dict:
            raise ConvertError("not_convertible", t)
        return finish([element(p)])
    return conv


def _json_to_object(dst: Type, nullable: bool):
    plan = [(prop.name, from_json(prop.type, prop.nullable)) for prop in dst.properties]
    t = str(dst)

    def conv(p):
        if type(p) is not dict:
            raise ConvertError("not_convertible", t)
        out = {}
        for name, c in plan:
            if name in p:
                out[name] = c(p[name])
        return out
    return conv


def _json_to_map(dst: Type, nullable: bool):
    element = from_json(dst.element_type, False)
    t = str(dst)

    def conv(p):
        if type(p) is not dict:
            raise ConvertError("not_convertible", t)
        return {key: element(item) for key, item in p.items()}
    return conv


_JSON_BUILDERS = {
    "string": _json_to_string,
    "boolean": _json_to_boolean,
    "int": _json_to_int,
    "float": _json_to_float,
    "decimal": _json_to_decimal,
    "datetime": _json_string(parse_iso8601),
    "date": _json_string(parse_iso_date),
    "time": _json_string(parse_time_text),
    "year": _json_to_year,
    "uuid": _json_string(parse_uuid),
    "ip": _json_string(parse_ip),
    "array": _json_to_array,
    "object": _json_to_object,
    "map": _json_to_map,
}


# --------------------------------------------------------------------------- JSON encoding

_encode_string = __import__("json").encoder.encode_basestring


def json_encoder(src: Type):
    """Function giving the JSON text of a non-null value of `src` (nested nulls are `null`)."""
    kind = src.kind
    if kind in _TEXT_KINDS:
        return _encode_string
    if kind == "boolean":
        return _bool_text
    if kind in ("int", "year"):
        return int.__repr__
    if kind == "float":
        bits = src.bit_size or 64

        def encode_float(v):
            if v != v or v == math.inf or v == -math.inf:
                raise ConvertError("not_convertible", "json")
            return json_float(v, bits)
        return encode_float
    if kind == "decimal":
        return format_decimal
    if kind == "datetime":
        return lambda v: '"' + format_datetime(v) + '"'
    if kind == "date":
        return lambda v: '"' + format_date(v) + '"'
    if kind == "time":
        return lambda v: '"' + format_time(v) + '"'
    if kind == "json":
        return lambda v: v.text
    if kind == "array":
        element = json_encoder(src.element_type)
        return lambda v: "[" + ",".join("null" if x is None else element(x) for x in v) + "]"
    if kind == "object":
        encoders = sorted((p.name, json_encoder(p.type)) for p in src.properties)

        def encode_object(v):
            parts = []
            for name, encode in encoders:
                if name in v:
                    item = v[name]
                    parts.append(_encode_string(name) + ":" + ("null" if item is None else encode(item)))
            return "{" + ",".join(parts) + "}"
        return encode_object
    if kind == "map":
        element = json_encoder(src.element_type)
        return lambda v: "{" + ",".join(
            _encode_string(k) + ":" + ("null" if v[k] is None else element(v[k])) for k in sorted(v)) + "}"
    raise TypeError(f"cannot encode {src}")
