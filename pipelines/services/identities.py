"""Removing imported identities from a workspace's warehouse."""
import logging

from warehouse.backends import backend_for
from warehouse.identities import delete_connection_identities, delete_pipeline_identities

from ..errors import KrenalisError
from ..models import Workspace

log = logging.getLogger(__name__)


def delete_identities(workspace: Workspace, *, pipeline_ids=(), connection_id: int | None = None) -> None:
    """Removes imported identities from the warehouse once their pipeline or connection is gone.

    Identities whose pipeline no longer exists are never listed, so a warehouse that cannot be
    reached now leaves invisible rows behind, which is logged.
    """
    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    try:
        for pipeline_id in pipeline_ids:
            delete_pipeline_identities(backend, pipeline_id)
        if connection_id is not None:
            delete_connection_identities(backend, connection_id)
    except KrenalisError as exc:
        log.warning("identities of deleted pipelines %s / connection %s were not removed from the warehouse "
                    "of workspace %s: %s", list(pipeline_ids), connection_id, workspace.id, exc.message)
