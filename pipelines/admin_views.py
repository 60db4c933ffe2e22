"""The admin console's own pages and JSON endpoints: the pipeline editor (preview, mapping check,
"Test on preview rows"), "Test connection", Run now, the run page with live progress, cancel, and
the chart of a pipeline's recent runs. Every action goes through the services the API uses."""
import datetime as dt
import html
import json
import re

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse

from .admin_forms import (FORMAT_SUGGESTIONS, JS_TEMPLATE, PY_TEMPLATE, ConnectionForm, PipelineForm,
                          error_text, out_schema_for, profile_rows, test_connection_settings, type_label)
from warehouse.columns import profile_columns

from .api.platform import client_gone
from .engine import RunStopped
from .steps import FINALIZE, RECEIVE, STEP_NAMES
from .errors import BadRequest, KrenalisError
from .lookback import format_lookback
from .models import Connection, Pipeline, Run, Workspace
from .services.pipelines import USER_ID_KINDS, enabled_languages, function_limits
from .services.preview import preview_query
from .services.profiles import attributes_of
from .services.runs import CANCELLED, dry_run_pipeline, run_cancel, run_start
from .timeformats import TimeFormatError, parse_updated_at
from .types import SchemaError, dumps_json, encode_value, leaf_paths, parse_type

PREVIEW_ROWS = 20
CHART_RUNS = 20
STEP_LABELS = {
    "Receive": "Read from the source",
    "InputValidation": "Input validation",
    "Filter": "Filter",
    "Consent": "Consent",
    "Transformation": "Transformation",
    "OutputValidation": "Output validation",
    "Finalize": "Written to the warehouse",
}
SHOWN_STEPS = ("Receive", "InputValidation", "Transformation", "OutputValidation", "Finalize")


def json_response(body, status: int = 200) -> HttpResponse:
    return HttpResponse(dumps_json(body), status=status, content_type="application/json")


def error_response(message: str, status: int = 400) -> HttpResponse:
    return json_response({"error": message}, status)


def _json_arg(request, name: str, default=None):
    raw = request.POST.get(name)
    if raw in (None, ""):
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest(f"{name} is not valid JSON") from None


# --------------------------------------------------------------------------- connections

def connection_test(model_admin, request):
    """POST the connection form's fields; answers {"ok", "message", "warnings"} without saving anything."""
    if request.method != "POST":
        return error_response("POST the connection settings", 405)
    instance = None
    object_id = request.POST.get("connection_id")
    if object_id:
        instance = get_object_or_404(Connection, id=object_id)
        if not model_admin.has_change_permission(request, instance):
            raise PermissionDenied
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = ConnectionForm(request.POST, instance=instance)
    # Only the settings fields matter here: validate them without applying the form.
    data = {}
    for name in ("connector", "host", "port", "username", "password", "database", "schema", "path", "sslmode",
                 "ssl_mode", "ssl_ca", "ssl_ca_clear"):
        field = form.fields.get(name)
        if field is None:
            continue
        try:
            value = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
            data[name] = field.clean(value if not field.disabled else field.initial)
        except Exception as exc:  # a port that is not a number
            messages_ = getattr(exc, "messages", [str(exc)])
            return json_response({"ok": False, "message": f"{name}: {' '.join(messages_)}"})
    connector = instance.connector if instance else data.get("connector")
    ok, message, warnings = test_connection_settings(connector, form.settings_from(data), saved=instance)
    return json_response({"ok": ok, "message": message, "warnings": warnings})


# --------------------------------------------------------------------------- pipeline editor

def _may_run_code(model_admin, request) -> bool:
    """Preview and "Test on preview rows" send the editor's SQL to the connection's database (with
    its stored credentials) and run its function: they need the permission to change pipelines
    (that pipeline's, when it is saved) or, on the page of a new pipeline, to add one. Viewing
    pipelines is not enough: who may not save a query may not run it either."""
    pipeline_id = request.POST.get("pipeline_id")
    if pipeline_id:
        pipeline = Pipeline.objects.filter(id=pipeline_id).first() if str(pipeline_id).isdigit() else None
        return pipeline is not None and model_admin.has_change_permission(request, pipeline)
    return model_admin.has_add_permission(request) or model_admin.has_change_permission(request)


def _connection_for(request) -> Connection:
    pipeline_id = request.POST.get("pipeline_id")
    if pipeline_id:
        pipeline = Pipeline.objects.select_related("connection__workspace").filter(id=pipeline_id).first()
        if pipeline is None:
            raise Http404("no such pipeline")
        return pipeline.connection
    connection_id = request.POST.get("connection")
    connection = Connection.objects.select_related("workspace").filter(id=connection_id or 0).first() \
        if str(connection_id or "").isdigit() else None
    if connection is None:
        raise BadRequest("choose a connection first")
    return connection


# Formats tried on a text column's previewed values to tell whether it holds times ("%s" is not:
# any number would pass).
DETECTED_TIME_FORMATS = tuple(f for f in FORMAT_SUGGESTIONS if f != "%s")


def time_format_of(values) -> str | None:
    """The first format in which every previewed value reads as a time, or None (no value, or
    one that is not a time: a first name is no update time)."""
    texts = [v for v in values if v is not None]
    if not texts or not all(isinstance(v, str) for v in texts):
        return None
    for fmt in DETECTED_TIME_FORMATS:
        try:
            for text in texts:
                parse_updated_at(text, "string", fmt)
        except (TimeFormatError, ValueError):
            continue
        return fmt
    return None


def _schema_rows(schema: dict | None, rows: list[dict] | None = None) -> list[dict]:
    """The schema's columns as the editor shows them, each with what it can be: a user ID (by its
    kind), an update time (a datetime or date; a text or JSON column only when the previewed
    `rows` hold times, with the format they are in)."""
    result = []
    for prop in (schema or {}).get("properties", []):
        kind = prop["type"]["kind"]
        time_format = None
        if kind in ("string", "json") and rows:
            time_format = time_format_of([row.get(prop["name"]) for row in rows])
        result.append({"name": prop["name"], "type": type_label(parse_type(prop["type"])), "kind": kind,
                       "nullable": bool(prop.get("nullable")), "userId": kind in USER_ID_KINDS,
                       "updatedAt": kind in ("datetime", "date") or time_format is not None,
                       "timeFormat": time_format})
    return result


def preview(model_admin, request):
    """The Preview button: up to 20 rows of the query, its derived schema and issues."""
    if request.method != "POST":
        return error_response("POST the query", 405)
    if not _may_run_code(model_admin, request):
        raise PermissionDenied
    try:
        connection = _connection_for(request)
        result = preview_query(connection=connection, query=request.POST.get("query", ""), limit=PREVIEW_ROWS,
                               client_gone=client_gone(request))
    except KrenalisError as exc:
        return error_response(error_text(exc), exc.status)
    columns = [p["name"] for p in (result["schema"] or {}).get("properties", [])]
    return json_response({"columns": columns, "rows": result["rows"], "schema": result["schema"],
                          "schemaRows": _schema_rows(result["schema"], result["rows"]),
                          "issues": result["issues"] or []})


def schema_rows(model_admin, request):
    """The table of an input schema typed by hand (kinds tell which columns can be chosen where)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        schema = _json_arg(request, "schema")
        if schema is not None:
            parse_type(schema)
    except (KrenalisError, SchemaError) as exc:
        return error_response(getattr(exc, "message", None) or str(exc))
    return json_response({"schemaRows": _schema_rows(schema)})


def check_mapping(model_admin, request):
    """Per-row compile errors of the mapping editor, checked as the user types."""
    from .admin_forms import mapping_row_errors

    if request.method != "POST":
        return error_response("POST the mapping", 405)
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        connection = _connection_for(request)
        mapping = _json_arg(request, "mapping", {})
        in_schema = _json_arg(request, "in_schema")
    except KrenalisError as exc:
        return error_response(error_text(exc), exc.status)
    if not isinstance(mapping, dict):
        return error_response("mapping must be an object")
    return json_response({"errors": mapping_row_errors(mapping, in_schema, connection.workspace)})


def _transformation_fields(request, in_type) -> dict:
    """The editor's transformation (mapping or function) as Pipeline fields, checked as a save checks
    it (BadRequest otherwise)."""
    from .transformers import FunctionCompileError, check_function

    if request.POST.get("transformation") == "function":
        language = request.POST.get("function_language", "")
        if language not in enabled_languages():
            raise BadRequest(f'transformation language "{language}" is not available')
        source = request.POST.get("function_source", "")
        try:
            check_function(language, source, function_limits())
        except FunctionCompileError as exc:
            raise BadRequest(str(exc)) from None
        return {"function_language": language, "function_source": source,
                "function_in_paths": [p.name for p in in_type.properties],
                "function_out_paths": _json_arg(request, "function_out_paths", []),
                "function_preserve_json": request.POST.get("function_preserve_json") in ("on", "true", "1")}
    mapping = _mapping_arg(request)
    if not mapping:
        raise BadRequest("map at least one property")
    return {"transformation_mapping": mapping}


def _mapping_arg(request) -> dict:
    return {k: v for k, v in (_json_arg(request, "mapping", {}) or {}).items() if isinstance(v, str) and v.strip()}


def test_transformation(model_admin, request):
    """"Test on preview rows": a dry run of the pipeline in the editor (saved or not) over the
    preview rows, through the run's own checks and steps: each row's output, or the step and
    message a run would record for it."""
    from .mapping import MappingError

    if request.method != "POST":
        return error_response("POST the pipeline form", 405)
    if not _may_run_code(model_admin, request):
        raise PermissionDenied
    try:
        connection = _connection_for(request)
        workspace = connection.workspace
        in_json = _json_arg(request, "in_schema")
        if not in_json:
            raise BadRequest("fill the input schema first (Preview, then “Use as input schema”)")
        try:
            in_type = parse_type(in_json)
        except SchemaError as exc:
            raise BadRequest(f"input schema is not valid: {exc}") from None
        function = request.POST.get("transformation") == "function"
        ticked = [p for p in (_json_arg(request, "function_out_paths", []) or [])] if function else []
        paths = ticked if function else list(_mapping_arg(request))
        user_id_column = request.POST.get("user_id_column", "")
        if not user_id_column:
            raise BadRequest("choose the user ID column first")
        transformation = _transformation_fields(request, in_type)

        def dry_run(paths):
            out_json = out_schema_for(workspace, paths) if paths else None
            if out_json is None:
                raise BadRequest("choose at least one profile property to set")
            fields = dict(transformation, function_out_paths=list(paths)) if function else transformation
            pipeline = Pipeline(workspace=workspace, connection=connection, query=request.POST.get("query", ""),
                                in_schema=in_json, out_schema=out_json, user_id_column=user_id_column,
                                updated_at_column=request.POST.get("updated_at_column", ""),
                                updated_at_format=request.POST.get("updated_at_format", ""), **fields)
            try:
                return dry_run_pipeline(pipeline, PREVIEW_ROWS), parse_type(out_json)
            except MappingError as exc:
                raise BadRequest(f"invalid mapping: {exc}") from None

        if function:
            paths = _returned_paths(dry_run, workspace, ticked)
        rows, out_type = dry_run(paths)
    except RunStopped as stop:
        return error_response(f"{STEP_LABELS[STEP_NAMES[stop.step]]}: {stop.message}", 422)
    except KrenalisError as exc:
        return error_response(error_text(exc), exc.status)
    columns = profile_columns(out_type)
    results = []
    for number, row in enumerate(rows, 1):
        item = {"row": number, "userId": row.user_id, "output": None, "values": None, "error": None, "step": None}
        if row.step is None:
            item["output"] = attributes_of(dict(zip((c.name for c in columns), row.values)), columns)
            item["values"] = {c.path: None if v is None else encode_value(v, c.type)
                              for c, v in zip(columns, row.values)}
        else:
            item["step"], item["error"] = STEP_NAMES[row.step], not_ticked_hint(row.message)
            item["stepLabel"] = STEP_LABELS[item["step"]]  # as the run page shows the run's errors
        results.append(item)
    answer = {"results": results, "properties": [c.path for c in columns],
              "failed": sum(1 for r in results if r["error"])}
    if function:
        answer["outPaths"] = paths
        answer["ticked"] = [p for p in paths if p not in ticked]
    return json_response(answer)


NOT_IN_OUTPUT = re.compile(r"property «([^»]+)» is not part of output schema")
DERIVE_ROUNDS = 10


def _returned_paths(dry_run, workspace, ticked: list[str]) -> list[str]:
    """The profile properties a function sets, derived from a test run rather than ticked by
    hand: those it returns with a value on the preview rows (a first run with every property),
    then each one a run refuses as "not part of output schema" (one it returns as null, say).
    The ticks kept are the user's, plus these."""
    leaves = [path for path, _ in leaf_paths(parse_type(workspace.profile_schema))]
    paths = list(ticked)
    rows, out_type = dry_run(leaves)
    columns = profile_columns(out_type)
    for row in rows:
        if row.step is None:
            for column, value in zip(columns, row.values):
                if value is not None and column.path not in paths:
                    paths.append(column.path)
    for _ in range(DERIVE_ROUNDS):
        if not paths:
            return leaves
        rows, _ = dry_run(paths)
        missing = {m.group(1) for row in rows if row.step is not None
                   for m in [NOT_IN_OUTPUT.search(row.message or "")] if m} & set(leaves) - set(paths)
        if not missing:
            break
        paths += sorted(missing)
    return [path for path in leaves if path in paths]


def not_ticked_hint(message: str) -> str:
    """The run's message for a property a function returns but is not ticked, with what to do."""
    found = NOT_IN_OUTPUT.search(message or "")
    if not found:
        return message
    return (f"{message} (or tick “Set by the function” for {found.group(1)} in the pipeline: "
            f"“Test on preview rows” ticks what the function returns)")


def pipeline_editor(model_admin, request, pipeline: Pipeline | None):
    """Add and change pages of a pipeline: one form, saved through the pipeline service."""
    add = pipeline is None
    if add and not model_admin.has_add_permission(request):
        raise PermissionDenied
    if not add and not model_admin.has_view_permission(request, pipeline):
        raise PermissionDenied
    can_change = add or model_admin.has_change_permission(request, pipeline)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = PipelineForm(request.POST, pipeline=pipeline)
        if form.is_valid():
            saved = form.save()
            if saved is not None:
                message = f"The pipeline “{saved.name}” was {'added' if add else 'changed'} successfully."
                if add:
                    model_admin.log_addition(request, saved, [{"added": {}}])
                else:
                    model_admin.log_change(request, saved, [{"changed": {"fields": ["pipeline"]}}])
                messages.success(request, message)
                if "_continue" in request.POST or add:
                    return HttpResponseRedirect(reverse("admin:pipelines_pipeline_change", args=[saved.id]))
                return HttpResponseRedirect(reverse("admin:pipelines_pipeline_changelist"))
    else:
        initial = None
        if add:
            initial = {"enabled": True, "transformation": "mapping", "function_language": "JavaScript",
                       "function_source": JS_TEMPLATE, "mapping": {}, "function_out_paths": [],
                       "query": "SELECT *\nFROM users\n"}
            connection_id = request.GET.get("connection")
            if connection_id and connection_id.isdigit():
                initial["connection"] = connection_id
        form = PipelineForm(initial=initial, pipeline=pipeline) if add else PipelineForm(pipeline=pipeline)

    workspaces = {}
    if add:
        for connection in Connection.objects.select_related("workspace"):
            workspaces[str(connection.id)] = connection.workspace_id
        profiles = {str(w.id): profile_rows(w) for w in Workspace.objects.all()}
    else:
        profiles = {str(pipeline.workspace_id): profile_rows(pipeline.workspace)}
    runs = list(pipeline.runs.order_by("-start_time")[:CHART_RUNS]) if pipeline else []
    schedule = schedule_facts(pipeline) if pipeline else {}
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Add pipeline" if add else f"Pipeline “{pipeline.name}”",
        "is_nav_sidebar_enabled": False,  # the editor needs the whole width
        "subtitle": None,
        "opts": Pipeline._meta,
        "add": add,
        "change": not add,
        "has_change_permission": can_change,
        "has_delete_permission": not add and model_admin.has_delete_permission(request, pipeline),
        "pipeline": pipeline,
        "form": form,
        "editor_config": {
            "pipelineId": pipeline.id if pipeline else None,
            "cursor": pipeline.cursor.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            if pipeline and pipeline.cursor else None,
            "connectionWorkspaces": workspaces,
            "profiles": profiles,
            "workspace": str(pipeline.workspace_id) if pipeline else None,
            "rowErrors": form.row_errors if hasattr(form, "row_errors") else {},
            "templates": {"JavaScript": JS_TEMPLATE, "Python": PY_TEMPLATE},
            "urls": {
                "preview": reverse("admin:pipelines_pipeline_preview"),
                "schema": reverse("admin:pipelines_pipeline_schema"),
                "checkMapping": reverse("admin:pipelines_pipeline_check_mapping"),
                "test": reverse("admin:pipelines_pipeline_test"),
            },
        },
        "format_suggestions": FORMAT_SUGGESTIONS,
        "runs": [run_summary(r) for r in runs[:5]],
        "chart": runs_chart_svg(list(reversed(runs))) if runs else "",
        "running": any(r.end_time is None for r in runs),
        "schedule": schedule,
        "cannot_run": cannot_run_reason(pipeline) if pipeline else "",
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/pipelines/pipeline/editor.html", context)


# --------------------------------------------------------------------------- runs

def cannot_run_reason(pipeline: Pipeline) -> str:
    """Why "Run now" is off, in words (the service's refusal names the pipeline's ID)."""
    if not pipeline.enabled:
        return "The pipeline is disabled: tick “Enabled” and save to run it."
    return ""


def schedule_facts(pipeline: Pipeline, now=None) -> dict:
    """The schedule as the pages show it: its period and its next run (None when it has none)."""
    from .admin_forms import PERIOD_NAMES
    from .services.scheduling import next_due

    period = PERIOD_NAMES.get(pipeline.schedule_period)
    next_run = None
    if period and pipeline.enabled:
        next_run = next_due(after=now or dt.datetime.now(dt.timezone.utc), schedule_start=pipeline.schedule_start,
                            schedule_period=pipeline.schedule_period)
    if not period:
        text = "Not scheduled: it runs when you run it."
    elif next_run is None:
        text = f"Every {period}, but no scheduled run while the pipeline is disabled."
    else:
        text = f"Every {period}; next run"
    return {"period": period, "next_run": next_run, "text": text,
            "next_run_utc": next_run.strftime("%Y-%m-%d %H:%M UTC") if next_run else ""}


def run_now(model_admin, request, pipeline_id):
    """POST: starts a run (mode full, incremental, or the pipeline's own) and opens its page."""
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:pipelines_pipeline_change", args=[pipeline_id]))
    pipeline = get_object_or_404(Pipeline.objects.select_related("workspace"), id=pipeline_id)
    if not model_admin.has_change_permission(request, pipeline):
        raise PermissionDenied
    mode = request.POST.get("mode") or request.GET.get("mode") or ""
    incremental = {"full": False, "incremental": True}.get(mode)
    try:
        run = run_start(pipeline=pipeline, incremental=incremental)
    except KrenalisError as exc:
        reason = cannot_run_reason(pipeline) if exc.code == "PipelineDisabled" else error_text(exc)
        messages.error(request, f"Pipeline “{pipeline.name}” could not start: {reason}")
        back = request.POST.get("next") or reverse("admin:pipelines_pipeline_change", args=[pipeline.id])
        return HttpResponseRedirect(back if back.startswith("/") else "/")
    kind = "An incremental" if run.incremental else "A full"
    messages.success(request, f"{kind} run of “{pipeline.name}” has started.")
    return HttpResponseRedirect(reverse("admin:pipelines_run_change", args=[run.id]))


def run_status(run: Run) -> str:
    if run.end_time is None:
        return "Running" if run.heartbeat_time else "Queued"
    if run.error == CANCELLED:
        return "Cancelled"
    if run.error:
        return "Failed"
    return "Succeeded"


def status_label(run: Run, status: str | None = None) -> str:
    """The status as a sentence: a run that succeeded with failed rows says how many."""
    status = status or run_status(run)
    failed_rows = sum(run.failed or ())
    if status == "Succeeded" and failed_rows:
        return f"Succeeded with {intcomma(failed_rows)} failed row{pluralize(failed_rows)}"
    return status


def _seconds(run: Run, now=None) -> float:
    end = run.end_time or now or dt.datetime.now(dt.timezone.utc)
    return max((end - run.start_time).total_seconds(), 0.0)


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2g} s"  # two significant digits: 0.25 s, 0.012 s (not 0.0 s twice on a chart axis)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def run_summary(run: Run) -> dict:
    passed, failed = list(run.passed or [0] * 7), list(run.failed or [0] * 7)
    status = run_status(run)
    return {
        "id": run.id,
        "pipeline": run.pipeline_id,
        "status": status,
        "statusLabel": status_label(run, status),
        "live": run.end_time is None,
        "incremental": run.incremental,
        "mode": "Incremental" if run.incremental else "Full",
        "startTime": run.start_time.isoformat(),
        "started": run.start_time.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "endTime": run.end_time.isoformat() if run.end_time else None,
        "duration": format_duration(_seconds(run)),
        "seconds": round(_seconds(run), 3),
        "rowsRead": passed[RECEIVE] + failed[RECEIVE],
        "imported": passed[FINALIZE],
        "failedRows": sum(failed),
        "steps": [{"name": name, "label": STEP_LABELS[name], "passed": passed[i], "failed": failed[i]}
                  for i, name in enumerate(STEP_NAMES) if name in SHOWN_STEPS],
        "error": run.error,
        "errorsTotal": run.errors_total,
        "url": reverse("admin:pipelines_run_change", args=[run.id]),
        "lookback": None if not run.lookback else {
            "window": format_lookback(run.lookback), "reread": run.reread, "cursorHeld": run.cursor_held,
            "note": run.in_flight_note},
    }


def run_page(model_admin, request, run_id):
    run = Run.objects.select_related("pipeline__connection", "pipeline__workspace").filter(id=run_id).first()
    if run is None:
        raise Http404("no such run")
    if not model_admin.has_view_permission(request, run):
        raise PermissionDenied
    errors = list(run.errors.order_by("seq")[:1000])
    # Notes are what the run says about itself (its fatal error, "unimported records not deleted
    # ..."): an error with neither a user ID nor a row. The others are the rows that failed.
    notes = [e for e in errors if e.user_id is None and e.row is None]
    row_errors = [e for e in errors if not (e.user_id is None and e.row is None)]
    in_names = [p.get("name") for p in (run.pipeline.in_schema or {}).get("properties", [])]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Run {run.id} of “{run.pipeline.name}”",
        "is_nav_sidebar_enabled": False,
        "subtitle": None,
        "opts": Run._meta,
        "run": run,
        "summary": run_summary(run),
        "summary_json": run_summary(run),
        "errors": [{"seq": e.seq, "step": STEP_LABELS[STEP_NAMES[e.step]], "user_id": e.user_id,
                    "message": not_ticked_hint(e.message), "row": _shown_row(e.row, in_names)}
                   for e in row_errors],
        "notes": [{"step": STEP_LABELS[STEP_NAMES[e.step]], "message": e.message} for e in notes],
        # notes are always among the kept errors unless more than 1,000 rows failed before them
        "errors_total": max(run.errors_total - len(notes), len(row_errors)),
        "has_change_permission": model_admin.has_change_permission(request, run),
        "progress_url": reverse("admin:pipelines_run_progress", args=[run.id]),
        "cancel_url": reverse("admin:pipelines_run_cancel", args=[run.id]),
    }
    return TemplateResponse(request, "admin/pipelines/run/detail.html", context)


def _shown_row(row: dict | None, order: list[str]) -> dict | None:
    """A failed row's position and values, as the errors table shows them: in the input schema's
    order (a JSON column of the metadata database may keep the keys in its own)."""
    if not row:
        return None
    read = row.get("values") or {}
    names = [n for n in order if n in read] + [n for n in read if n not in order]
    values = ", ".join(f"{name} = {'NULL' if read[name] is None else json.dumps(read[name], ensure_ascii=False)}"
                       for name in names)
    return {"position": row.get("position"), "values": values}


def run_progress(model_admin, request, run_id):
    run = get_object_or_404(Run, id=run_id)
    if not model_admin.has_view_permission(request, run):
        raise PermissionDenied
    return json_response(run_summary(run))


def run_cancel_view(model_admin, request, run_id):
    run = get_object_or_404(Run, id=run_id)
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:pipelines_run_change", args=[run.id]))
    if not model_admin.has_change_permission(request, run):
        raise PermissionDenied
    if run.end_time is None:
        run_cancel(run=run)
        messages.warning(request, f"Run {run.id} is being cancelled; it stops at its next batch of rows.")
    return HttpResponseRedirect(reverse("admin:pipelines_run_change", args=[run.id]))


# --------------------------------------------------------------------------- chart

def runs_chart_svg(runs: list[Run], width: int = 640, height: int = 180) -> str:
    """A small SVG chart of runs in time order: imported rows (green) and failed rows (red) as
    stacked bars on the left axis, duration as a line on the right axis."""
    if not runs:
        return ""
    left, right, top, bottom = 48, 56, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    summaries = [run_summary(r) for r in runs]
    most = max(max(s["imported"] + s["failedRows"] for s in summaries), 1)
    longest = max(max(s["seconds"] for s in summaries), 0.001)
    slot = plot_w / len(summaries)
    bar = max(min(slot * 0.6, 28), 3)
    esc = html.escape
    parts = [f'<svg class="kr-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="Recent runs">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>']
    for fraction in (0.5, 1.0):
        y = top + plot_h - plot_h * fraction
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="rows">'
                     f'{_short(most * fraction)}</text>')
        parts.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" class="secs">'
                     f'{esc(format_duration(longest * fraction))}</text>')
    points = []
    for i, s in enumerate(summaries):
        x = left + slot * i + (slot - bar) / 2
        ok_h = plot_h * s["imported"] / most
        bad_h = plot_h * s["failedRows"] / most
        label = (f'Run {s["id"]} ({s["status"].lower()}, {s["mode"].lower()}): {s["imported"]} imported, '
                 f'{s["failedRows"]} failed, {s["duration"]}')
        parts.append(f'<a href="{esc(s["url"])}"><g><title>{esc(label)}</title>')
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - ok_h:.1f}" width="{bar:.1f}" height="{ok_h:.1f}" '
                     f'class="imported"/>')
        if bad_h:
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - ok_h - bad_h:.1f}" width="{bar:.1f}" '
                         f'height="{bad_h:.1f}" class="failed"/>')
        if s["status"] in ("Failed", "Cancelled"):
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - ok_h - bad_h - 3:.1f}" '
                         f'text-anchor="middle" class="mark">!</text>')
        parts.append('</g></a>')
        points.append((x + bar / 2, top + plot_h - plot_h * s["seconds"] / longest))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" class="duration"/>')
    for x, y in points:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="duration"/>')
    first, last = runs[0].start_time, runs[-1].start_time
    parts.append(f'<text x="{left}" y="{height - 10}" class="rows">{esc(first.strftime("%b %d %H:%M"))}</text>')
    if len(runs) > 1:
        parts.append(f'<text x="{left + plot_w}" y="{height - 10}" text-anchor="end" class="rows">'
                     f'{esc(last.strftime("%b %d %H:%M"))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"

