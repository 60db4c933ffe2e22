"""The errors the product reports, one type per kind of failure.

Each carries the HTTP status and the reference's error `code`; the API layer turns them into
`{"error": {"code", "message"[, "cause"]}}` and nothing else builds error JSON. Services raise
them without knowing anything about HTTP requests.
"""


class KrenalisError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, cause: str | None = None, retry_after: int = 0):
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.retry_after = retry_after  # seconds; the Retry-After header when > 0


class BadRequest(KrenalisError):
    status, code = 400, "BadRequest"


class Unauthorized(KrenalisError):
    status, code = 401, "Unauthorized"


class Forbidden(KrenalisError):
    status, code = 403, "Forbidden"


class NotFound(KrenalisError):
    status, code = 404, "NotFound"


class MethodNotAllowed(KrenalisError):
    status, code = 405, "MethodNotAllowed"


class Unprocessable(KrenalisError):
    """A valid request that conflicts with the current state (422, with a specific code)."""

    status = 422

    def __init__(self, code: str, message: str, *, cause: str | None = None):
        super().__init__(message, cause=cause)
        self.code = code


class TooManyRequests(KrenalisError):
    """Too many requests of a kind at once (429)."""

    status, code = 429, "TooManyRequests"


class ServiceUnavailable(KrenalisError):
    """A source database, the warehouse or another dependency failed."""

    status, code = 503, "ServiceUnavailable"
