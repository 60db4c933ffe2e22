"""The /v1 run endpoints: start, list, read, cancel, errors; and identities of a connection."""
from ..errors import BadRequest
from ..models import Run
from ..selectors import run_list
from ..services.identities import connection_identities
from ..services.runs import run_cancel, run_errors, run_start
from . import fields
from .openapi import operation, path_id as doc_id, query_int
from .pipeline_views import PipelineMixin
from .platform import ApiView, get_or_404, ok, path_id
from .serializers import identity_json, run_json
from .views import ConnectionMixin


class PipelineRunsView(PipelineMixin, ApiView):
    @operation("startRun", "Start a run of the pipeline (it executes in the background)", tag="Runs",
               request="RunStart", ok="Created", errors=[422], parameters=[doc_id("pipeline_id", "pipeline")])
    def post(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        run = run_start(pipeline=pipeline, incremental=fields.nullable_boolean(self.body(), "incremental"))
        return ok({"id": run.id})


class RunMixin:
    def get_run(self, run_id: str) -> Run:
        return get_or_404(Run.objects.filter(pipeline__workspace=self.workspace), run_id,
                          invalid='identifier "{value}" is not a valid run identifier',
                          missing="pipeline run {id} does not exist")


class RunsView(ApiView):
    @operation("listRuns", "The runs of the workspace, newest first", tag="Runs", ok="RunList",
               parameters=[query_int("pipeline", "only the runs of this pipeline", 1, 2**31 - 1)])
    def get(self, request):
        pipeline = request.query_params.get("pipeline")
        if pipeline is not None:
            pipeline = path_id(pipeline, 'identifier "{value}" is not a valid pipeline identifier')
        return ok({"runs": [run_json(r) for r in run_list(workspace=self.workspace, pipeline_id=pipeline)]})


class RunView(RunMixin, ApiView):
    @operation("getRun", "A run", tag="Runs", ok="Run", parameters=[doc_id("run_id", "run")])
    def get(self, request, run_id):
        return ok(run_json(self.get_run(run_id)))


class RunCancelView(RunMixin, ApiView):
    body_required = ()

    @operation("cancelRun", "Cancel a run (it ends within seconds)", tag="Runs", parameters=[doc_id("run_id", "run")])
    def post(self, request, run_id):
        run_cancel(run=self.get_run(run_id))
        return ok()


class RunErrorsView(RunMixin, ApiView):
    @operation("listRunErrors", "The first 1,000 per-record errors of a run", tag="Runs", ok="RunErrors",
               parameters=[doc_id("run_id", "run")])
    def get(self, request, run_id):
        return ok(run_errors(run=self.get_run(run_id)))


def _paging(params, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} is not valid") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} {value} is not valid")
    return value


class ConnectionIdentitiesView(ConnectionMixin, ApiView):
    @operation("listConnectionIdentities", "The identities imported through a connection, newest first",
               tag="Connections", ok="Identities", errors=[422, 503],
               parameters=[doc_id("connection_id", "connection"), query_int("first", "offset", 0, 2**31 - 1),
                           query_int("limit", "page size", 1, 1000)])
    def get(self, request, connection_id):
        connection = self.get_connection(connection_id)
        first = _paging(request.query_params, "first", 0, 0, 2**31 - 1)
        limit = _paging(request.query_params, "limit", 100, 1, 1000)
        items, total = connection_identities(workspace=self.workspace, connection=connection, first=first,
                                             limit=limit)
        return ok({"identities": [identity_json(i) for i in items], "total": total})
