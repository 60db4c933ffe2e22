import ipaddress
import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from pipelines.types.schema import (
    Property, Type, array_, boolean, decimal, dumps_json, float_, int_, ip, json_, map_,
    object_type, string, uuid_, year,
)
from pipelines.types import parse_iso8601
from pipelines.types.normalize import make_normalizer, normalize_value
from pipelines.types.values import NormalizeError, RawJSON, encode_value, format_float

UTC = timezone.utc
DATETIME, DATE, TIME = Type("datetime"), Type("date"), Type("time")


def norm(value, t, nullable=False, path="x"):
    return normalize_value(value, Property(path.split(".")[-1], t, nullable=nullable), path)


def error(value, t, nullable=False, path="x"):
    with pytest.raises(NormalizeError) as caught:
        norm(value, t, nullable, path)
    return str(caught.value)


# --------------------------------------------------------------------------- encode_value

@pytest.mark.parametrize("value,t,expected", [
    ("a", string(), "a"),
    (True, boolean(), True),
    (127, int_(8), 127),
    (-2147483648, int_(32), -2147483648),
    (16777215, int_(24, unsigned=True), 16777215),
    (927041163082605, int_(64), "927041163082605"),
    (18446744073709551615, int_(64, unsigned=True), "18446744073709551615"),
    (2023, year(), 2023),
    (1.5, float_(64), 1.5),
    (math.nan, float_(64), "NaN"),
    (math.inf, float_(32), "Infinity"),
    (-math.inf, float_(64), "-Infinity"),
    (datetime(2023, 10, 17, 9, 34, 25, tzinfo=UTC), DATETIME, "2023-10-17T09:34:25Z"),
    (datetime(2023, 10, 17, 9, 34, 25, 836000, tzinfo=UTC), DATETIME, "2023-10-17T09:34:25.836Z"),
    (datetime(2023, 10, 17, 9, 34, 25, 836042, tzinfo=UTC), DATETIME, "2023-10-17T09:34:25.836042Z"),
    (datetime(2023, 10, 17, 9, 34, 25, 100, tzinfo=UTC), DATETIME, "2023-10-17T09:34:25.000100Z"),
    (datetime(2023, 10, 17, 11, 34, 25, tzinfo=timezone(timedelta(hours=2))), DATETIME, "2023-10-17T09:34:25Z"),
    (date(2023, 10, 17), DATE, "2023-10-17"),
    (date(1, 1, 1), DATE, "0001-01-01"),
    (time(9, 34, 25), TIME, "09:34:25"),
    (time(9, 34, 25, 836000), TIME, "09:34:25.836"),
    (time(9, 34, 25, 836042), TIME, "09:34:25.836042"),
    ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", uuid_(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("::ffff:1.2.3.4", ip(), "::ffff:1.2.3.4"),
    (None, int_(64), None),
])
def test_encode_scalar(value, t, expected):
    encoded = encode_value(value, t)
    assert encoded == expected
    assert type(encoded) is type(expected)


def test_encode_json_embeds_the_parsed_value_exactly():
    assert encode_value(RawJSON('{"foo": "boo", "n": 1.10}'), json_()) == {"foo": "boo", "n": Decimal("1.10")}
    assert encode_value(RawJSON("null"), json_()) is None
    assert dumps_json(encode_value(RawJSON('{"a": [1, 12345678901234567890.5]}'), json_())) == \
        '{"a":[1,12345678901234567890.5]}'


def test_encode_containers():
    obj = object_type(Property("b", int_(64)), Property("a", Type("date")), Property("c", string()))
    value = {"a": date(2020, 1, 2), "b": 5}
    assert list(encode_value(value, obj).items()) == [("b", "5"), ("a", "2020-01-02")]
    assert encode_value([1, 2], array_(int_(64))) == ["1", "2"]
    encoded = encode_value({"z": 1.5, "a": math.nan}, map_(float_(64)))
    assert list(encoded) == ["a", "z"] and encoded["a"] == "NaN"


def test_encode_decimal_serializes_as_bare_number_with_minimal_digits():
    assert dumps_json([encode_value(Decimal("-3.9936173"), decimal(9, 8))]) == "[-3.9936173]"
    assert dumps_json([encode_value(Decimal("12.50"), decimal(5, 2))]) == "[12.5]"
    assert dumps_json([encode_value(Decimal("1E+2"), decimal(5, 0))]) == "[100]"
    assert isinstance(encode_value(Decimal("1"), decimal(5, 0)), Decimal)


# --------------------------------------------------------------------------- null

def test_null_needs_nullable():
    assert norm(None, string(), nullable=True) is None
    assert error(None, string()) == "property 'x' has value null but it is not nullable"
    assert error(None, json_(), path="a.b") == "property 'a.b' has value null but it is not nullable"


# --------------------------------------------------------------------------- string

def test_string_accepts_text_and_utf8_bytes():
    assert norm("héllo", string()) == "héllo"
    assert norm("héllo".encode(), string()) == "héllo"
    assert norm(memoryview(b"abc"), string()) == "abc"
    assert norm("ab  ", string(max_length=4)) == "ab  "  # char(n) padding is kept


def test_string_errors():
    assert error("some long text", string(max_length=10), path="name") == \
        "property 'name' has a value longer than 10 characters"
    assert error("ééé", string(max_bytes=5)) == "property 'x' has a value longer than 5 bytes"
    assert error("abcdef", string(max_bytes=5)) == "property 'x' has a value longer than 5 bytes"
    assert error(b"\xff\xfe", string()) == "property 'x' does not contain valid UTF-8 characters"
    assert error("\ud800", string()) == "property 'x' does not contain valid UTF-8 characters"
    assert error(12, string()) == "property 'x' has type int64 that is not allowed for type string"


def test_string_length_counts_code_points_and_bytes_separately():
    assert norm("ééééé", string(max_length=5)) == "ééééé"        # 5 code points, 10 bytes
    assert norm("éé", string(max_bytes=4)) == "éé"                # exactly 4 bytes
    assert norm("😀", string(max_bytes=4, max_length=1)) == "😀"


def test_string_values_and_pattern():
    enum = string(values=["a", "b"])
    assert norm("a", enum) == "a"
    assert error("c", enum) == "property 'x' contains an unsupported value"
    assert error("A", enum) == "property 'x' contains an unsupported value"
    assert norm("", enum) is None  # Krenalis quirk, kept: "" reads as null for such enums
    assert norm("", string(values=["", "a"])) == ""
    digits = string(pattern="\\d+$")
    assert norm("abc123", digits) == "abc123"  # unanchored search
    assert error("123abc", digits) == "property 'x' contains an unsupported value"
    assert error("١٢٣", digits) == "property 'x' contains an unsupported value"  # \d is ASCII, as in RE2
    assert norm("ab", string(pattern="b\\z")) == "ab"  # RE2's \z: end of text
    assert error("ab\n", string(pattern="b\\z")) == "property 'x' contains an unsupported value"


# --------------------------------------------------------------------------- boolean

def test_boolean():
    assert norm(True, boolean()) is True
    assert norm("false", boolean()) is False
    assert norm(b"true", boolean()) is True
    assert error("a \" \\ b", boolean()) == "property 'x' has a string value that does not represent a boolean value"
    assert error("abc", Type("boolean")) == "property 'x' has a string value that does not represent a boolean value"
    assert error(1, boolean()) == "property 'x' has type int64 that is not allowed for type boolean"


# --------------------------------------------------------------------------- int

@pytest.mark.parametrize("value,t,expected", [
    (5, int_(8), 5),
    (7.0, int_(32), 7),
    (Decimal("42.000"), int_(32), 42),
    ("-12", int_(16), -12),
    (b"255", int_(8, unsigned=True), 255),
    (2 ** 64 - 1, int_(64, unsigned=True), 2 ** 64 - 1),
    (16777215, int_(24, unsigned=True), 16777215),
])
def test_int_accepted(value, t, expected):
    result = norm(value, t)
    assert result == expected and type(result) is int


def test_int_errors():
    assert error(21, int_(8, minimum=-20, maximum=20)) == "property 'x' has value which is not in the range [-20, 20]"
    assert error(128, int_(8)) == "property 'x' has value which is not in the range [-128, 127]"
    assert error(2 ** 63, int_(64)) == \
        "property 'x' has value which is not in the range [-9223372036854775808, 9223372036854775807]"
    assert error(-1, int_(32, unsigned=True)) == \
        "property 'x' has a negative int value that cannot represent an unsigned int(32) value"
    assert error(256, int_(8, unsigned=True)) == "property 'x' has value which is not in the range [0, 255]"
    assert error(1.5, int_(32)) == "property 'x' has a float64 value that cannot represent an int(32) value"
    assert error(math.inf, int_(32)) == "property 'x' has a float64 value that cannot represent an int(32) value"
    assert error(Decimal("1.5"), int_(32)) == \
        "property 'x' has a decimal.Decimal value that cannot represent an int(32) value"
    assert error("1_000", int_(32)) == "property 'x' has a string value that does not represent an int(32) value"
    assert error(" 1", int_(32)) == "property 'x' has a string value that does not represent an int(32) value"
    assert error(True, int_(8)) == "property 'x' has type bool that is not allowed for type int(8)"


def test_year():
    assert norm(2024, year()) == 2024
    assert norm("1999", year()) == 1999
    assert error(0, year()) == "property 'x' has value which is not in the range [1, 9999]"
    assert error(10000, year()) == "property 'x' has value which is not in the range [1, 9999]"


# --------------------------------------------------------------------------- float

def test_float_accepted():
    assert norm(1.25, float_(64)) == 1.25
    assert norm(3, float_(64)) == 3.0 and type(norm(3, float_(64))) is float
    assert norm(2 ** 53, float_(64)) == 2.0 ** 53
    assert norm(Decimal("2.5"), float_(64)) == 2.5
    assert norm("6.5e1", float_(64)) == 65.0
    assert math.isnan(norm("NaN", float_(64)))
    assert norm("-Infinity", float_(64)) == -math.inf
    assert math.isnan(norm(math.nan, float_(32)))


def test_float32_values_keep_their_short_form():
    # A float32 read as a double (23.947586059570312) and its text (23.947586) are the same float32.
    assert norm(23.947586059570312, float_(32)) == 23.947586
    assert norm(23.9476, float_(32)) == 23.9476
    assert norm("23.947587", float_(32)) == 23.947586  # text is rounded to float32
    assert norm(0.1, float_(32)) == 0.1
    assert norm(100.0, float_(32)) == 100.0
    assert norm(-3.4028235e38, float_(32)) == -3.4028235e38
    assert norm(0.10000000149011612, float_(32)) == 0.1  # an exact float32 gets its short form
    assert error(0.12345678901, float_(32)) == "property 'x' has a float64 value that cannot represent a float(32) value"


def test_float_errors():
    assert error(0.30000000000000004, float_(32)) == \
        "property 'x' has a float64 value that cannot represent a float(32) value"
    assert error(2 ** 53 + 1, float_(64)) == "property 'x' has an int64 value that cannot represent a float(64) value"
    assert error(2 ** 24 + 1, float_(32)) == "property 'x' has an int64 value that cannot represent a float(32) value"
    assert error("1e39", float_(32)) == "property 'x' has a string value that does not represent a float(32) value"
    assert error("1e400", float_(64)) == "property 'x' has a string value that does not represent a float(64) value"
    assert error("abc", float_(64)) == "property 'x' has a string value that does not represent a float(64) value"
    assert error(math.nan, float_(64, real=True)) == "property 'x' has value NaN which is not allowed for a real float(64)"
    assert error(math.inf, float_(64, real=True)) == \
        "property 'x' has value which is not in the range [-1.7976931348623157e+308, 1.7976931348623157e+308]"
    assert error(5.5, float_(32, minimum=3.99, maximum=5.31)) == \
        "property 'x' has value which is not in the range [3.99, 5.31]"
    assert error(-1.0, float_(64, minimum=0)) == "property 'x' has value which is not in the range [0, +Inf]"
    assert error(True, float_(64)) == "property 'x' has type bool that is not allowed for type float(64)"


@pytest.mark.parametrize("value,bits,text", [
    (0.0, 64, "0"), (-0.0, 64, "-0"), (3.0, 64, "3"), (123456.0, 64, "123456"), (1e6, 64, "1e+06"),
    (1234567.0, 64, "1.234567e+06"), (0.0001, 64, "0.0001"), (0.00001, 64, "1e-05"), (-2.5, 64, "-2.5"),
    (1e100, 64, "1e+100"), (math.inf, 64, "+Inf"), (-math.inf, 64, "-Inf"), (math.nan, 64, "NaN"),
    (3.990000009536743, 32, "3.99"), (3.990000009536743, 64, "3.990000009536743"),
])
def test_format_float_follows_go(value, bits, text):
    assert format_float(value, bits) == text


# --------------------------------------------------------------------------- decimal

def test_decimal_accepted():
    assert norm(Decimal("12.34"), decimal(5, 2)) == Decimal("12.34")
    assert norm(Decimal("1.50"), decimal(5, 1)) == Decimal("1.5")  # trailing zeros are not digits
    assert norm(12, decimal(5, 2)) == Decimal(12)
    assert norm(23.947586059570312, decimal(6, 3)) == Decimal("23.948")  # floats are rounded to the scale
    assert str(norm("6.639e2", decimal(5, 1))) == "663.9"
    assert str(norm("1e2", decimal(5, 1))) == "100"
    assert norm(Decimal("0.0000"), decimal(3, 1)) == 0
    assert norm(Decimal("1.500"), decimal(2, 1)) == Decimal("1.5")
    assert norm(b"-0.5", decimal(3, 2)) == Decimal("-0.5")
    assert norm("", decimal(5, 2), nullable=True) is None
    big = Decimal("9" * 39 + "." + "9" * 37)
    assert norm(big, decimal(76, 37)) == big


def test_decimal_errors():
    assert error(Decimal("1234.5"), decimal(5, 2)) == \
        "property 'x' has a \"1234.5\" value that cannot represent a decimal(5,2) value"
    assert error("1.234", decimal(5, 2)) == \
        "property 'x' has a \"1.234\" value that cannot represent a decimal(5,2) value"  # not rounded
    assert error(100000, decimal(5)) == "property 'x' has a \"100000\" value that cannot represent a decimal(5,0) value"
    assert error(1e300, decimal(5, 2)) == "property 'x' has a \"1e+300\" value that cannot represent a decimal(5,2) value"
    assert error("", decimal(5, 2)) == "property 'x' has value null but it is not nullable"
    assert error("1,5", decimal(5, 2)) == "property 'x' has a string value that does not represent a decimal(5,2) value"
    assert error(Decimal("5"), decimal(5, 2, minimum=0, maximum=4)) == \
        "property 'x' has value which is not in the range [0, 4]"
    assert error(True, decimal(5, 2)) == "property 'x' has type bool that is not allowed for type decimal(5,2)"


# --------------------------------------------------------------------------- datetime, date, time

def test_datetime_accepted():
    naive = datetime(2023, 10, 17, 9, 34, 25, 836042)
    assert norm(naive, DATETIME) == naive.replace(tzinfo=UTC)  # naive timestamps are UTC
    plus2 = datetime(2023, 10, 17, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    result = norm(plus2, DATETIME)
    assert result == datetime(2023, 10, 17, 9, 0, tzinfo=UTC) and result.tzinfo is UTC
    assert norm("2023-10-17T23:00:00-05:00", DATETIME) == datetime(2023, 10, 18, 4, 0, tzinfo=UTC)
    assert norm(b"2023-10-17 09:34:25.123456789", DATETIME) == datetime(2023, 10, 17, 9, 34, 25, 123456, tzinfo=UTC)
    assert norm(date(2023, 1, 2), DATETIME) == datetime(2023, 1, 2, tzinfo=UTC)


def test_datetime_errors():
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert error(late, DATETIME) == "property 'x' has a time.Time value that cannot represent a datetime value"
    assert error("17/10/2023", DATETIME) == "property 'x' has a string value that does not represent a datetime value"
    assert error(5, DATETIME) == "property 'x' has type int64 that is not allowed for type datetime"


def test_date():
    assert norm(date(2023, 10, 17), DATE) == date(2023, 10, 17)
    assert norm(datetime(2023, 10, 17, 23, 0, tzinfo=timezone(timedelta(hours=-5))), DATE) == date(2023, 10, 18)
    assert norm("2023-10-17", DATE) == date(2023, 10, 17)
    assert error("2023-02-30", DATE) == "property 'x' has a string value that does not represent a date value"


def test_time_accepts_driver_forms():
    assert norm(time(2, 3), TIME) == time(2, 3)
    assert norm("02:03:00.000000", TIME) == time(2, 3)  # PostgreSQL text
    assert norm(b"02:03:00", TIME) == time(2, 3)         # MySQL text
    assert norm("23:59:59.999999999", TIME) == time(23, 59, 59, 999999)
    assert norm(timedelta(hours=2, minutes=3, microseconds=5), TIME) == time(2, 3, 0, 5)  # mysqlclient TIME
    assert norm(datetime(2020, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))), TIME) == time(9, 0)
    assert norm(time(10, 0, tzinfo=timezone(timedelta(hours=1))), TIME) == time(9, 0)


NOT_A_TIME_OF_DAY = "property 'x' has value {}, which is not a time of day (a time value is from 00:00:00 to " \
                    "23:59:59.999999)"


def test_time_errors():
    assert error("xx", TIME) == "property 'x' has a string value that does not represent a time value"
    assert error(b"xx", TIME) == "property 'x' has a []byte value that cannot represent a time value"


@pytest.mark.parametrize("value,shown", [
    ("24:00:00", "24:00:00"),                                   # PostgreSQL time (psycopg2 read 00:00:00)
    ("24:00:00+02", "24:00:00+02"),                             # PostgreSQL timetz
    (timedelta(hours=24), "24:00:00"),                          # MySQL TIME, as mysqlclient reads them
    (timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
    (timedelta(hours=-1), "-01:00:00"),
    (timedelta(seconds=-1, microseconds=500000), "-00:00:00.500000"),
    (timedelta(hours=25, microseconds=7), "25:00:00.000007"),
])
def test_a_time_outside_one_day_is_no_time_of_day(value, shown):
    """A duration is never wrapped into another time of day, and the message shows it as the database
    writes it (not as time.Duration, a type of the Go original)."""
    assert error(value, TIME) == NOT_A_TIME_OF_DAY.format(shown)


@pytest.mark.parametrize("value,type_", [
    ("infinity", DATE), ("-infinity", DATE), ("0044-03-15 BC", DATE), ("10000-01-01", DATE),
    ("infinity", DATETIME), ("-infinity", DATETIME), ("0044-03-15 12:00:00+00 BC", DATETIME),
    ("10000-01-01 00:00:00+00", DATETIME),
])
def test_dates_no_calendar_year_holds_say_so(value, type_):
    """PostgreSQL's ±infinity, BC dates and years beyond 9999 arrive as text (the connector does not read
    infinity as 9999-12-31): the row fails with the value and the range."""
    assert error(value, type_) == f"property 'x' has value {value}, which is outside the range of {type_.kind} " \
                                  f"values (years 1 to 9999)"


@pytest.mark.parametrize("text,expected", [
    ("2023", datetime(2023, 1, 1, tzinfo=UTC)),
    ("2023-10", datetime(2023, 10, 1, tzinfo=UTC)),
    ("+2023-10-17", datetime(2023, 10, 17, tzinfo=UTC)),
    ("2024-366", datetime(2024, 12, 31, tzinfo=UTC)),
    ("2023-10-17T09", datetime(2023, 10, 17, 9, tzinfo=UTC)),
    ("2023-10-17 09:34", datetime(2023, 10, 17, 9, 34, tzinfo=UTC)),
    ("2023-10-17T09:34:25Z", datetime(2023, 10, 17, 9, 34, 25, tzinfo=UTC)),
    ("2023-10-17T09:34:25+02", datetime(2023, 10, 17, 7, 34, 25, tzinfo=UTC)),
    ("2023-10-17T09:34:25+0230", datetime(2023, 10, 17, 7, 4, 25, tzinfo=UTC)),
    ("2023-10-17T09:34:25.5-01:00", datetime(2023, 10, 17, 10, 34, 25, 500000, tzinfo=UTC)),
    ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
    ("2023-10-17T09:34:25,5Z", datetime(2023, 10, 17, 9, 34, 25, 500000, tzinfo=UTC)),  # the reference's comma
])
def test_lenient_iso8601_accepts(text, expected):
    assert parse_iso8601(text) == expected


@pytest.mark.parametrize("text", [
    "09:34:25", "2023-10-17T09:34:25z", "2023-10-17T24:00", "2023-13-01", "2023-02-29", "2023-366",
    "2023-10-17T09:34:25.1234567890", "2023-10-17T09:34:25-00:00", "20231017", "2023-10-17T09:60",
    "2023-W42", "",
    "2020T10", "2023-10T09:34",  # a time needs a full date (the reference's parser)
])
def test_lenient_iso8601_rejects(text):
    with pytest.raises(ValueError):
        parse_iso8601(text)


def test_rows_read_iso8601_as_update_times_do():
    """Normalization and update times read ISO 8601 with one parser: a string a row holds is a
    datetime exactly when it is an ISO8601 update time."""
    from pipelines.timeformats import parse_updated_at
    far = datetime(2100, 1, 1, tzinfo=UTC)
    assert norm("2023-10-17T09:34:25,25+01", DATETIME) == parse_updated_at("2023-10-17T09:34:25,25+01", "string",
                                                                          "ISO8601", now=far)
    assert error("2020T10", DATETIME) == "property 'x' has a string value that does not represent a datetime value"


# --------------------------------------------------------------------------- uuid, ip, json

def test_uuid():
    canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert norm(canonical.upper(), uuid_()) == canonical
    assert norm(uuid.UUID(canonical), uuid_()) == canonical
    assert norm(uuid.UUID(canonical).bytes, uuid_()) == canonical
    assert error("a0eebc999c0b4ef8bb6d6bb9bd380a11", uuid_()) == \
        "property 'x' has a string value that does not represent a uuid value"
    assert error("{" + canonical + "}", uuid_()) == "property 'x' has a string value that does not represent a uuid value"
    assert error(5, uuid_()) == "property 'x' has type int64 that is not allowed for type uuid"


@pytest.mark.parametrize("value,expected", [
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1/32", "127.0.0.1"),
    ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # a single zero group is not compressed
    ("fe80::1%eth0", "fe80::1"),
    ("fe80::1%eth0/64", "fe80::1"),
    ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),           # text keeps the mapping, printed the Go way
    (b"10.0.0.1", "10.0.0.1"),
    (ipaddress.ip_address("::ffff:1.2.3.4"), "1.2.3.4"),  # binary values are unmapped
    (ipaddress.ip_interface("192.168.0.5/24"), "192.168.0.5"),
    (bytes([192, 168, 0, 1]), "192.168.0.1"),
])
def test_ip(value, expected):
    assert norm(value, ip()) == expected


@pytest.mark.parametrize("value", ["1.2.3", "01.2.3.4", "1.2.3.4/33", "1.2.3.4/", "hello", ""])
def test_ip_errors(value):
    assert error(value, ip()) == "property 'x' has a string value that does not represent an ip value"


def test_json():
    assert norm('{"foo": "boo"}', json_()) == RawJSON('{"foo": "boo"}')  # verbatim, spacing kept
    assert norm(b"null", json_()) == RawJSON("null")  # JSON null is a value
    assert norm({"plan": "free", "score": 6.0}, json_()) == RawJSON('{"plan": "free", "score": 6.0}')
    assert norm([1, "a", None, True], json_()) == RawJSON('[1, "a", null, true]')
    assert norm(RawJSON("[1]"), json_()) == RawJSON("[1]")
    assert error("{bad", json_()) == "property 'x' has a string value that does not represent a json value"
    assert error("NaN", json_()) == "property 'x' has a string value that does not represent a json value"
    assert error(b"\xff", json_()) == "property 'x' has a []byte value that cannot represent a json value"


# --------------------------------------------------------------------------- array, object, map

def test_array():
    assert norm(["1", 2], array_(int_(32))) == [1, 2]
    assert norm((1, 2), array_(int_(32), unique_elements=True)) == [1, 2]  # unique: no false positive
    assert error([1, 2, 3, 4, 5], array_(int_(32), max_elements=3)) == \
        "property 'x' is an array with 5 elements, but they must be in range [0, 3]"
    assert error([1], array_(int_(32), min_elements=2)) == \
        "property 'x' is an array with 1 elements, but they must be in range [2, 2147483647]"
    assert norm([1, 2, 3], array_(int_(32), max_elements=3)) == [1, 2, 3]  # odd maxima are honoured
    assert norm([1, 2, 3, 4], array_(int_(32), max_elements=4)) == [1, 2, 3, 4]
    assert error([1, 2, 1], array_(int_(32), unique_elements=True)) == \
        "property 'x' is an array with repeated elements, but they must be unique"
    assert error([Decimal("1.0"), Decimal("1")], array_(decimal(3, 1), unique_elements=True)) == \
        "property 'x' is an array with repeated elements, but they must be unique"
    assert error(["a", "abcd"], array_(string(max_length=3)), path="tags") == \
        "property 'tags[1]' has a value longer than 3 characters"
    assert error(["a", None], array_(string()), path="tags") == \
        "property 'tags[1]' has value null but it is not nullable"
    assert error("{a,b}", array_(string())) == "property 'x' has type string that is not allowed for type array(string)"


def test_object_and_map():
    obj = object_type(Property("a", int_(32)), Property("b", string(), read_optional=True),
                      Property("c", string(), nullable=True))
    assert norm({"a": "1", "c": None, "extra": 5}, obj) == {"a": 1, "c": None}
    assert error({"b": "x", "c": None}, obj, path="obj") == \
        "property 'obj.a' does not have a value, but the property is not optional for reading"
    assert error({"a": None, "c": None}, obj, path="obj") == "property 'obj.a' has value null but it is not nullable"
    assert norm({"k": "2"}, map_(int_(8))) == {"k": 2}
    assert error({"k": 300}, map_(int_(8)), path="m") == "property 'm.k' has value which is not in the range [-128, 127]"


# --------------------------------------------------------------------------- make_normalizer

def test_make_normalizer_is_reusable_and_matches_normalize_value():
    prop = Property("age", int_(8, unsigned=True), nullable=True)
    normalize = make_normalizer(prop, "age")
    assert [normalize(v) for v in (1, "2", None, 3.0)] == [1, 2, None, 3]
    with pytest.raises(NormalizeError) as caught:
        normalize(-4)
    assert str(caught.value) == "property 'age' has a negative int value that cannot represent an unsigned int(8) value"


def test_normalize_error_is_a_value_error():
    assert issubclass(NormalizeError, ValueError)


HOSTILE_DRIVER_VALUES = [
    b"\x89PNG\r\n\x1a\n\x00", bytearray(b"\xff\x00"), memoryview(b"\xff\x00"), b"", bytes(16), bytes(4),
    timedelta(hours=838, minutes=59, seconds=59), timedelta(hours=-1), timedelta(0),
    Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN"), Decimal("1e999999"),
    float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 2 ** 70, -(2 ** 63) - 1, True,
    "9" * 5000, "-" + "9" * 5000, "1e999999999", "", "infinity", "-infinity", "0044-03-15 BC", "24:00:00",
    "838:59:59", "0000-00-00", "2024-02-30", "\ud800", "\x00",
    date.max, date.min, datetime.max.replace(tzinfo=UTC), datetime.min, time(23, 59, 59, 999999),
    time(1, tzinfo=timezone(timedelta(hours=-23))), uuid.UUID(int=1), RawJSON("[" + "9" * 5000 + "]"),
    RawJSON("1e999999"), {"a": Decimal("NaN")}, [1, {"b": float("nan")}], ("x",), {1, 2}, object(), 1j,
]
HOSTILE_KINDS = [
    Type("string"), Type("string", max_length=3), Type("string", values=("a",)), Type("boolean"),
    Type("int", bit_size=8), Type("int", bit_size=64), Type("int", bit_size=64, unsigned=True),
    Type("float", bit_size=32), Type("float", bit_size=64, real=True), Type("decimal", precision=76, scale=37),
    Type("decimal", precision=5, scale=2), DATETIME, DATE, TIME, Type("year"), Type("uuid"), Type("json"),
    Type("ip"),
]


@pytest.mark.parametrize("type_", HOSTILE_KINDS, ids=str)
def test_every_driver_value_is_either_refused_or_encodable(type_):
    """What the preview relies on: whatever a driver hands over, the normalizer of a column refuses it
    with a NormalizeError (the row's error) or returns a value whose API form serializes. Nothing else
    can escape (the preview answered 500 on bytes, timedeltas, NaN decimals)."""
    normalize = make_normalizer(Property(name="x", type=type_, nullable=True), "x")
    for value in HOSTILE_DRIVER_VALUES:
        try:
            model = normalize(value)
        except NormalizeError:
            continue
        dumps_json(encode_value(model, type_))


def test_shortest_float32_text_rounds_to_float32_first():
    """One shortest float32 text for the type system, the mappings and the transformers: a float64
    input is read as the float32 nearest it (Go converts to float32 first), and beyond the float32
    range there is none."""
    from pipelines.types.schema import MAX_FLOAT32, shortest_float32_text
    assert shortest_float32_text(0.1) == "0.1"
    assert shortest_float32_text(16777217.0) == "16777216"
    assert shortest_float32_text(MAX_FLOAT32) == "3.4028235e+38"
    assert format_float(0.1, 32) == "0.1"
    with pytest.raises(OverflowError):
        shortest_float32_text(1e39)
