"""Parser of mapping expressions: source text to a small syntax tree.

Grammar (see the spec, §3.1): operands juxtaposed are concatenated; an
operand is a string, a number, true/false/null, a property path (with `?`
and `["key"]` segments) or a call of one of the 18 functions. There are
no operators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .errors import MappingError

FUNCTIONS = frozenset({
    "and", "array", "coalesce", "eq", "if", "initcap", "json_parse", "len", "lower",
    "ltrim", "map", "ne", "not", "or", "rtrim", "substring", "trim", "upper",
})

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_WS = frozenset(" \t\r\n")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", "'": "'", '"': '"'}
_HEX = frozenset("0123456789abcdefABCDEF")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_valid_name(text: str) -> bool:
    return _NAME.match(text) is not None


# --------------------------------------------------------------------------- syntax tree

@dataclass(frozen=True)
class Literal:
    """A constant. kind: "string", "int", "decimal", "boolean" or "null"."""

    kind: str
    value: object
    source: str


@dataclass(frozen=True)
class Segment:
    """One step of a path: `.name` / `["key"]`; `end` is where its text ends in the path source."""

    key: str
    bracket: bool
    optional: bool
    end: int


@dataclass(frozen=True)
class Path:
    segments: tuple[Segment, ...]
    source: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple
    source: str


@dataclass(frozen=True)
class Concat:
    operands: tuple
    source: str


Node = Literal | Path | Call | Concat


# --------------------------------------------------------------------------- parser

def parse(source: str) -> Node:
    """Parse an expression, raising MappingError with the reference's messages."""
    parser = _Parser(source)
    return parser.expression(top=True)


class _Parser:
    __slots__ = ("src", "pos", "n")

    def __init__(self, src: str):
        self.src = src
        self.pos = 0
        self.n = len(src)

    def _skip_ws(self) -> None:
        src, n, pos = self.src, self.n, self.pos
        while pos < n and src[pos] in _WS:
            pos += 1
        self.pos = pos

    def _peek(self, offset: int = 0) -> str:
        pos = self.pos + offset
        return self.src[pos] if pos < self.n else ""

    def expression(self, top: bool) -> Node:
        operands: list = []
        self._skip_ws()
        start = self.pos
        end = start
        while True:
            self._skip_ws()
            if self.pos >= self.n:
                break
            c = self.src[self.pos]
            if c in ",)":
                if top:
                    raise MappingError(f"unexpected character '{c}'")
                break
            operands.append(self.operand())
            end = self.pos
        if not operands:
            # Only reachable at the top: calls check for a missing argument first.
            raise MappingError("expression is empty")
        if len(operands) == 1:
            return operands[0]
        return Concat(tuple(operands), self.src[start:end])

    def operand(self) -> Node:
        c = self.src[self.pos]
        if c == "'" or c == '"':
            start = self.pos
            value = self.string()
            return Literal("string", value, self.src[start:self.pos])
        if c in _DIGITS:
            return self.number()
        if c == "-":
            nxt = self._peek(1)
            if nxt in _DIGITS or nxt == ".":
                return self.number()
            if nxt and nxt in _NAME_START:
                raise MappingError("the ‘-’ character is used for negation. Did you mean the ‘_’ character?")
            raise MappingError("unexpected character '-'")
        if c == ".":
            nxt = self._peek(1)
            if nxt and nxt in _DIGITS:
                self.pos += 1  # the leading period of a path is ignored, so ".5" is 5
                return self.number()
            if nxt and nxt in _NAME_START:
                self.pos += 1
                return self.named()
            raise MappingError("unexpected period")
        if c in _NAME_START:
            return self.named()
        raise MappingError(f"unexpected character '{c}'")

    def name(self) -> str:
        src, n = self.src, self.n
        start = pos = self.pos
        while pos < n and src[pos] in _NAME_CHARS:
            pos += 1
        self.pos = pos
        return src[start:pos]

    def number(self) -> Literal:
        src, n = self.src, self.n
        start = pos = self.pos
        while pos < n and src[pos] in _NUMBER_CHARS:
            pos += 1
        text = src[start:pos]
        self.pos = pos
        if (pos < n and src[pos] in _NAME_CHARS) or not _NUMBER.match(text):
            raise MappingError("number syntax is not valid")
        value = Decimal(text)
        if value.adjusted() < 19 and value == value.to_integral_value():
            integer = int(value)
            if _INT64_MIN <= integer <= _INT64_MAX:
                return Literal("int", integer, text)
        if not _fits_decimal_76_37(value):
            raise MappingError(f"number {text} is out of range")
        return Literal("decimal", value, text)

    def string(self) -> str:
        src, n = self.src, self.n
        quote = src[self.pos]
        pos = self.pos + 1
        out: list[str] = []
        while True:
            if pos >= n:
                raise MappingError("string is not terminated")
            c = src[pos]
            if c == quote:
                pos += 1
                break
            if c == "\\":
                pos += 1
                if pos >= n:
                    raise MappingError("string is not terminated")
                e = src[pos]
                if e == "u" or e == "U":
                    size = 4 if e == "u" else 8
                    digits = src[pos + 1:pos + 1 + size]
                    if len(digits) != size or not all(d in _HEX for d in digits):
                        raise MappingError("escape sequence is not valid")
                    code = int(digits, 16)
                    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                        raise MappingError(f"character 0x{code:02X} is not allowed in strings")
                    out.append(chr(code))
                    pos += 1 + size
                    continue
                out.append(_ESCAPES.get(e, e))  # an unknown escape keeps the bare character
                pos += 1
                continue
            if c == "\x00":
                raise MappingError("character 0x00 is not allowed in strings")
            out.append(c)
            pos += 1
        self.pos = pos
        return "".join(out)

    def named(self) -> Node:
        """A keyword, a path or a call, starting at a name."""
        start = self.pos
        first = self.name()
        if first in ("true", "false", "null"):
            if first == "null":
                return Literal("null", None, first)
            return Literal("boolean", first == "true", first)
        src, n = self.src, self.n
        segments = [Segment(first, False, False, self.pos - start)]
        plain = True  # only ".name" segments so far
        while self.pos < n:
            c = src[self.pos]
            if c == "?":
                last = segments[-1]
                if last.optional:
                    raise MappingError("unexpected character '?'")
                segments[-1] = Segment(last.key, last.bracket, True, last.end)
                plain = False
                self.pos += 1
            elif c == ".":
                nxt = self._peek(1)
                if nxt == ".":
                    raise MappingError("unexpected period in path")
                if not nxt or nxt not in _NAME_START:
                    raise MappingError("path is not terminated")
                self.pos += 1
                key = self.name()
                segments.append(Segment(key, False, False, self.pos - start))
            elif c == "[":
                self.pos += 1
                self._skip_ws()
                if self.pos >= n:
                    raise MappingError("path is not terminated")
                if src[self.pos] not in "'\"":
                    raise MappingError("map key is not a string")
                key = self.string()
                self._skip_ws()
                if self.pos >= n or src[self.pos] != "]":
                    raise MappingError("path is not terminated")
                self.pos += 1
                segments.append(Segment(key, True, False, self.pos - start))
                plain = False
            else:
                break
        path_end = self.pos
        self._skip_ws()
        if self.pos < n and src[self.pos] == "(":
            if plain and len(segments) == 1 and first in FUNCTIONS:
                return self.call(first, start)
            if plain:
                raise MappingError(f'function "{src[start:path_end]}" does not exist')
            raise MappingError("unexpected character '('")
        self.pos = path_end
        return Path(tuple(segments), src[start:path_end])

    def call(self, name: str, start: int) -> Call:
        src, n = self.src, self.n
        self.pos += 1  # "("
        args: list = []
        self._skip_ws()
        if self.pos < n and src[self.pos] == ")":
            self.pos += 1
            return Call(name, (), src[start:self.pos])
        while True:
            self._skip_ws()
            if self.pos >= n:
                raise MappingError("arguments are not terminated")
            c = src[self.pos]
            if c == "," or c == ")":
                raise MappingError(f"expected argument, got '{c}'")
            args.append(self.expression(top=False))
            if self.pos >= n:
                raise MappingError("arguments are not terminated")
            c = src[self.pos]
            self.pos += 1
            if c == ")":
                return Call(name, tuple(args), src[start:self.pos])


def _fits_decimal_76_37(value: Decimal) -> bool:
    """Whether a literal fits decimal(76,37), the type of non-integer number literals."""
    if value.is_zero():
        return True
    _, digits, exponent = value.as_tuple()
    significant = len(digits)
    while significant > 1 and exponent < 0 and digits[significant - 1] == 0:
        significant -= 1
        exponent += 1
    fractional = -exponent if exponent < 0 else 0
    integer = significant + exponent
    return fractional <= 37 and integer <= 39
