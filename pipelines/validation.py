"""Checks of plain field values shared by services, with the reference's messages."""
from .errors import BadRequest


def check_text(value: str, field: str, max_runes: int, *, allow_empty: bool = False) -> None:
    """`field is empty`, `... invalid UTF-8 ...`, `... NUL byte`, `field is longer than N runes`."""
    if value == "" and not allow_empty:
        raise BadRequest(f"{field} is empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{field} contains invalid UTF-8 encoded characters") from None
    if "\x00" in value:
        raise BadRequest(f"{field} contains the NUL byte")
    if len(value) > max_runes:
        raise BadRequest(f"{field} is longer than {max_runes} runes")
