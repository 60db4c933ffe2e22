"""Secrets at rest: connection and warehouse settings are stored encrypted (Fernet, AES-128-CBC
with HMAC), with the key from settings.KRENALIS_ENCRYPTION_KEY, never in the database."""
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt_json(value) -> str:
    return _fernet(settings.KRENALIS_ENCRYPTION_KEY).encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str):
    try:
        return json.loads(_fernet(settings.KRENALIS_ENCRYPTION_KEY).decrypt(token.encode()))
    except InvalidToken:
        raise RuntimeError("stored secrets cannot be decrypted: KRENALIS_ENCRYPTION_KEY has changed") from None
