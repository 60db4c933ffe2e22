"""Random integer identifiers, as in the seed (`"id": 705981339`): positive and below 2^31."""
import re
import secrets

from django.db import IntegrityError, transaction

MAX_ID = 2**31 - 1
_ID_TEXT = re.compile(r"[1-9][0-9]{0,9}")


def random_id() -> int:
    return secrets.randbelow(MAX_ID) + 1


def parse_id(text: str) -> int | None:
    """The integer an identifier text denotes, or None when it is not a valid identifier."""
    if not isinstance(text, str) or not _ID_TEXT.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def create_with_random_id(model, **fields):
    """Inserts a row under a fresh random id, retrying when the id collides with an existing one.

    Any other integrity error (a unique constraint of the model) propagates to the caller.
    """
    for _ in range(20):
        new_id = random_id()
        try:
            with transaction.atomic():
                return model.objects.create(id=new_id, **fields)
        except IntegrityError:
            if not model.objects.filter(id=new_id).exists():
                raise
    raise RuntimeError(f"could not allocate an id for {model.__name__}")
