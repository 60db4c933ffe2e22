"""The query preview service's own limit: a query of at most 16,777,215 runes (reference §6). The API's
512,000-byte body cap stops longer queries first, so the limit is reached here, on a real PostgreSQL."""
import pytest

from pipelines.errors import BadRequest
from pipelines.models import Connection
from pipelines.services.preview import MAX_PREVIEW_QUERY_RUNES, preview_query


def test_the_query_limit_is_16777215_runes(connection_id):
    connection = Connection.objects.get(id=connection_id)
    head, tail = "SELECT 1 AS one /* ", " */"
    # Two-byte runes: the limit counts runes, not bytes.
    query = head + "é" * (MAX_PREVIEW_QUERY_RUNES - len(head) - len(tail)) + tail
    assert len(query) == 16_777_215
    assert preview_query(connection=connection, query=query, limit=1)["rows"] == [{"one": 1}]
    with pytest.raises(BadRequest) as info:
        preview_query(connection=connection, query=query + " ", limit=1)
    assert info.value.message == "query is longer than 16777215 runes"
