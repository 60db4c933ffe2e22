"""The /v1 request pipeline shared by every endpoint.

Order of checks (spec README §1.10): body rules, then authentication and workspace selection,
then path identifiers, then the endpoint's own validation. Views subclass `ApiView`, declare
their workspace scope, and raise `pipelines.errors` exceptions; nothing here knows a resource.
"""
import secrets
import socket

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import views, viewsets
from rest_framework.response import Response

from .. import errors
from ..ids import parse_id
from .auth import authenticate
from .rendering import JSONRenderer, error_response

MAX_BODY_BYTES = 512000
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# Workspace scopes of an endpoint (reference §2.2).
WORKSPACE = "workspace"          # needs a selected workspace
ORGANIZATION = "organization"    # must not have one
OPTIONAL = "optional"            # either


def _header_values(request, meta_key: str) -> list[str] | None:
    """A header's values, or None when absent. WSGI servers join repeated headers with commas."""
    raw = request.META.get(meta_key)
    if raw is None:
        return None
    return raw.split(",")


def _check_body_rules(request, body_required: bool) -> None:
    method = request.method
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        # A chunked body has no length to check up front (and Django would read it as empty).
        if method in ("GET", "DELETE", "HEAD") or not body_required:
            raise errors.BadRequest("request body not allowed")
        raise errors.BadRequest(f"request's content length must be in the range [1,{MAX_BODY_BYTES}]")
    length_text = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(length_text)
    except ValueError:
        raise errors.BadRequest(f"request's content length must be in the range [1,{MAX_BODY_BYTES}]") from None
    if method in ("GET", "DELETE", "HEAD"):
        if length > 0:
            raise errors.BadRequest("request body not allowed")
        return
    if method not in ("POST", "PUT", "PATCH"):
        return
    if length > MAX_BODY_BYTES:
        raise errors.BadRequest(f"request's content length must be in the range [1,{MAX_BODY_BYTES}]")
    if not body_required:
        if length > 0:
            raise errors.BadRequest("request body not allowed")
        return
    if length == 0:
        raise errors.BadRequest("request's body is missing")
    content_type = request.META.get("CONTENT_TYPE", "")
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        raise errors.BadRequest("request's content type must be 'application/json'")
    for param in params.split(";"):
        if not param.strip():
            continue
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset":
            raise errors.BadRequest("request's content type must be 'application/json'")
        if value.strip().strip('"').lower() != "utf-8":
            raise errors.BadRequest("request's content type charset must be 'utf-8'")


_WORKSPACE_FORMAT = ("Krenalis-Workspace header is invalid; it should be in the format "
                     "'Krenalis-Workspace: <WORKSPACE_ID>'")


def _select_workspace(request, key, scope: str):
    """The workspace the request acts on (or None), following reference §2.2."""
    from ..models import Workspace

    values = _header_values(request, "HTTP_KRENALIS_WORKSPACE")
    if values is not None and key.workspace_id is not None:
        raise errors.BadRequest('"Krenalis-Workspace" header cannot be provided with a workspace restricted key')
    workspace_id = None
    if values is not None:
        if len(values) > 1:
            raise errors.BadRequest("request contains multiple Krenalis-Workspace headers")
        workspace_id = parse_id(values[0].strip())
        if workspace_id is None:
            raise errors.BadRequest(_WORKSPACE_FORMAT)
    elif key.workspace_id is not None:
        workspace_id = key.workspace_id
    if scope == ORGANIZATION:
        if workspace_id is not None:
            raise errors.Unauthorized("organization request cannot specify a workspace")
        return None
    if workspace_id is None:
        if scope == WORKSPACE:
            raise errors.Forbidden("Krenalis-Workspace header is missing; provide it in the format "
                                   "'Krenalis-Workspace: <WORKSPACE_ID>'")
        return None
    workspace = Workspace.objects.filter(id=workspace_id).first()
    if workspace is None:
        raise errors.NotFound(f"workspace {workspace_id} does not exist")
    return workspace


class ApiSchema(AutoSchema):
    """A viewset's `list` answers an object that holds the array (`{"connections": [...]}`), not an array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class ApiView(views.APIView):
    """Base of every /v1 endpoint.

    `workspace_scope` says whether the endpoint needs a workspace; `body_required` lists the
    methods whose body is mandatory JSON (the others must come without a body).
    """

    workspace_scope = WORKSPACE
    body_required = ("POST", "PUT")
    authentication_classes = ()
    permission_classes = ()
    schema = ApiSchema()

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        if not hasattr(self, request.method.lower()):
            self.http_method_not_allowed(request)
        _check_body_rules(request, request.method in self.body_required)
        self.api_key = authenticate(request)
        self.workspace = _select_workspace(request, self.api_key, self.workspace_scope)

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise errors.MethodNotAllowed(f"method {request.method} is not allowed for this endpoint")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Request-Id"] = "".join(secrets.choice(_BASE58) for _ in range(16))
        response["Cache-Control"] = "no-store, max-age=0"
        response["Pragma"] = "no-cache"
        response["Expires"] = "0"
        if isinstance(response, Response) and response.data is None:
            response["Content-Type"] = "application/json"
        return response

    def body(self) -> dict:
        """The decoded JSON body, which must be an object."""
        data = self.request.data
        if not isinstance(data, dict):
            raise errors.BadRequest("request's body must be a JSON object")
        return data

    def validated(self, serializer_class) -> dict:
        """The body read by a request-body serializer (`serializers.Body`): its fields under their
        source names. A field of the wrong type is a 400 at once."""
        serializer = serializer_class(data=self.body())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def validated_query(self, serializer_class) -> dict:
        """The query parameters read by a `serializers.Query`, as `validated` reads a body."""
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ApiViewSet(viewsets.ViewSetMixin, ApiView):
    """Base of the /v1 viewsets: an `ApiView` (same checks, in the same order) whose methods are
    actions on the router of `urls.py`. An `@action` may set `workspace_scope` and `body_required` for itself.

    `view_names` gives each route the name its OPTIONS answer has always had (that of the APIView
    it was), keyed by the first action of the route (`list`, `retrieve`, or the `@action`'s name)."""

    lookup_value_regex = "[^/]+"  # any path segment: an identifier that is not one is a 400, not a 404
    view_names: dict[str, str] = {}

    def get_view_name(self):
        return self.view_names[next(iter(self.action_map.values()))]

    def get_view_description(self, html=False):
        return ""


def path_id(text: str, message: str) -> int:
    """A path identifier, or 400 with `message` (which may contain {value})."""
    value = parse_id(text)
    if value is None:
        raise errors.BadRequest(message.format(value=text))
    return value



def get_or_404(queryset, text: str, *, invalid: str, missing: str):
    """The object of `queryset` whose id is the path identifier `text`: 400 with `invalid` (which may
    contain {value}) when it is no identifier, 404 with `missing` (which may contain {id}) when
    there is none."""
    object_id = path_id(text, invalid)
    found = queryset.filter(id=object_id).first()
    if found is None:
        raise errors.NotFound(missing.format(id=object_id))
    return found


def client_gone(request):
    """A function that says whether the client of `request` has closed its connection (to stop
    work it no longer waits for), or None when the server does not tell: gunicorn hands its socket
    over, and a peek that reads the end of the stream (without consuming anything) means gone."""
    sock = request.META.get("gunicorn.socket")
    if sock is None:
        return None

    def gone() -> bool:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False  # nothing to read: still connected
        except ValueError:
            return False  # a TLS socket cannot be peeked at: cannot tell
        except OSError:
            return True  # reset by the peer

    return gone


def ok(data=None) -> Response:
    """200 with `data` as JSON, or with an empty body when `data` is None."""
    return Response(data, status=200)


@extend_schema(exclude=True)
class UnknownPathView(ApiView):
    """Any /v1 path that is not an endpoint: a JSON 404 (after authentication, like the rest)."""

    workspace_scope = OPTIONAL
    body_required = ()

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = None
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)

    def _not_found(self, request, *args, **kwargs):
        raise errors.NotFound(f"no endpoint at {request.method} {request.path}")

    get = post = put = delete = patch = head = options = _not_found


class JSONErrorsMiddleware:
    """The outermost middleware: on /v1, an error Django answers itself (an unexpected exception
    turned into a 500, a request refused before any view) gets the JSON error body too.

    Views never come here with such a response: their errors are already JSON.
    """

    _ERRORS = {400: errors.BadRequest, 401: errors.Unauthorized, 403: errors.Forbidden, 404: errors.NotFound,
               405: errors.MethodNotAllowed, 503: errors.ServiceUnavailable}
    _MESSAGES = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found",
                 405: "method not allowed", 503: "service unavailable"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code >= 400 and request.path.startswith("/v1/")
                and not response.get("Content-Type", "").startswith("application/json")):
            status = response.status_code
            if status in self._ERRORS:
                error = self._ERRORS[status](self._MESSAGES[status])
            elif status >= 500:
                error = errors.KrenalisError("an internal error has occurred")
            else:
                error = errors.BadRequest("bad request")
                error.status = status
            replacement = error_response(error)
            replacement["Request-Id"] = "".join(secrets.choice(_BASE58) for _ in range(16))
            replacement["Cache-Control"] = "no-store, max-age=0"
            return replacement
        return response
