"""The /v1 pipelines viewset: the seed's create, update and get, plus list, delete, status, schedule, and
starting a run."""
from rest_framework.decorators import action

from ..models import Pipeline
from ..selectors import pipeline_list, running_pipeline_ids
from ..services.pipelines import (PipelineInput, pipeline_create, pipeline_delete, pipeline_set_schedule,
                                  pipeline_set_status, pipeline_update)
from ..services.runs import run_start
from . import fields
from .openapi import operation, path_id as doc_id
from .platform import ApiViewSet, get_or_404, ok
from .serializers import PipelineSerializer

def pipelines_json(pipelines, running: set[int] | None = None) -> list[dict]:
    """`running`: the ids of those with a live run (read here when not given)."""
    pipelines = list(pipelines)
    if running is None:
        running = running_pipeline_ids([p.id for p in pipelines])
    return PipelineSerializer(pipelines, many=True, context={"running": running}).data


def pipeline_input(body: dict) -> PipelineInput:
    """Reads the PipelineToSet fields of a create or update body (types only; rules are the service's)."""
    transformation = fields.obj(body, "transformation")
    return PipelineInput(
        name=fields.string(body, "name"),
        enabled=fields.boolean(body, "enabled"),
        query=fields.string(body, "query"),
        user_id_column=fields.string(body, "userIDColumn"),
        updated_at_column=fields.string(body, "updatedAtColumn"),
        updated_at_format=fields.string(body, "updatedAtFormat"),
        incremental=fields.boolean(body, "incremental"),
        updated_at_lookback=fields.nullable_string(body, "updatedAtLookback"),
        transformation=transformation,
        in_schema=body.get("inSchema"),
        out_schema=body.get("outSchema"),
        extra={key: body[key] for key in PipelineInput.FORBIDDEN_KEYS if key in body},
    )


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
        body = self.body()
        if body.get("formatSettings", ...) is None:  # on create (only), null counts as absent (§7.4)
            del body["formatSettings"]
        pipeline = pipeline_create(
            workspace=self.workspace,
            connection_id=body.get("connection"),
            target=body.get("target"),
            event_type=fields.string(body, "eventType"),
            data=pipeline_input(body),
        )
        return ok({"id": pipeline.id})

    @operation("getPipeline", "A pipeline", tag="Pipelines", ok="Pipeline",
               parameters=[doc_id("pipeline_id", "pipeline")])
    def retrieve(self, request, pipeline_id):
        return ok(pipelines_json([self.get_pipeline(pipeline_id)])[0])

    @operation("updatePipeline", "Replace a pipeline", tag="Pipelines", request="PipelineUpdate", errors=[422],
               parameters=[doc_id("pipeline_id", "pipeline")])
    def update(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        pipeline_update(pipeline=pipeline, data=pipeline_input(self.body()))
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
        pipeline_set_status(pipeline=pipeline, enabled=fields.boolean(self.body(), "enabled"))
        return ok()

    @operation("setPipelineSchedule", "Set or clear the schedule period", tag="Pipelines",
               request="PipelineSchedule", parameters=[doc_id("pipeline_id", "pipeline")])
    @action(detail=True, methods=["put"])
    def schedule(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        pipeline_set_schedule(pipeline=pipeline, period=self.body().get("period"))
        return ok()

    @operation("startRun", "Start a run of the pipeline (it executes in the background)", tag="Runs",
               request="RunStart", ok="Created", errors=[422], parameters=[doc_id("pipeline_id", "pipeline")])
    @action(detail=True, methods=["post"])
    def runs(self, request, pipeline_id):
        pipeline = self.get_pipeline(pipeline_id)
        run = run_start(pipeline=pipeline, incremental=fields.nullable_boolean(self.body(), "incremental"))
        return ok({"id": run.id})
