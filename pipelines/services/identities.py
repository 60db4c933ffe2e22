"""The identities a workspace's warehouse holds: those imported through a connection, and removing
them when what imported them is deleted.

Deleting a pipeline, a connection or a workspace removes from the warehouse the identities it
imported, once the deletion is committed; the profiles follow at the next identity resolution,
which is queued at once when the workspace resolves on batch imports (as after an import). A
warehouse that is not in Normal mode, or cannot be reached, is left as it is (logged): the next
resolution removes the identities of pipelines that no longer exist before it merges.
"""
import logging

from django.db import transaction

from warehouse.backends import backend_for
from warehouse.identities import delete_connection_identities, delete_pipeline_identities, list_identities

from ..errors import KrenalisError
from ..models import Connection, Workspace

log = logging.getLogger(__name__)


def connection_identities(*, workspace: Workspace, connection: Connection, first: int,
                          limit: int) -> tuple[list[dict], int]:
    """A page of the identities imported through `connection` (by any of its pipelines) into the
    warehouse of its `workspace`, newest first, and how many there are."""
    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    pipeline_ids = list(connection.pipelines.values_list("id", flat=True))
    return list_identities(backend, connection_id=connection.id, pipeline_ids=pipeline_ids, first=first, limit=limit)


def remove_identities(workspace: Workspace, *, pipeline_ids=(), connection_id: int | None = None) -> None:
    """Once the current transaction commits: deletes the identities of these (deleted) pipelines
    and those imported through this (deleted) connection, then queues a resolution."""
    pipeline_ids = [int(p) for p in pipeline_ids]
    transaction.on_commit(lambda: _remove(workspace, pipeline_ids, connection_id))


def _remove(workspace: Workspace, pipeline_ids: list[int], connection_id: int | None) -> int:
    what = f"pipelines {pipeline_ids} / connection {connection_id} of workspace {workspace.id}"
    if workspace.warehouse_mode != "Normal":
        log.warning("identities of deleted %s are left to the next identity resolution: the data warehouse "
                    "is in %s mode", what, workspace.warehouse_mode.lower())
        return 0
    deleted = 0
    try:
        backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
        for pipeline_id in pipeline_ids:
            deleted += delete_pipeline_identities(backend, pipeline_id)
        if connection_id is not None:
            deleted += delete_connection_identities(backend, connection_id)
    except KrenalisError as exc:
        log.warning("identities of deleted %s were not removed from the warehouse (the next identity "
                    "resolution removes them): %s", what, exc.message)
        return 0
    except Exception:
        log.exception("identities of deleted %s were not removed from the warehouse", what)
        return 0
    if deleted:
        from .identity_resolution import resolution_after_import

        resolution_after_import(workspace.id)
    return deleted


def clear_deleted_workspace(workspace: Workspace) -> None:
    """What a deleted workspace imported leaves its warehouse: a warehouse file the product
    manages is removed; in a warehouse the user owns, the identities go and the profiles are
    resolved again (so emptied), and its tables stay: nothing that is not ours is dropped.
    `workspace` is the deleted one, with its id and settings still in memory."""
    from warehouse.resolution import ResolutionBusy

    from .identity_resolution import resolve_workspace

    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    if backend.settings.get("managed"):
        backend.destroy()
        return
    if workspace.warehouse_mode != "Normal":
        log.warning("the data warehouse of deleted workspace %s is in %s mode: its identities and profiles "
                    "are left in it", workspace.id, workspace.warehouse_mode.lower())
        return
    try:
        resolve_workspace(workspace)  # its pipelines are gone: every identity they imported goes first
    except (KrenalisError, ResolutionBusy) as exc:
        log.warning("the identities and profiles of deleted workspace %s were not removed from its warehouse: %s",
                    workspace.id, getattr(exc, "message", None) or exc)
    except Exception:
        log.exception("the identities and profiles of deleted workspace %s were not removed from its warehouse",
                      workspace.id)


def forget_deleted_pipeline(workspace: Workspace, pipeline_id: int) -> None:
    """Called by a run that ended after its pipeline was deleted, once it can write no more: what
    it wrote after the deletion removed the pipeline's identities goes too."""
    if Workspace.objects.filter(id=workspace.id).exists():
        if _remove(workspace, [pipeline_id], None):
            log.info("identities that run of deleted pipeline %s wrote after its deletion were removed", pipeline_id)
    else:
        clear_deleted_workspace(workspace)
