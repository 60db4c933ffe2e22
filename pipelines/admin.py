"""The Django admin: the console where a data engineer sets up and watches pipelines.

It is a view over the same services the API uses (one validation, the same messages); secrets are
never shown back. Pages of its own (the pipeline editor, the run page, the JSON endpoints behind
their buttons) are in `admin_views`, forms in `admin_forms`.
"""
from functools import partial

from django.contrib import admin, messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from . import admin_profiles, admin_views
from .admin_forms import (SETTINGS_FIELDS, APIKeyForm, ConnectionForm, ThrottledLoginForm,
                          WorkspaceForm, stored_ca_certificate, type_label)
from .errors import KrenalisError
from .models import APIKey, Connection, Pipeline, Run, Workspace
from .selectors import connections_with_pipelines, pipelines_with_last_run, workspaces_with_counts
from .services.connections import connection_delete
from .services.pipelines import pipeline_delete
from .services.runs import run_start
from .services.workspaces import DEFAULT_PROFILE_SCHEMA, workspace_delete
from .types import leaf_paths, parse_type

admin.site.login_form = ThrottledLoginForm

CONSOLE_CSS = {"all": ("admin_console/console.css",)}


def _copy_into(target, source) -> None:
    """Makes the object the admin holds the one a service created (for its log and redirects)."""
    for field in type(source)._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


def schema_table(schema_json) -> str:
    """A profile or input schema as an HTML table: property path, type, flags, description."""
    if not schema_json:
        return "—"
    schema = parse_type(schema_json)
    rows = []
    for prop_path, prop in leaf_paths(schema):
        flags = ", ".join(flag for flag, on in (("nullable", prop.nullable), ("read optional", prop.read_optional))
                          if on)
        rows.append((prop_path, type_label(prop.type), flags or "—", prop.description or ""))
    body = format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html('<table class="kr-table kr-schema"><thead><tr><th>Property</th><th>Type</th><th>Flags</th>'
                       '<th>Description</th></tr></thead><tbody>{}</tbody></table>', body)


# --------------------------------------------------------------------------- workspaces

@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    form = WorkspaceForm
    list_display = ("name", "id", "warehouse_platform", "warehouse_mode", "connection_count", "pipeline_count",
                    "profile_links", "created_at")
    search_fields = ("name",)
    change_form_template = "admin/pipelines/workspace/change_form.html"

    class Media:
        css = CONSOLE_CSS
        js = ("admin_console/profile_schema.js",)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # the profile schema is a table of properties, under these (see the template)
            return (
                (None, {"fields": ("name",)}),
                ("Data warehouse", {"fields": ("platform", "host", "port", "username", "password", "database",
                                               "schema"),
                                    "description": "Where the workspace's unified users are stored."}),
            )
        return (
            (None, {"fields": ("name", "id", "created_at", "profile_links")}),
            ("Data warehouse", {"fields": ("warehouse_platform", "warehouse_mode")}),
            ("Profile schema", {"fields": ("profile_schema_table",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("id", "created_at", "warehouse_platform", "warehouse_mode", "profile_schema_table", "profile_links")

    @admin.display(description="Profile schema")
    def profile_schema_table(self, obj):
        return schema_table(obj.profile_schema)

    def get_queryset(self, request):
        return workspaces_with_counts(super().get_queryset(request))

    @admin.display(description="Connections", ordering="connection_total")
    def connection_count(self, obj):
        return obj.connection_total or 0

    @admin.display(description="Pipelines", ordering="pipeline_total")
    def pipeline_count(self, obj):
        return obj.pipeline_total or 0

    def get_urls(self):
        def view(func):
            return self.admin_site.admin_view(partial(func, self))

        return [
            path("profiles/", view(admin_profiles.profiles_home), name="pipelines_profiles"),
            path("<int:workspace_id>/profiles/", view(admin_profiles.profiles_page),
                 name="pipelines_workspace_profiles"),
            path("<int:workspace_id>/profiles/<str:kpid>/", view(admin_profiles.profile_page),
                 name="pipelines_workspace_profile"),
            path("<int:workspace_id>/identity-resolution/", view(admin_profiles.resolution_page),
                 name="pipelines_workspace_resolution"),
            path("<int:workspace_id>/profile-schema/", view(admin_profiles.schema_page),
                 name="pipelines_workspace_schema"),
        ] + super().get_urls()

    @admin.display(description="Unified users")
    def profile_links(self, obj):
        return format_html('<a href="{}">Profiles</a> · <a href="{}">Identity resolution</a>',
                           reverse("admin:pipelines_workspace_profiles", args=[obj.id]),
                           reverse("admin:pipelines_workspace_resolution", args=[obj.id]))

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST" and "prop_name" in request.POST:
            rows = admin_profiles.rows_from_post(request.POST)[0]
        else:
            rows = admin_profiles.schema_table_rows(DEFAULT_PROFILE_SCHEMA)
        extra_context = {**(extra_context or {}), "rows": admin_profiles.with_blank_rows(rows), "kinds": admin_profiles.KINDS,
                         "keep": admin_profiles.KEEP}
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            _copy_into(obj, form.created)
        # a change is applied by the form through the service

    def delete_model(self, request, obj):
        workspace_delete(workspace=obj)

    def delete_queryset(self, request, queryset):
        for workspace in queryset:
            workspace_delete(workspace=workspace)


# --------------------------------------------------------------------------- API keys

@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    form = APIKeyForm
    list_display = ("name", "hint", "workspace", "created_at")
    list_filter = ("workspace",)
    list_select_related = ("workspace",)

    class Media:
        css = CONSOLE_CSS

    def get_fields(self, request, obj=None):
        return ("name", "workspace") if obj is None else ("name", "hint", "workspace", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("name", "hint", "workspace", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            _copy_into(obj, form.created)
            request._krenalis_plain_key = form.plain_key

    def response_add(self, request, obj, post_url_continue=None):
        """The key is shown here, once: only its digest is kept."""
        context = {**self.admin_site.each_context(request), "title": "API key created", "subtitle": None,
                   "opts": self.opts, "key": obj, "plain_key": getattr(request, "_krenalis_plain_key", ""),
                   "changelist_url": reverse("admin:pipelines_apikey_changelist")}
        return TemplateResponse(request, "admin/pipelines/apikey/created.html", context)


# --------------------------------------------------------------------------- connections

@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ("name", "id", "connector", "workspace", "pipelines_links", "created_at")
    list_filter = ("connector", "workspace")
    search_fields = ("name",)
    change_form_template = "admin/pipelines/connection/change_form.html"

    class Media:
        css = CONSOLE_CSS
        js = ("admin_console/connection_form.js",)

    def get_fieldsets(self, request, obj=None):
        settings = ("connector", "host", "port", "username", "password", "database", "schema", "path", "sslmode",
                    "ssl_mode", "ssl_ca")
        if obj is not None and stored_ca_certificate(obj.settings):
            settings += ("ssl_ca_clear",)
        if obj is None:
            return ((None, {"fields": ("workspace", "name")}),
                    ("Settings", {"fields": settings, "classes": ("kr-settings",)}))
        if not self.has_change_permission(request, obj):  # who may only view sees the settings as text
            settings = ("connector", "settings_table")
        return ((None, {"fields": ("name", "id", "workspace_name", "created_at")}),
                ("Settings", {"fields": settings, "classes": ("kr-settings",)}),
                ("Pipelines", {"fields": ("pipelines_list",)}))

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("id", "workspace_name", "created_at", "pipelines_list")

    @admin.display(description="Settings")
    def settings_table(self, obj):
        """The stored settings, never the password."""
        rows = [(key, obj.settings[key]) for key in SETTINGS_FIELDS if key != "password" and key in obj.settings]
        body = format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", rows)
        return format_html('<table class="kr-table">{}</table>', body)

    @admin.display(description="Workspace")
    def workspace_name(self, obj):
        return str(obj.workspace)

    def get_queryset(self, request):
        return connections_with_pipelines(super().get_queryset(request))

    @admin.display(description="Pipelines")
    def pipelines_links(self, obj):
        return format_html_join(", ", '<a href="{}">{}</a>',
                                ((reverse("admin:pipelines_pipeline_change", args=[p.id]), p.name)
                                 for p in obj.pipelines.all())) or "—"

    @admin.display(description="Pipelines")
    def pipelines_list(self, obj):
        links = self.pipelines_links(obj)
        add = reverse("admin:pipelines_pipeline_add") + f"?connection={obj.id}"
        return format_html('{} &nbsp; <a class="button" href="{}">Add a pipeline on this connection</a>', links, add)

    def get_urls(self):
        return [path("test/", self.admin_site.admin_view(partial(admin_views.connection_test, self)),
                     name="pipelines_connection_test")] + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "test_url": reverse("admin:pipelines_connection_test")}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            _copy_into(obj, form.created)

    def delete_model(self, request, obj):
        connection_delete(connection=obj)

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            connection_delete(connection=connection)


# --------------------------------------------------------------------------- pipelines

def _run_action(modeladmin, request, queryset, incremental):
    started = 0
    for pipeline in queryset.select_related("workspace"):
        try:
            run_start(pipeline=pipeline, incremental=incremental)
            started += 1
        except KrenalisError as exc:
            reason = admin_views.cannot_run_reason(pipeline) if exc.code == "PipelineDisabled" else exc.message
            messages.error(request, f"“{pipeline.name}”: {reason}")
    if started:
        messages.success(request, f"Started {started} run{'s' if started != 1 else ''}.")


@admin.action(description="Run now (full)")
def run_full(modeladmin, request, queryset):
    _run_action(modeladmin, request, queryset, False)


@admin.action(description="Run now (incremental)")
def run_incremental(modeladmin, request, queryset):
    _run_action(modeladmin, request, queryset, True)


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "enabled", "schedule", "last_run", "run_buttons")
    list_filter = ("enabled", "incremental", "workspace")
    search_fields = ("name",)
    actions = (run_full, run_incremental)
    list_select_related = ("connection", "workspace")

    class Media:
        css = CONSOLE_CSS
        js = ("admin_console/local_times.js",)

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Pipelines", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Source", ordering="connection__name")
    def source(self, obj):
        return f"{obj.connection.name} · {obj.workspace.name}"

    @admin.display(description="Schedule")
    def schedule(self, obj):
        facts = admin_views.schedule_facts(obj)
        if not facts["period"]:
            return "—"
        if facts["next_run"] is None:
            return format_html('every {} <span class="kr-muted">(paused: disabled)</span>', facts["period"])
        return format_html('every {}, next <time class="kr-local" datetime="{}">{}</time>', facts["period"],
                           facts["next_run"].isoformat(), facts["next_run"].strftime("%H:%M UTC"))

    def get_queryset(self, request):
        return pipelines_with_last_run(super().get_queryset(request))

    @admin.display(description="Last run")
    def last_run(self, obj):
        run = obj.last_runs[0] if obj.last_runs else None
        if run is None:
            return "never"
        summary = admin_views.run_summary(run)
        return format_html('<a href="{}"><span class="kr-status kr-{}">{}</span></a> {} imported',
                           summary["url"], summary["status"].lower(), summary["statusLabel"],
                           intcomma(summary["imported"]))

    @admin.display(description="Run")
    def run_buttons(self, obj):
        url = reverse("admin:pipelines_pipeline_run", args=[obj.id])
        reason = admin_views.cannot_run_reason(obj)
        off = format_html(' disabled title="{}"', reason) if reason else ""
        buttons = format_html('<button type="submit" class="button kr-run" formaction="{}?mode=full"{}{}>Run now'
                              '</button>', url, off, "" if reason else mark_safe(' title="Read every row"'))
        if obj.updated_at_column:
            buttons += format_html(' <button type="submit" class="button kr-run" formaction="{}?mode=incremental"{}{}>'
                                   'Incremental</button>', url, off,
                                   "" if reason else mark_safe(' title="Read the rows changed since the last run"'))
        if reason:
            buttons += format_html('<div class="kr-muted kr-small">{}</div>', "Disabled: enable it to run it.")
        return buttons

    def get_urls(self):
        def view(func, *args):
            return self.admin_site.admin_view(partial(func, self, *args))

        return [
            path("preview/", view(admin_views.preview), name="pipelines_pipeline_preview"),
            path("schema/", view(admin_views.schema_rows), name="pipelines_pipeline_schema"),
            path("check-mapping/", view(admin_views.check_mapping), name="pipelines_pipeline_check_mapping"),
            path("test-transformation/", view(admin_views.test_transformation), name="pipelines_pipeline_test"),
            path("<int:pipeline_id>/run/", self.admin_site.admin_view(
                lambda request, pipeline_id: admin_views.run_now(self, request, pipeline_id)),
                name="pipelines_pipeline_run"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.pipeline_editor(self, request, None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pipeline = Pipeline.objects.select_related("workspace", "connection").filter(
            id=object_id if str(object_id).isdigit() else 0).first()
        if pipeline is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return admin_views.pipeline_editor(self, request, pipeline)

    def delete_model(self, request, obj):
        pipeline_delete(pipeline=obj)

    def delete_queryset(self, request, queryset):
        for pipeline in queryset:
            pipeline_delete(pipeline=pipeline)


# --------------------------------------------------------------------------- runs

class RunStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed or cancelled"))

    def queryset(self, request, queryset):
        if self.value() == "running":
            return queryset.filter(end_time__isnull=True)
        if self.value() == "succeeded":
            return queryset.filter(end_time__isnull=False, error="")
        if self.value() == "failed":
            return queryset.filter(end_time__isnull=False).exclude(error="")
        return queryset


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    # Narrow enough for a 1360 px screen beside the filters: the start time links to the run (whose
    # page shows its ID), the pipeline is its name, and the counts have one-word headers.
    list_display = ("started", "pipeline_name", "mode", "status", "duration", "rows_read", "imported",
                    "failed_rows")
    list_display_links = ("started",)
    list_filter = (RunStatusFilter, "incremental", "pipeline")
    list_select_related = ("pipeline",)

    class Media:
        css = CONSOLE_CSS

    def has_add_permission(self, request):
        return False  # runs are started from a pipeline ("Run now")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Runs", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Started", ordering="start_time")
    def started(self, obj):
        return admin_views.run_summary(obj)["started"]

    @admin.display(description="Pipeline", ordering="pipeline__name")
    def pipeline_name(self, obj):
        return obj.pipeline.name

    @admin.display(description="Mode")
    def mode(self, obj):
        return "incremental" if obj.incremental else "full"

    @admin.display(description="Status")
    def status(self, obj):
        status = admin_views.run_status(obj)
        return format_html('<span class="kr-status kr-{}">{}</span>', status.lower(),
                           admin_views.status_label(obj, status))

    @admin.display(description="Duration")
    def duration(self, obj):
        return admin_views.run_summary(obj)["duration"]

    @admin.display(description="Read")
    def rows_read(self, obj):
        return intcomma(admin_views.run_summary(obj)["rowsRead"])

    @admin.display(description="Imported")
    def imported(self, obj):
        return intcomma(admin_views.run_summary(obj)["imported"])

    @admin.display(description="Failed")
    def failed_rows(self, obj):
        return intcomma(admin_views.run_summary(obj)["failedRows"])

    def get_urls(self):
        return [
            path("<int:run_id>/progress/", self.admin_site.admin_view(
                lambda request, run_id: admin_views.run_progress(self, request, run_id)),
                name="pipelines_run_progress"),
            path("<int:run_id>/cancel/", self.admin_site.admin_view(
                lambda request, run_id: admin_views.run_cancel_view(self, request, run_id)),
                name="pipelines_run_cancel"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return admin_views.run_page(self, request, int(object_id))

