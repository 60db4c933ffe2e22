"""Runs of pipelines: starting, reading and ending them."""
from ..models import Run


def running_pipeline_ids(pipeline_ids) -> set[int]:
    return set(Run.objects.filter(pipeline_id__in=pipeline_ids, end_time__isnull=True)
               .values_list("pipeline_id", flat=True))
