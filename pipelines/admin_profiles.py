"""The console's pages of the unified users: a workspace's profiles (searched by any identifier),
one profile with its attributes and the identities merged into it, and identity resolution (its
settings, "Resolve now", what the latest one did). They call the services the API calls
(`/v1/profiles`, `/v1/identity-resolution/...`), so they refuse what it refuses, with its messages.
"""
import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from warehouse.columns import profile_columns

from .admin_forms import error_text, type_label
from .errors import KrenalisError
from .models import Connection, Pipeline, Workspace
from .services.identity_resolution import (ir_executing, identity_resolution_latest, identity_resolution_start,
                                           identity_resolution_update_settings, suitable_as_identifier)
from .services.profiles import profile_attributes, profile_identities, profile_schema_update, profiles_list
from .types import leaf_paths, parse_type

PAGE_SIZE = 50
SHOWN_ATTRIBUTES = 6  # columns of the profiles list; a profile's page shows them all


def _workspace(model_admin, request, workspace_id, *, change=False) -> Workspace:
    workspace = Workspace.objects.filter(id=workspace_id).first()
    if workspace is None:
        raise Http404("no such workspace")
    allowed = (model_admin.has_change_permission(request, workspace) if change
               else model_admin.has_view_permission(request, workspace))
    if not allowed:
        raise PermissionDenied
    return workspace


def _context(model_admin, request, workspace: Workspace | None, title: str, **extra) -> dict:
    return {**model_admin.admin_site.each_context(request), "title": title, "subtitle": None,
            "opts": Workspace._meta, "workspace": workspace, "is_nav_sidebar_enabled": False,
            "workspaces": Workspace.objects.only("id", "name"),
            "can_change": workspace is not None and model_admin.has_change_permission(request, workspace), **extra}


def identifier_paths(workspace: Workspace) -> list[str]:
    """What the search box looks in: the identifiers of identity resolution, else every text
    property (a workspace that set none still finds its users by email)."""
    schema = parse_type(workspace.profile_schema)
    kinds = {path: prop.type for path, prop in leaf_paths(schema)}
    chosen = [p for p in (workspace.identifiers or []) if p in kinds]
    return chosen or [path for path, t in kinds.items() if t.kind == "string"]


def _search_filter(workspace: Workspace, text: str) -> str | None:
    """The /v1/profiles filter of a search: any identifier that contains the text (a text one) or
    equals it (a number or UUID that the text is)."""
    schema = parse_type(workspace.profile_schema)
    kinds = {path: prop.type for path, prop in leaf_paths(schema)}
    conditions = []
    for path in identifier_paths(workspace):
        kind = kinds[path].kind
        if kind == "string":
            conditions.append({"property": path, "operator": "contains", "values": [text]})
        elif kind in ("int", "decimal") and text.lstrip("+-").isdigit():
            conditions.append({"property": path, "operator": "is", "values": [text]})
        elif kind == "uuid" and len(text) == 36:
            conditions.append({"property": path, "operator": "is", "values": [text.lower()]})
    return json.dumps({"logical": "or", "conditions": conditions}) if conditions else None


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def profiles_home(model_admin, request):
    """The index's "Profiles": the first workspace's profiles (each page can switch workspace)."""
    chosen = request.GET.get("workspace") or ""
    workspace = (Workspace.objects.filter(id=int(chosen)).first() if chosen.isdigit() else None) or \
        Workspace.objects.order_by("name", "id").first()
    if workspace is None:
        messages.info(request, "Create a workspace first: its profiles are listed here once its users are imported.")
        return HttpResponseRedirect(reverse("admin:pipelines_workspace_changelist"))
    return HttpResponseRedirect(reverse("admin:pipelines_workspace_profiles", args=[workspace.id]))


def profiles_page(model_admin, request, workspace_id):
    workspace = _workspace(model_admin, request, workspace_id)
    search = (request.GET.get("q") or "").strip()
    try:
        page = max(int(request.GET.get("page") or 1), 1)
    except ValueError:
        page = 1
    schema = parse_type(workspace.profile_schema)
    columns = profile_columns(schema)
    shown = [c.path for c in columns][:SHOWN_ATTRIBUTES]
    error, profiles, total = "", [], 0
    filter_text = _search_filter(workspace, search) if search else None
    if search and filter_text is None:
        error = "The workspace has no identifier to search in."
    else:
        try:
            found = profiles_list(workspace=workspace, properties=",".join(shown), filter_text=filter_text,
                                  order=None, first=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
            total = found["total"]
            for item in found["profiles"]:
                values = _flat(item["attributes"])
                profiles.append({"kpid": item["kpid"], "updated_at": _shown_time(item["updatedAt"]),
                                 "values": [_shown(values.get(path)) for path in shown],
                                 "url": reverse("admin:pipelines_workspace_profile",
                                                args=[workspace.id, item["kpid"]])})
        except KrenalisError as exc:
            error = error_text(exc)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    context = _context(model_admin, request, workspace, f"Profiles of “{workspace.name}”",
                       profiles=profiles, total=total, search=search, columns=shown, error=error, page=page,
                       pages=pages, searched_in=identifier_paths(workspace),
                       previous_page=page - 1 if page > 1 else None, next_page=page + 1 if page < pages else None,
                       latest=_latest(workspace))
    return TemplateResponse(request, "admin/pipelines/profiles/list.html", context)


def _shown_time(text: str | None) -> str:
    """An RFC 3339 time of the API as the pages show times: 2023-02-03 18:42:53 UTC."""
    return f"{text[:10]} {text[11:19]} UTC" if text and len(text) >= 19 else (text or "")


def _flat(attributes: dict, prefix: str = "") -> dict:
    """{"address": {"city": "X"}} -> {"address.city": "X"}: the leaf paths the columns are named by."""
    flat = {}
    for name, value in attributes.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        flat[f"{prefix}{name}"] = value
    return flat


def profile_page(model_admin, request, workspace_id, kpid):
    workspace = _workspace(model_admin, request, workspace_id)
    try:
        attributes = _flat(profile_attributes(workspace=workspace, kpid=kpid)["attributes"])
        items, total = profile_identities(workspace=workspace, kpid=kpid, first=0, limit=1000)
    except KrenalisError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        messages.error(request, error_text(exc))
        return HttpResponseRedirect(reverse("admin:pipelines_workspace_profiles", args=[workspace.id]))
    schema = parse_type(workspace.profile_schema)
    rows = [{"path": path, "type": type_label(prop.type), "value": _shown(attributes.get(path)),
             "unset": attributes.get(path) is None} for path, prop in leaf_paths(schema)]
    pipelines = {p.id: p for p in Pipeline.objects.filter(id__in={i["pipeline"] for i in items})}
    connections = {c.id: c for c in Connection.objects.filter(id__in={i["connection"] for i in items})}
    identities = []
    for item in items:
        pipeline, connection = pipelines.get(item["pipeline"]), connections.get(item["connection"])
        identities.append({
            "user_id": item["userId"], "updated_at": item["updatedAt"],
            "pipeline": pipeline.name if pipeline else f"pipeline {item['pipeline']}",
            "pipeline_url": reverse("admin:pipelines_pipeline_change", args=[pipeline.id]) if pipeline else "",
            "connection": connection.name if connection else f"connection {item['connection']}",
            "connection_url": reverse("admin:pipelines_connection_change", args=[connection.id]) if connection else "",
        })
    context = _context(model_admin, request, workspace, f"Profile {kpid}", kpid=kpid, attributes=rows,
                       identities=identities, identities_total=total)
    return TemplateResponse(request, "admin/pipelines/profiles/detail.html", context)


# --------------------------------------------------------------------------- identity resolution

def _latest(workspace: Workspace) -> dict:
    latest = identity_resolution_latest(workspace)
    return {**latest, "start": workspace.ir_start_time, "end": workspace.ir_end_time,
            "executing": ir_executing(workspace), "error": workspace.ir_error}


class ResolutionSettingsForm(forms.Form):
    """Identifiers in priority order (one chooser per rank), "resolve after each import", and a
    primary source per attribute (its values win over the most recent ones)."""

    run_on_batch_import = forms.BooleanField(required=False, label="Resolve after each import",
                                             help_text="Merge the imported identities into profiles as soon as "
                                                       "an import ends; otherwise only on “Resolve now”.")

    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        schema = parse_type(workspace.profile_schema)
        suitable = [(path, f"{path} ({type_label(prop.type)})") for path, prop in leaf_paths(schema)
                    if suitable_as_identifier(prop.type)]
        current = list(workspace.identifiers or [])
        self.identifier_fields = []
        for rank in range(max(len(suitable), 1)):
            name = f"identifier_{rank}"
            self.fields[name] = forms.ChoiceField(
                choices=[("", "—")] + suitable, required=False, label=f"Identifier {rank + 1}",
                initial=current[rank] if rank < len(current) else "")
            self.identifier_fields.append(name)
        sources = [("", "The most recent value")] + [
            (str(c.id), f"{c.name} first") for c in Connection.objects.filter(workspace=workspace, role="Source")]
        primary = workspace.primary_sources or {}
        self.source_fields = []
        for path, prop in leaf_paths(schema):
            name = f"source__{path}"
            self.fields[name] = forms.ChoiceField(choices=sources, required=False, label=path,
                                                  initial=str(primary.get(path, "")))
            self.source_fields.append((name, path))
        self.fields["run_on_batch_import"].initial = workspace.resolve_identities_on_batch_import

    def identifiers(self) -> list[str]:
        chosen = [self.cleaned_data.get(name) for name in self.identifier_fields]
        return [path for path in chosen if path]

    def primary_sources(self) -> dict:
        return {path: int(self.cleaned_data[name]) for name, path in self.source_fields
                if self.cleaned_data.get(name)}

    def save(self) -> bool:
        """Applies the settings through the services (the API's checks); False with the message
        on the form when they refuse."""
        try:
            identity_resolution_update_settings(workspace=self.workspace,
                                                run_on_batch_import=self.cleaned_data["run_on_batch_import"],
                                                identifiers=self.identifiers())
            sources = self.primary_sources() or None
            if sources != (self.workspace.primary_sources or None):
                # primary sources are part of the profile schema's settings (PUT /v1/profiles/schema)
                profile_schema_update(workspace=self.workspace, schema=self.workspace.profile_schema,
                                      primary_sources=sources)
        except KrenalisError as exc:
            self.add_error(None, error_text(exc))
            return False
        return True


def resolution_page(model_admin, request, workspace_id):
    workspace = _workspace(model_admin, request, workspace_id)
    can_change = model_admin.has_change_permission(request, workspace)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if "_resolve" in request.POST:
            try:
                identity_resolution_start(workspace=workspace)
                messages.success(request, "Identity resolution has started: the profiles follow in a moment.")
            except KrenalisError as exc:
                messages.error(request, f"Identity resolution could not start: {error_text(exc)}")
            return HttpResponseRedirect(request.path)
        form = ResolutionSettingsForm(request.POST, workspace=workspace)
        if form.is_valid() and form.save():
            messages.success(request, "The identity resolution settings were saved; they apply from the next "
                                      "resolution (“Resolve now” to apply them at once).")
            return HttpResponseRedirect(request.path)
    else:
        form = ResolutionSettingsForm(workspace=workspace)
    context = _context(model_admin, request, workspace, f"Identity resolution of “{workspace.name}”", form=form,
                       latest=_latest(workspace), now=timezone.now(),
                       identifier_rows=[form[name] for name in form.identifier_fields],
                       source_rows=[form[name] for name, _ in form.source_fields])
    return TemplateResponse(request, "admin/pipelines/profiles/resolution.html", context)


# --------------------------------------------------------------------------- profile schema

KINDS = ("string", "int", "float", "decimal", "boolean", "datetime", "date", "time", "year", "uuid", "ip", "json")
KEEP = "keep"  # a type the table cannot edit (object, array, map): kept as it is
BLANK_ROWS = 2


def schema_table_rows(schema_json) -> list[dict]:
    """The top-level properties of a profile schema as the table's rows."""
    rows = []
    for prop in (schema_json or {}).get("properties", []):
        t = prop.get("type") or {}
        kind = t.get("kind", "")
        rows.append({"name": prop.get("name", ""), "kind": kind if kind in KINDS else KEEP,
                     "length": _length_of(t), "description": prop.get("description", ""),
                     "original": prop.get("name", ""), "original_json": json.dumps(prop),
                     "kept_label": type_label(parse_type(t)) if kind not in KINDS else ""})
    return rows


def with_blank_rows(rows: list[dict]) -> list[dict]:
    """The rows with a name (or a property: a name emptied is kept, to show it), then a few blank
    ones to add properties without JavaScript."""
    kept = [row for row in rows if row["name"] or row["original"]]
    return kept + [{"name": "", "kind": "string", "length": "", "description": "", "original": "",
                    "original_json": "", "kept_label": ""} for _ in range(BLANK_ROWS)]


def _length_of(t: dict) -> str:
    kind = t.get("kind")
    if kind == "string":
        return str(t.get("maxLength") or t.get("maxBytes") or "")
    if kind in ("int", "float"):
        return str(t.get("bitSize") or "")
    if kind == "decimal":
        return f"{t.get('precision', '')},{t.get('scale', 0)}"
    return ""


def _type_of(kind: str, length: str, name: str) -> dict:
    length = length.strip()

    def number(text, what):
        if not text.isdigit():
            raise ValueError(f"the {what} of “{name}” must be a whole number, not “{text}”")
        return int(text)

    if kind == "string":
        return {"kind": "string", "maxLength": number(length, "length")} if length else {"kind": "string"}
    if kind in ("int", "float"):
        return {"kind": kind, "bitSize": number(length, "size in bits") if length else (32 if kind == "int" else 64)}
    if kind == "decimal":
        precision, _, scale = (length or "10,2").partition(",")
        return {"kind": "decimal", "precision": number(precision.strip(), "precision"),
                "scale": number(scale.strip() or "0", "scale")}
    return {"kind": kind}


def rows_from_post(post) -> tuple[list[dict], dict | None, dict, str]:
    """The posted table -> (its rows, to show again; the schema; rePaths; an error in the table,
    or ""). A row keeps what the table does not show of its property (flags, a string's pattern)
    while its kind and length do not change; a row with a new name renames its property."""
    columns = ("name", "kind", "length", "description", "original", "original_json")
    values = {c: post.getlist(f"prop_{c}") for c in columns}
    count = len(values["name"])
    rows, properties, re_paths, error = [], [], {}, ""
    for i in range(count):
        row = {c: (values[c][i] if i < len(values[c]) else "") for c in columns}
        row["name"] = row["name"].strip()
        original = json.loads(row["original_json"]) if row["original_json"] else None
        row["kept_label"] = type_label(parse_type(original["type"])) if original and row["kind"] == KEEP else ""
        rows.append(row)
        if not row["name"]:
            continue
        prop = dict(original or {"readOptional": True})
        prop["name"] = row["name"]
        if row["description"].strip():
            prop["description"] = row["description"].strip()
        else:
            prop.pop("description", None)
        try:
            if row["kind"] != KEEP:
                new_type = _type_of(row["kind"], row["length"], row["name"])
                old_type = (original or {}).get("type") or {}
                unchanged = old_type.get("kind") == row["kind"] and _length_of(old_type) == _length_of(new_type)
                prop["type"] = old_type if unchanged else new_type
        except ValueError as exc:
            error = error or str(exc)
        properties.append(prop)
        if row["original"] and row["original"] != row["name"]:
            re_paths[row["name"]] = row["original"]
    return rows, {"kind": "object", "properties": properties}, re_paths, error


def _moved_primary_sources(primary: dict | None, re_paths: dict, names: set[str]) -> dict | None:
    """The primary sources after the change: renamed with their property, dropped with it."""
    old_to_new = {old: new for new, old in re_paths.items()}
    moved = {}
    for path, connection_id in (primary or {}).items():
        top, dot, rest = path.partition(".")
        top = old_to_new.get(top, top if top not in re_paths else None)
        if top in names:
            moved[top + dot + rest] = connection_id
    return moved or None


def schema_page(model_admin, request, workspace_id):
    """The profile schema as a table of properties: edit, preview what the warehouse gets
    (`PUT /v1/profiles/schema/preview`), then apply (`PUT /v1/profiles/schema`)."""
    from .services.profiles import profile_schema_preview

    workspace = _workspace(model_admin, request, workspace_id)
    can_change = model_admin.has_change_permission(request, workspace)
    preview, error = None, ""
    rows = schema_table_rows(workspace.profile_schema)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        rows, schema, re_paths, error = rows_from_post(request.POST)
        if not error:
            names = {p["name"] for p in schema["properties"]}
            sources = _moved_primary_sources(workspace.primary_sources, re_paths, names)
            try:
                if "_apply" in request.POST:
                    profile_schema_update(workspace=workspace, schema=schema, primary_sources=sources,
                                          re_paths=re_paths or None)
                    messages.success(request, "The profile schema was changed; the warehouse columns follow it.")
                    return HttpResponseRedirect(request.path)
                preview = profile_schema_preview(workspace=workspace, schema=schema, primary_sources=sources,
                                                 re_paths=re_paths or None)
            except KrenalisError as exc:
                error = error_text(exc)
    rows = with_blank_rows(rows)
    context = _context(model_admin, request, workspace, f"Profile schema of “{workspace.name}”", rows=rows,
                       kinds=KINDS, keep=KEEP, preview=preview, error=error, can_change=can_change,
                       misaligned=list(workspace.alter_schema_misaligned or []))
    return TemplateResponse(request, "admin/pipelines/profiles/schema.html", context)
