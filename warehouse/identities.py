"""Reading and deleting imported identities (the SQL is in the backends). Deleting records each
identity in the change log, in the same transaction, so that the next identity resolution (an
incremental one) rewrites the profiles they were in: delete identities only through these."""
from .backends.base import WarehouseBackend


def list_identities(backend: WarehouseBackend, *, connection_id: int | None = None,
                    pipeline_ids: list[int] | None = None, first: int = 0, limit: int = 100) -> tuple[list[dict], int]:
    """A page of identities, newest `_updated_at` first (ties: oldest `_pk` first), and the exact total.

    Each item is {"userId": str, "connection": int, "pipeline": int, "updatedAt": aware UTC datetime}.
    `connection_id` and `pipeline_ids` filter (None: no filter; an empty list matches nothing).
    """
    if first < 0:
        raise ValueError(f"first {first} is not valid")
    if limit < 1:
        raise ValueError(f"limit {limit} is not valid")
    return backend.list_identities(connection_id=connection_id, pipeline_ids=pipeline_ids, first=first, limit=limit)


def delete_pipeline_identities(backend: WarehouseBackend, pipeline_id: int) -> int:
    """Deletes every identity of the pipeline; returns how many."""
    return backend.delete_pipeline_identities(pipeline_id)


def delete_connection_identities(backend: WarehouseBackend, connection_id: int) -> int:
    """Deletes every identity imported through the connection; returns how many."""
    return backend.delete_connection_identities(connection_id)
