"""Reads, beside the services' writes (selectors): what the API's lists and the admin's changelists
show, each in a fixed number of queries whatever the number of rows (related rows are fetched for
the whole page at once; tests pin the counts)."""
from django.db.models import Count, F, OuterRef, Prefetch, QuerySet, Subquery

from .models import Connection, Pipeline, Run, Workspace


def running_pipeline_ids(pipeline_ids) -> set[int]:
    """The pipelines, of these, that have a live run."""
    return set(Run.objects.filter(pipeline_id__in=pipeline_ids, end_time__isnull=True)
               .values_list("pipeline_id", flat=True))


def pipeline_list(*, workspace: Workspace, connection: Connection | None = None) -> QuerySet[Pipeline]:
    """The pipelines of a workspace (or of one of its connections), by name, with their connection."""
    pipelines = Pipeline.objects.filter(workspace=workspace).select_related("connection")
    if connection is not None:
        pipelines = pipelines.filter(connection=connection)
    return pipelines.order_by("name", "id")


def connection_list(*, workspace: Workspace) -> QuerySet[Connection]:
    """The connections of a workspace, by name, each with its pipelines (by name) in `pipelines.all()`."""
    return (Connection.objects.filter(workspace=workspace).order_by("name", "id")
            .prefetch_related(Prefetch("pipelines", queryset=Pipeline.objects.order_by("name", "id"))))


def run_list(*, workspace: Workspace, pipeline_id: int | None = None) -> QuerySet[Run]:
    """The runs of a workspace (or of one pipeline), newest first."""
    runs = Run.objects.filter(pipeline__workspace=workspace)
    if pipeline_id is not None:
        runs = runs.filter(pipeline_id=pipeline_id)
    return runs.order_by("-start_time", "-id")


# --------------------------------------------------------------------------- the admin's changelists

def workspaces_with_counts(workspaces: QuerySet[Workspace]) -> QuerySet[Workspace]:
    """Each workspace with `connection_total` and `pipeline_total`."""
    connections = Connection.objects.filter(workspace=OuterRef("pk")).order_by().values("workspace")
    pipelines = Pipeline.objects.filter(workspace=OuterRef("pk")).order_by().values("workspace")
    return workspaces.annotate(
        connection_total=Subquery(connections.annotate(n=Count("pk")).values("n")),
        pipeline_total=Subquery(pipelines.annotate(n=Count("pk")).values("n")))


def connections_with_pipelines(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Each connection with its workspace and, in `pipelines.all()`, its pipelines by name."""
    return connections.select_related("workspace").prefetch_related(
        Prefetch("pipelines", queryset=Pipeline.objects.order_by("name", "id")))


def pipelines_with_last_run(pipelines: QuerySet[Pipeline]) -> QuerySet[Pipeline]:
    """Each pipeline with `last_runs`: its newest run, or nothing."""
    newest = Run.objects.filter(pipeline=OuterRef("pipeline")).order_by("-start_time", "-id").values("id")[:1]
    last = Run.objects.annotate(newest=Subquery(newest)).filter(id=F("newest"))
    return pipelines.prefetch_related(Prefetch("runs", queryset=last, to_attr="last_runs"))
