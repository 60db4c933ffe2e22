"""Forms of the admin console.

They only gather input: every rule is the services' (the same validation as the API), and a
service's message is shown next to the field it names (`field_for_message`), else at the top.
A form applies its service call in `clean()`, so that a refusal is an ordinary form error; the
admin wraps each change view in a transaction, so nothing is half done when a form is refused.
"""
import json

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .connectors import REGISTRY
from .connectors.mysql import SSL_MODES as MYSQL_SSL_MODES
from .connectors.postgresql import SSL_MODES as PG_SSL_MODES
from .errors import KrenalisError
from .lookback import format_lookback
from .models import APIKey, Connection, Pipeline, Workspace
from .services.apikeys import api_key_create
from .services.connections import connection_create, connection_rename, connection_update_settings, test_settings
from .services.logins import client_address, lockout_message, lockout_seconds, login_failed, login_succeeded
from .services.pipelines import (LANGUAGES, UPDATED_AT_KINDS, USER_ID_KINDS, PipelineInput, enabled_languages,
                                 pipeline_create, pipeline_set_schedule, pipeline_update)
from .services.workspaces import DEFAULT_PROFILE_SCHEMA, workspace_create, workspace_update
from .types import SchemaError, leaf_paths, parse_type, prune, type_to_json

# --------------------------------------------------------------------------- messages → fields

# (field, words a service message starts with or contains), first match wins.
PIPELINE_FIELD_WORDS = (
    ("name", ("name ",)),
    ("user_id_column", ("user ID column",)),
    ("updated_at_format", ("update time format", "pipeline cannot specify an update time format")),
    ("updated_at_lookback", ("update time look-back",)),
    ("updated_at_column", ("update time column",)),
    ("incremental", ("incremental",)),
    ("in_schema", ("input schema", "input pipeline schema", "source pipeline schema", "input property")),
    ("query", ("query ", "placeholder", "${", "the query ", "SELECT ... INTO", " in the query",
               "cannot insert multiple commands")),
    ("mapping", ("invalid mapping", "transformation mapping", "transformation must map", "\"transformation.mapping\"",
                 "mapping must")),
    ("function_language", ("transformation language", "JavaScript function language",
                           "Python transformation language")),
    ("function_out_paths", ("output properties of transformation", "there are no output properties",
                            "output property", "transformation function output")),
    ("function_source", ("source of transformation function", "transformation function", "JavaScript:",
                         "Python:")),
    ("transformation", ("output schema", "out schema", "output pipeline schema", "in the output schema",
                        "two output pipeline schema")),
)

SETTINGS_FIELDS = ("host", "port", "username", "password", "database", "schema", "path", "sslmode", "ssl_mode",
                   "ssl_ca")
# The form field of a setting whose API name differs.
SETTINGS_FIELD_OF = {"sslrootcert": "ssl_ca", "ssl.ca": "ssl_ca", "ssl.mode": "ssl_mode", "ssl": "ssl_mode"}


def field_for_message(message: str, words=PIPELINE_FIELD_WORDS) -> str | None:
    """The field a service message is about: one whose words start the message, else one whose
    (longer) words appear in it."""
    for field, starts in words:
        if any(message.startswith(word) for word in starts):
            return field
    for field, starts in words:
        if any(len(word) > 6 and word in message for word in starts):
            return field
    return None


def settings_field_for_message(message: str) -> str | None:
    """`host length in bytes must be ...` → host; `port must be ...` → port; `sslrootcert ...` → ssl_ca."""
    first = message.split(" ", 1)[0].strip('"').lower()
    first = SETTINGS_FIELD_OF.get(first, first)
    return first if first in SETTINGS_FIELDS else None


def error_text(exc: KrenalisError) -> str:
    return exc.message + (f" ({exc.cause})" if exc.cause else "")


class ServiceFormMixin:
    """Puts a service's error next to the field it names, or at the top of the form."""

    def service_error(self, exc: KrenalisError, field: str | None) -> None:
        if field is not None and field not in self.fields:
            field = None
        self.add_error(field, ValidationError(error_text(exc), code=exc.code))


# --------------------------------------------------------------------------- login

class ThrottledLoginForm(AdminAuthenticationForm):
    """The admin's login form, with services.logins' throttling: a locked username or address is
    refused before its password is even checked."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else ""
        locked = lockout_seconds(username, address)
        if locked:
            raise ValidationError(lockout_message(locked), code="locked")
        try:
            data = super().clean()
        except ValidationError:
            if username and self.cleaned_data.get("password"):
                login_failed(username, address)
            raise
        if self.get_user() is not None:
            login_succeeded(username)
        return data


# --------------------------------------------------------------------------- workspaces

class JSONTextField(forms.CharField):
    """A JSON document typed in a textarea; the cleaned value is the decoded document."""

    def __init__(self, *args, rows=12, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField kr-mono",
                                                          "spellcheck": "false"}))
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2)
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in ("", None):
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValidationError(f"this is not valid JSON: {exc}") from None


class WorkspaceForm(ServiceFormMixin, forms.ModelForm):
    platform = forms.ChoiceField(choices=[("SQLite", "SQLite (a file managed by Krenalis)"),
                                          ("PostgreSQL", "PostgreSQL")], initial="SQLite",
                                 label="Warehouse platform")
    host = forms.CharField(required=False, initial="127.0.0.1")
    port = forms.IntegerField(required=False, initial=5432, min_value=1, max_value=65535)
    username = forms.CharField(required=False)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    database = forms.CharField(required=False)
    schema = forms.CharField(required=False, initial="public")
    # The admin's page posts the schema as a table of properties (prop_name, prop_kind, ...); this
    # JSON document is the alternative for a post without them.
    profile_schema_json = JSONTextField(label="Profile schema", required=False, initial=DEFAULT_PROFILE_SCHEMA,
                                       rows=16, help_text="A JSON object type; each property becomes a warehouse "
                                                          "column.")

    class Meta:
        model = Workspace
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:  # not for a user who may only view: the admin excludes it then
            self.fields["name"].required = False  # "name is empty" is the service's message
        if self.instance.pk:
            for name in ("platform", "host", "port", "username", "password", "database", "schema",
                         "profile_schema_json"):
                self.fields.pop(name, None)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            if self.instance.pk:
                workspace_update(workspace=self.instance, name=data.get("name") or "")
                return data
            platform = data["platform"]
            settings = None
            if platform == "PostgreSQL":
                settings = {key: data.get(key) if key == "port" else (data.get(key) or "")
                            for key in ("host", "port", "username", "password", "database", "schema")}
            profile_schema = data.get("profile_schema_json")
            if "prop_name" in self.data:
                from .admin_profiles import rows_from_post

                _rows, profile_schema, _renames, table_error = rows_from_post(self.data)
                if table_error:
                    self.add_error(None, table_error)
                    return data
            self.created = workspace_create(name=data.get("name") or "", profile_schema=profile_schema,
                                            platform=platform, mode="Normal", warehouse_settings=settings)
        except KrenalisError as exc:
            message = exc.message
            # the schema is a table on the page (not a field): its errors go at the top
            field = ("name" if message.startswith("name ") else
                     None if "profile schema" in message or "propert" in message else
                     settings_field_for_message(message))
            self.service_error(exc, field)
        return data


# --------------------------------------------------------------------------- API keys

class APIKeyForm(ServiceFormMixin, forms.ModelForm):
    class Meta:
        model = APIKey
        fields = ["name", "workspace"]
        help_texts = {"workspace": "Leave empty for a key that can reach every workspace."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:
            self.fields["name"].required = False

    def clean(self):
        data = super().clean()
        if self.errors or self.instance.pk:
            return data
        try:
            self.created, self.plain_key = api_key_create(name=data.get("name") or "", workspace=data.get("workspace"))
        except KrenalisError as exc:
            self.service_error(exc, "name" if exc.message.startswith("name") else None)
        return data


# --------------------------------------------------------------------------- connections

CONNECTOR_FIELDS = {
    "postgresql": ("host", "port", "username", "password", "database", "schema", "sslmode", "ssl_ca"),
    "mysql": ("host", "port", "username", "password", "database", "ssl_mode", "ssl_ca"),
    "sqlite": ("path",),
}
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def sqlite_source_dir() -> str:
    """The only directory SQLite sources may read, as the connector resolves it."""
    import os

    return os.path.realpath(REGISTRY["sqlite"].allowed_root or ".")


def stored_ca_certificate(settings: dict) -> str:
    """The CA certificate stored in a connection's settings (PostgreSQL's or MySQL's), or ""."""
    return settings.get("sslrootcert") or (settings.get("ssl") or {}).get("ca") or ""


def connector_choices():
    return [(code, REGISTRY[code].label) for code in sorted(REGISTRY)]


def _wide(widget=None):
    """A text input as wide as the admin's for a model's CharField (Name's): database names and paths are long."""
    widget = widget or forms.TextInput()
    widget.attrs["class"] = "vTextField"
    return widget


class ConnectionForm(ServiceFormMixin, forms.ModelForm):
    """The settings of the chosen connector; the stored password and CA certificate are never sent
    back to the browser (empty fields keep them, the password only for the host, port, user and
    database it was saved for: the service says so next to the password field otherwise)."""

    connector = forms.ChoiceField(choices=connector_choices, initial="postgresql")
    host = forms.CharField(required=False, initial="127.0.0.1", widget=_wide())
    port = forms.IntegerField(required=False, min_value=1, max_value=65535,
                              help_text="PostgreSQL: 5432, MySQL/MariaDB: 3306 unless changed.")
    username = forms.CharField(required=False, widget=_wide())
    password = forms.CharField(required=False, strip=False, widget=_wide(forms.PasswordInput(render_value=False)))
    database = forms.CharField(required=False, widget=_wide())
    schema = forms.CharField(required=False, initial="public", help_text="PostgreSQL schema the query runs in.",
                             widget=_wide())
    path = forms.CharField(required=False, label="Database file",
                           help_text="Path of the SQLite file, inside the directory of the SQLite sources.",
                           widget=_wide())
    sslmode = forms.ChoiceField(label="TLS (sslmode)", initial="prefer", required=False,
                                choices=[(mode, mode) for mode in PG_SSL_MODES],
                                help_text="verify-full checks the server's certificate and name against the CA "
                                          "certificate below; require encrypts without checking.")
    ssl_mode = forms.ChoiceField(label="TLS (ssl mode)", initial="PREFERRED", required=False,
                                 choices=[(mode, mode) for mode in MYSQL_SSL_MODES],
                                 help_text="VERIFY_IDENTITY checks the server's certificate and name against the "
                                           "CA certificate below; REQUIRED encrypts without checking.")
    ssl_ca = forms.CharField(required=False, label="CA certificate", strip=False,
                             widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField kr-mono",
                                                          "spellcheck": "false",
                                                          "placeholder": "-----BEGIN CERTIFICATE-----"}),
                             help_text="PEM text of the certificate authority that signed the server's certificate "
                                       "(required by the verify modes).")
    ssl_ca_clear = forms.BooleanField(required=False, label="Remove the stored CA certificate")

    class Meta:
        model = Connection
        fields = ["workspace", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "name" in self.fields:  # not for a user who may only view: the admin excludes it then
            self.fields["name"].required = False
        self.fields["path"].help_text = (f"Path of the SQLite file, inside {sqlite_source_dir()} "
                                         f"(KRENALIS_SQLITE_SOURCE_DIR); a relative path is read from there.")
        if self.instance.pk:
            self.fields.pop("workspace", None)
            self.fields["connector"].disabled = True
            self.fields["connector"].initial = self.instance.connector
            stored = self.instance.settings
            for key in ("host", "port", "username", "database", "schema", "path", "sslmode"):
                if key in stored:
                    self.fields[key].initial = stored[key]
            tls = stored.get("ssl") or {}
            if tls.get("mode"):
                self.fields["ssl_mode"].initial = tls["mode"]
            if stored.get("password"):
                self.fields["password"].help_text = ("A password is stored; leave this empty to keep it (only "
                                                     "while host, port, user and database stay the same).")
            if stored_ca_certificate(stored):
                self.fields["ssl_ca"].help_text = "A CA certificate is stored; leave this empty to keep it."
            else:
                self.fields.pop("ssl_ca_clear")
        else:
            self.fields["port"].initial = DEFAULT_PORTS["postgresql"]
            self.fields.pop("ssl_ca_clear")

    def settings_from(self, data: dict) -> dict:
        """The connector's settings from the cleaned data, in the API's shape. An empty password
        stays empty (the services decide whether the stored one may be used); an empty CA
        certificate keeps the stored one unless it is to be removed."""
        connector = self.instance.connector if self.instance.pk else data.get("connector")
        stored = self.instance.settings if self.instance.pk else {}
        settings = {}
        for key in CONNECTOR_FIELDS.get(connector, ()):
            value = data.get(key)
            settings[key] = value if key == "port" else (value or "")
        ca = settings.pop("ssl_ca", None)
        if ca is not None and not ca.strip() and not data.get("ssl_ca_clear"):
            ca = stored_ca_certificate(stored)
        if connector == "postgresql":
            settings["sslrootcert"] = ca or ""
            settings["sslmode"] = settings["sslmode"] or "prefer"
        elif connector == "mysql":
            settings["ssl"] = {"mode": settings.pop("ssl_mode") or "PREFERRED", "ca": ca or ""}
        return settings

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        settings = self.settings_from(data)
        try:
            if self.instance.pk:
                connection_rename(connection=self.instance, name=data.get("name") or "")
                connection_update_settings(connection=self.instance, settings=settings)
            else:
                self.created = connection_create(workspace=data["workspace"], name=data.get("name") or "",
                                                 role="Source", connector=data["connector"], settings=settings)
        except KrenalisError as exc:
            field = "name" if exc.message.startswith("name ") else settings_field_for_message(exc.message)
            if exc.code == "ServiceUnavailable":
                exc = type(exc)(f"Could not connect with these settings: {exc.message}")
            self.service_error(exc, field)
        return data


def test_connection_settings(connector: str, settings: dict,
                             saved: Connection | None = None) -> tuple[bool, str, list[str]]:
    """The "Test connection" button: validates and opens a connection, saves nothing; with the
    warnings about the login (a superuser, a user that can write tables). With a `saved`
    connection, an empty password is its stored one where the services allow it."""
    try:
        _clean, warnings = test_settings(connector, settings, saved=saved)
    except KrenalisError as exc:
        return False, error_text(exc), []
    return True, "Connection succeeded.", warnings


# --------------------------------------------------------------------------- pipelines

PERIOD_CHOICES = [("", "Not scheduled (run it by hand)")] + [(name, f"Every {name}")
                                                            for name in Pipeline.SCHEDULE_PERIODS]
PERIOD_NAMES = {minutes: name for name, minutes in Pipeline.SCHEDULE_PERIODS.items()}
FORMAT_SUGGESTIONS = ("ISO8601", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d", "%d/%m/%Y %H:%M",
                      "%s")
JS_TEMPLATE = """// Called once per row; return the profile properties to set.
const transform = (user) => {
  return {
    email: user.email,
  };
};
"""
PY_TEMPLATE = """# Called once per row; return the profile properties to set.
def transform(user: dict) -> dict:
    return {
        "email": user["email"],
    }
"""


def type_label(t) -> str:
    """A type as the console shows it: with its length (`string(100)`), unlike the API's
    messages, which keep the reference's wording (`string`)."""
    if t.kind == "string":
        if t.values:
            return "string(one of " + ", ".join(t.values) + ")"
        if t.max_length is not None:
            return f"string({t.max_length})"
        if t.max_bytes is not None:
            return f"string({t.max_bytes} bytes)"
        return "string"
    if t.kind in ("array", "map") and t.element_type is not None:
        return f"{t.kind}({type_label(t.element_type)})"
    if t.kind == "int" and t.unsigned:
        return f"{t} unsigned"
    return str(t)


def profile_rows(workspace: Workspace) -> list[dict]:
    """One row per profile property a pipeline can set (the leaves of the profile schema)."""
    schema = parse_type(workspace.profile_schema)
    rows = []
    for path, prop in leaf_paths(schema):
        rows.append({"path": path, "type": type_label(prop.type), "description": prop.description or ""})
    return rows


def out_schema_for(workspace: Workspace, paths) -> dict | None:
    """The output schema of a pipeline setting `paths`: the profile schema cut down to them."""
    subset = prune(parse_type(workspace.profile_schema), paths)
    return type_to_json(subset) if subset is not None else None


class PipelineForm(ServiceFormMixin, forms.Form):
    name = forms.CharField(required=False, max_length=200)
    connection = forms.ModelChoiceField(queryset=Connection.objects.select_related("workspace"), required=False,
                                        empty_label="— choose a connection —",
                                        help_text="The source database the query runs on.")
    enabled = forms.BooleanField(required=False, initial=True,
                                 help_text="Disabled pipelines are not run, by hand or on schedule.")
    query = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8, "class": "kr-code",
                                                                                       "data-mode": "text/x-sql"}),
                            help_text="A SELECT. ${updated_at} is the cursor of incremental runs (NULL on full "
                                      "runs and in the preview), ${limit} the number of rows wanted. For "
                                      "incremental runs, on any database: WHERE ${updated_at} IS NULL OR "
                                      "updated_at >= ${updated_at}. On PostgreSQL, COALESCE needs a typed "
                                      "argument: updated_at >= COALESCE(${updated_at}, '-infinity'::timestamptz).")
    in_schema = JSONTextField(required=False, label="Input schema", rows=8,
                              help_text="The columns the pipeline reads. Fill it from a preview.")
    user_id_column = forms.CharField(required=False, label="User ID column",
                                     widget=forms.Select(attrs={"data-kinds": ",".join(USER_ID_KINDS)}),
                                     help_text="Identifies the user of each row (" + ", ".join(USER_ID_KINDS) + ").")
    updated_at_column = forms.CharField(required=False, label="Update time column",
                                        widget=forms.Select(attrs={"data-kinds": ",".join(UPDATED_AT_KINDS)}),
                                        help_text="When each row last changed (" + ", ".join(UPDATED_AT_KINDS) +
                                                  "); needed for incremental runs.")
    updated_at_format = forms.CharField(required=False, label="Update time format",
                                        widget=forms.TextInput(attrs={"list": "kr-formats", "placeholder": "ISO8601"}),
                                        help_text="Only for string and JSON columns: ISO8601 or a strftime "
                                                  "format such as %Y-%m-%d %H:%M:%S.")
    incremental = forms.BooleanField(required=False, label="Incremental",
                                     help_text="Scheduled runs read only the rows changed since the last run.")
    updated_at_lookback = forms.CharField(required=False, label="Look-back",
                                          widget=forms.TextInput(attrs={"placeholder": "off, or e.g. 5m"}),
                                          help_text="For rows committed late (a long transaction, a replica that "
                                                    "lags): incremental runs read again the rows updated this long "
                                                    "before the cursor, and hold the cursor below transactions "
                                                    "still in progress in the source (PostgreSQL; MySQL with the "
                                                    "PROCESS privilege). 1s to 7d, e.g. 30s, 5m, 1h30m. Empty: off.")
    transformation = forms.ChoiceField(choices=[("mapping", "Mapping"), ("function", "Function")],
                                       initial="mapping", widget=forms.RadioSelect)
    mapping = JSONTextField(required=False, rows=3, widget=forms.HiddenInput)
    function_language = forms.ChoiceField(choices=[(lang, lang) for lang in LANGUAGES], required=False,
                                          initial="JavaScript", label="Language")
    function_source = forms.CharField(required=False, strip=False, label="Function",
                                      widget=forms.Textarea(attrs={"rows": 14, "class": "kr-code",
                                                                   "data-mode": "javascript"}))
    function_preserve_json = forms.BooleanField(required=False, label="Preserve JSON",
                                                help_text="Pass JSON values to the function as text.")
    function_out_paths = JSONTextField(required=False, rows=2, widget=forms.HiddenInput)
    schedule_period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False, label="Schedule")

    def __init__(self, *args, pipeline: Pipeline | None = None, **kwargs):
        self.pipeline = pipeline
        if pipeline is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_of(pipeline)
        super().__init__(*args, **kwargs)
        self.row_errors: dict[str, str] = {}
        if pipeline is not None:
            self.fields.pop("connection", None)
        # The choosers' options come from the input schema (in the browser); the current value is kept.
        for name in ("user_id_column", "updated_at_column"):
            value = self[name].value() or ""
            widget = self.fields[name].widget
            widget.choices = [("", "—")] + ([(value, value)] if value else [])
            widget.attrs["data-initial"] = value
        languages = enabled_languages()
        self.fields["function_language"].choices = [(lang, lang) for lang in LANGUAGES if lang in languages or
                                                    (pipeline is not None and pipeline.function_language == lang)]

    @staticmethod
    def initial_of(pipeline: Pipeline) -> dict:
        function = pipeline.has_function
        return {
            "name": pipeline.name,
            "enabled": pipeline.enabled,
            "query": pipeline.query,
            "in_schema": pipeline.in_schema,
            "user_id_column": pipeline.user_id_column,
            "updated_at_column": pipeline.updated_at_column,
            "updated_at_format": pipeline.updated_at_format,
            "incremental": pipeline.incremental,
            "updated_at_lookback": format_lookback(pipeline.updated_at_lookback) or "",
            "transformation": "function" if function else "mapping",
            "mapping": pipeline.transformation_mapping or {},
            "function_language": pipeline.function_language or "JavaScript",
            "function_source": pipeline.function_source or JS_TEMPLATE,
            "function_preserve_json": pipeline.function_preserve_json,
            "function_out_paths": pipeline.function_out_paths or [],
            "schedule_period": PERIOD_NAMES.get(pipeline.schedule_period, ""),
        }

    @property
    def workspace(self) -> Workspace | None:
        if self.pipeline is not None:
            return self.pipeline.workspace
        connection = self.cleaned_data.get("connection") if hasattr(self, "cleaned_data") else None
        return connection.workspace if connection else None

    def clean_mapping(self):
        mapping = self.cleaned_data.get("mapping") or {}
        if not isinstance(mapping, dict):
            raise ValidationError("the mapping must be an object")
        return {path: expr for path, expr in mapping.items() if isinstance(expr, str) and expr.strip()}

    def clean_function_out_paths(self):
        paths = self.cleaned_data.get("function_out_paths") or []
        if not isinstance(paths, list):
            raise ValidationError("the output properties must be a list")
        return paths

    def pipeline_input(self, workspace: Workspace) -> PipelineInput:
        data = self.cleaned_data
        if data["transformation"] == "function":
            in_schema = data.get("in_schema")
            in_paths = [p["name"] for p in (in_schema or {}).get("properties", []) if isinstance(p, dict)] \
                if isinstance(in_schema, dict) else []
            out_paths = data["function_out_paths"]
            transformation = {"function": {"source": data.get("function_source") or "",
                                           "language": data.get("function_language") or "",
                                           "preserveJSON": data.get("function_preserve_json", False),
                                           "inPaths": in_paths, "outPaths": out_paths}}
        else:
            out_paths = list(data["mapping"])
            transformation = {"mapping": data["mapping"]}
        return PipelineInput(
            name=data.get("name") or "",
            enabled=data.get("enabled", False),
            query=data.get("query") or "",
            user_id_column=data.get("user_id_column") or "",
            updated_at_column=data.get("updated_at_column") or "",
            updated_at_format=data.get("updated_at_format") or "",
            incremental=data.get("incremental", False),
            updated_at_lookback=data.get("updated_at_lookback") or None,
            transformation=transformation,
            in_schema=data.get("in_schema"),
            out_schema=out_schema_for(workspace, out_paths) if out_paths else None,
        )

    def save(self) -> Pipeline | None:
        """Creates or updates the pipeline through the service; None (with form errors) when refused."""
        data = self.cleaned_data
        if self.pipeline is None and data.get("connection") is None:
            self.add_error("connection", "choose the connection the pipeline reads from")
            return None
        workspace = self.workspace
        try:
            data_in = self.pipeline_input(workspace)
            if self.pipeline is None:
                pipeline = pipeline_create(workspace=workspace, connection_id=data["connection"].id, target="User",
                                           event_type="", data=data_in)
            else:
                pipeline_update(pipeline=self.pipeline, data=data_in)
                pipeline = Pipeline.objects.get(id=self.pipeline.id)
            pipeline_set_schedule(pipeline=pipeline, period=data.get("schedule_period") or None)
        except KrenalisError as exc:
            field = field_for_message(exc.message)
            if exc.code == "SchemaNotAligned" or (field == "transformation"):
                field = "mapping" if data["transformation"] == "mapping" else "function_out_paths"
            if field == "mapping":
                self.row_errors = mapping_row_errors(data["mapping"], data.get("in_schema"), workspace)
            self.service_error(exc, field)
            return None
        return pipeline


def mapping_row_errors(mapping: dict, in_schema, workspace: Workspace) -> dict[str, str]:
    """The compile error of each expression on its own, for the mapping editor's rows."""
    from .mapping import MappingError, compile_mapping

    try:
        in_type = parse_type(in_schema) if in_schema else None
    except SchemaError:
        in_type = None
    profile = parse_type(workspace.profile_schema)
    errors = {}
    for path, expression in mapping.items():
        if not isinstance(expression, str) or not expression.strip():
            continue
        out_type = prune(profile, [path])
        if out_type is None:
            errors[path] = f'property "{path}" does not exist in the profile schema'
            continue
        if in_type is None:
            errors[path] = "fill the input schema first (Preview, then “Use as input schema”)"
            continue
        try:
            compile_mapping({path: expression}, in_type, out_type)
        except MappingError as exc:
            errors[path] = str(exc)
    return errors
