"""The /v1 pipelines viewset: the seed's create, update and get, plus list, delete, status, schedule, and
starting a run."""
from rest_framework.decorators import action

from ..models import Pipeline
from ..selectors import pipeline_list, running_pipeline_ids
from ..services.pipelines import (PipelineInput, pipeline_create, pipeline_delete, pipeline_set_schedule,
                                  pipeline_set_status, pipeline_update)
from ..services.runs import run_start
from .openapi import operation, path_id as doc_id
from .platform import ApiViewSet, get_or_404, ok
from .serializers import (PipelineBody, PipelineCreateBody, PipelineScheduleBody, PipelineSerializer,
                          PipelineStatusBody, RunStartBody)

def pipelines_json(pipelines, running: set[int] | None = None) -> list[dict]:
    """`running`: the ids of those with a live run (read here when not given)."""
    pipelines = list(pipelines)
    if running is None:
        running = running_pipeline_ids([p.id for p in pipelines])
    return PipelineSerializer(pipelines, many=True, context={"running": running}).data


class PipelineViewSet(ApiViewSet):
    lookup_url_kwarg = "pipeline_id"
    view_names = {"list": "Pipelines", "retrieve": "Pipeline", "status": "Pipeline Status",
                  "schedule": "Pipeline Schedule", "runs": "Pipeline Runs"}

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        return get_or_404(Pipeline.objects.select_related("connection").filter(workspace=self.workspace),
                          pipeline_id, invalid='identifier "{value}" is not a valid pipeline identifier',
                          missing="pipeline {id} does not exist")

    @operation("listPipelines", "The pipelines of the workspace, by name", tag="Pipelines", ok="PipelineList")
    def list(self, request):
        return ok({"pipelines": pipelines_json(pipeline_list(workspace=self.workspace))})

    @operation("createPipeline", "Create a pipeline that imports users from a database", tag="Pipelines",
               request="PipelineCreate", ok="Created", errors=[422])
    def create(self, request):
        body = self.validated(PipelineCreateBody)
        pipeline = pipeline_create(workspace=self.workspace, connection_id=body.pop("connection_id"),
                                   target=body.pop("target"), event_type=body.pop("event_type"),
                                   data=PipelineInput(**body))
        return ok({"id": pipeline.id})

    @operation("getPipeline", "A pipeline", tag="Pipelines", ok="Pipeline",
               parameters=[doc_id("pipeline_id", "pipeline")])
    def retrieve(self, request, pipeline_id):
        return ok(pipelines_json([self.get_pipeline(pipeline_id)])[0])

    @operation("updatePipeline", "Replace a pipeline", tag="Pipelines", request="PipelineUpdate", errors=[422],
               parameters=[doc_id("pipeline_id", "pipeline")])
    def update(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        pipeline_update(pipeline=pipeline, data=PipelineInput(**self.validated(PipelineBody)))
        return ok()

    @operation("deletePipeline", "Delete a pipeline and its imported identities", tag="Pipelines",
               parameters=[doc_id("pipeline_id", "pipeline")])
    def destroy(self, request, pipeline_id):
        pipeline_delete(pipeline=self.get_pipeline(pipeline_id))
        return ok()

    @operation("setPipelineStatus", "Enable or disable a pipeline", tag="Pipelines", request="PipelineStatus",
               parameters=[doc_id("pipeline_id", "pipeline")])
    @action(detail=True, methods=["put"])
    def status(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        pipeline_set_status(pipeline=pipeline, **self.validated(PipelineStatusBody))
        return ok()

    @operation("setPipelineSchedule", "Set or clear the schedule period", tag="Pipelines",
               request="PipelineSchedule", parameters=[doc_id("pipeline_id", "pipeline")])
    @action(detail=True, methods=["put"])
    def schedule(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        pipeline_set_schedule(pipeline=pipeline, **self.validated(PipelineScheduleBody))
        return ok()

    @operation("startRun", "Start a run of the pipeline (it executes in the background)", tag="Runs",
               request="RunStart", ok="Created", errors=[422], parameters=[doc_id("pipeline_id", "pipeline")])
    @action(detail=True, methods=["post"])
    def runs(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        run = run_start(pipeline=pipeline, **self.validated(RunStartBody))
        return ok({"id": run.id})
