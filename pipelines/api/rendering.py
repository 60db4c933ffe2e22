"""How /v1 reads and writes JSON, and how failures become the error body.

Kept apart from `platform` because DRF imports these classes while building APIView itself.
"""
from django.http import HttpResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import parsers, renderers

from .. import errors
from .. import jsoncodec


class JSONParser(parsers.BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read() if stream is not None else b""
        try:
            return jsoncodec.loads(data)
        except jsoncodec.JSONDecodeError as exc:
            raise errors.BadRequest(str(exc)) from None


class JSONRenderer(renderers.BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return (jsoncodec.dumps(data) + "\n").encode("utf-8")


def error_response(exc: errors.KrenalisError) -> HttpResponse:
    error = {"code": exc.code, "message": exc.message}
    if exc.cause:
        error["cause"] = exc.cause
    body = jsoncodec.dumps({"error": error}) + "\n"
    response = HttpResponse(body.encode("utf-8"), status=exc.status,
                            content_type="application/json; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    if exc.retry_after > 0:
        response["Retry-After"] = str(int(exc.retry_after))
    return response


def exception_handler(exc, context):
    """Turns every failure inside a view into the error body; unexpected errors propagate (500)."""
    if isinstance(exc, errors.KrenalisError):
        return error_response(exc)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        method = context["request"].method if context.get("request") else "this"
        return error_response(errors.MethodNotAllowed(f"method {method} is not allowed for this endpoint"))
    if isinstance(exc, drf_exceptions.NotFound):
        return error_response(errors.NotFound("not found"))
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return error_response(errors.BadRequest("request's content type must be 'application/json'"))
    if isinstance(exc, drf_exceptions.APIException):
        return error_response(errors.BadRequest(str(exc.detail)))
    return None
