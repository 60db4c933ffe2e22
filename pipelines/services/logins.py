"""Throttling of admin logins: too many failed passwords for a username, or from a client address,
lock the logins they name for a while.

Failures are counted in Django's cache, which every web process shares (Redis in production, see
settings.CACHES): past LOGIN_FAILURES_PER_USER failures for a username, or LOGIN_FAILURES_PER_ADDRESS
from an address, within LOGIN_LOCKOUT_SECONDS of the first, every login of that username (or from
that address) is refused, the right password included, until LOGIN_LOCKOUT_SECONDS have passed. A
successful login forgets its username's failures. Keys hold digests, never the username itself.
"""
import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from ..conf import knobs

log = logging.getLogger(__name__)


def client_address(request) -> str:
    """The client's IP address: REMOTE_ADDR, or the address that the nearest of settings.PROXIES
    trusted proxies put in X-Forwarded-For (the header's entries further left are the client's
    to choose)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.PROXIES and forwarded:
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            return entries[-min(settings.PROXIES, len(entries))]
    return request.META.get("REMOTE_ADDR", "")


def _limits() -> tuple[int, int, int]:
    return knobs.LOGIN_FAILURES_PER_USER, knobs.LOGIN_FAILURES_PER_ADDRESS, knobs.LOGIN_LOCKOUT_SECONDS


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    """(key, allowed failures) of the username and of the address."""
    per_user, per_address, _ = _limits()
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    where = hashlib.sha256(address.encode()).hexdigest()
    return [(f"login:user:{user}", per_user), (f"login:address:{where}", per_address)]


def lockout_seconds(username: str, address: str) -> int:
    """Seconds until logins of `username` from `address` are allowed again; 0 when they are."""
    now = time.time()
    try:
        ends = cache.get_many([f"{key}:locked" for key, _ in _keys(username, address)])
    except Exception as exc:  # the cache is down: logins are not throttled meanwhile
        log.warning("admin logins are not throttled: the cache is unavailable (%s)", exc)
        return 0
    return max([math.ceil(end - now) for end in ends.values() if end > now] or [0])


def login_failed(username: str, address: str) -> None:
    """Counts a failed login; the one that reaches a limit starts a lockout."""
    _, _, lockout = _limits()
    try:
        for key, allowed in _keys(username, address):
            cache.add(key, 0, timeout=lockout)  # the window starts at the first failure
            try:
                failures = cache.incr(key)
            except ValueError:  # expired just now
                cache.set(key, failures := 1, timeout=lockout)
            if failures >= allowed:
                cache.set(f"{key}:locked", time.time() + lockout, timeout=lockout)
                cache.delete(key)
                log.warning("admin logins locked for %s s after %s failed attempts (%s)", lockout, failures,
                            key.split(":")[1])
    except Exception as exc:
        log.warning("a failed admin login was not counted: the cache is unavailable (%s)", exc)


def login_succeeded(username: str) -> None:
    try:
        cache.delete(_keys(username, "")[0][0])
    except Exception as exc:
        log.warning("admin login failures were not reset: the cache is unavailable (%s)", exc)


def forget(username: str, address: str) -> None:
    """Forgets the failures and lockouts of `username` and of `address` (tests, an operator)."""
    cache.delete_many([name for key, _ in _keys(username, address) for name in (key, f"{key}:locked")])


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (f"Too many failed logins for this username or from this address: logins are refused for "
            f"{minutes} more minute{'s' if minutes != 1 else ''}, even with the right password.")
