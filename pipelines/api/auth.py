"""Bearer API-key authentication, with the reference's checks and messages in their order (§2.1)."""
import re

from .. import apikeys, errors
from ..models import APIKey

_BEARER = re.compile(r"bearer[ \t]+(.*)", re.IGNORECASE | re.DOTALL)


def authenticate(request) -> APIKey:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        raise errors.Unauthorized("Authorization header with the API key is not present in the request")
    if "," in header:  # WSGI joins repeated headers with commas; keys never contain one
        raise errors.BadRequest("request contains multiple Authorization headers")
    match = _BEARER.fullmatch(header.strip(" \t"))
    token = match.group(1).strip(" \t") if match else ""
    if not token:
        raise errors.BadRequest("Authorization header is invalid; it should be in the format "
                                "'Authorization: Bearer <YOUR_API_KEY>'")
    if not token.startswith(apikeys.PREFIX):
        raise errors.BadRequest("API key is not valid; API keys start with the api_ prefix")
    if not apikeys.is_well_formed(token):
        raise errors.Unauthorized("API key in the Authorization header of the request is malformed")
    key = APIKey.objects.filter(digest=apikeys.digest(token)).first()
    if key is None:
        raise errors.Unauthorized("API key in the Authorization header of the request does not exist")
    return key
