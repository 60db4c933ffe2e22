"""API key format: `api_` + 49 base62 characters — 43 for a 32-byte random payload and 6 for
its CRC32 (big-endian), both left-padded with 'A' (the zero digit). The CRC lets the server
reject mistyped keys without a database lookup; only a SHA-256 digest of the key is stored."""
import hashlib
import secrets
import zlib

PREFIX = "api_"
BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_DIGIT = {ch: i for i, ch in enumerate(BASE62)}
PAYLOAD_CHARS, CRC_CHARS = 43, 6
KEY_LENGTH = len(PREFIX) + PAYLOAD_CHARS + CRC_CHARS


def _encode(data: bytes, width: int) -> str:
    n = int.from_bytes(data, "big")
    digits = []
    for _ in range(width):
        n, r = divmod(n, 62)
        digits.append(BASE62[r])
    return "".join(reversed(digits))


def _decode(text: str) -> int | None:
    n = 0
    for ch in text:
        digit = _DIGIT.get(ch)
        if digit is None:
            return None
        n = n * 62 + digit
    return n


def _checksum(payload: bytes) -> str:
    return _encode(zlib.crc32(payload).to_bytes(4, "big"), CRC_CHARS)


def generate_key() -> str:
    payload = secrets.token_bytes(32)
    return PREFIX + _encode(payload, PAYLOAD_CHARS) + _checksum(payload)


def is_well_formed(key: str) -> bool:
    """True when `key` (with its prefix) has the right length, alphabet and checksum."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX):
        return False
    body = key[len(PREFIX):]
    payload_number = _decode(body[:PAYLOAD_CHARS])
    if payload_number is None or _decode(body[PAYLOAD_CHARS:]) is None or payload_number >= 2**256:
        return False
    return _checksum(payload_number.to_bytes(32, "big")) == body[PAYLOAD_CHARS:]


def digest(key: str) -> str:
    """What is stored: a 256-bit random key needs no slow hash, and the digest cannot be used as a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def hint(key: str) -> str:
    body = key[len(PREFIX):]
    return f"{body[:4]}…{body[-6:]}"
