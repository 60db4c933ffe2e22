"""The /v1/pipelines/runs viewset: list, read, cancel, errors (a run starts on its pipeline)."""
from rest_framework.decorators import action

from ..models import Run
from ..selectors import run_list
from ..services.runs import run_cancel, run_errors
from .openapi import operation, path_id as doc_id
from .platform import ApiViewSet, get_or_404, ok
from .serializers import RunListQuery, RunSerializer


class RunViewSet(ApiViewSet):
    lookup_url_kwarg = "run_id"
    view_names = {"list": "Runs", "retrieve": "Run", "cancel": "Run Cancel", "errors": "Run Errors"}

    def get_run(self, run_id: str) -> Run:
        return get_or_404(Run.objects.filter(pipeline__workspace=self.workspace), run_id,
                          invalid='identifier "{value}" is not a valid run identifier',
                          missing="pipeline run {id} does not exist")

    @operation("listRuns", "The runs of the workspace, newest first", tag="Runs", ok="RunList", query=RunListQuery)
    def list(self, request):
        runs = run_list(workspace=self.workspace, **self.validated_query(RunListQuery))
        return ok({"runs": RunSerializer(runs, many=True).data})

    @operation("getRun", "A run", tag="Runs", ok="Run", parameters=[doc_id("run_id", "run")])
    def retrieve(self, request, run_id):
        return ok(RunSerializer(self.get_run(run_id)).data)

    @operation("cancelRun", "Cancel a run (it ends within seconds)", tag="Runs", parameters=[doc_id("run_id", "run")])
    @action(detail=True, methods=["post"], body_required=())
    def cancel(self, request, run_id):
        run_cancel(run=self.get_run(run_id))
        return ok()

    @operation("listRunErrors", "The first 1,000 per-record errors of a run", tag="Runs", ok="RunErrors",
               parameters=[doc_id("run_id", "run")])
    @action(detail=True)
    def errors(self, request, run_id):
        return ok(run_errors(run=self.get_run(run_id)))
