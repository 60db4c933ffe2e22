"""The query preview service's own limits: a query of at most 16,777,215 runes (reference §6; the API's
512,000-byte body cap stops longer queries first, so the limit is reached here), and the memory a
preview holds, on a real PostgreSQL."""
import tracemalloc

import pytest

from pipelines.errors import BadRequest
from pipelines.models import Connection
from pipelines.services.preview import MAX_PREVIEW_QUERY_RUNES, TRUNCATED, preview_query


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


def test_a_preview_of_huge_values_reads_them_a_row_at_a_time(connection_id):
    """10 rows of 8 MiB: the preview reads them one by one (the batch size follows the weight of the
    rows read) and keeps 64 KiB of each, so the process never holds the 80 MiB they weigh together."""
    connection = Connection.objects.get(id=connection_id)
    query = "SELECT i AS id, repeat('x', 8 * 1024 * 1024) AS big FROM generate_series(1, 10) AS i"
    tracemalloc.start()
    try:
        result = preview_query(connection=connection, query=query, limit=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, f"peak of {peak:,} bytes"  # a row or two (and the driver's copy), not ten
    assert [len(row["big"]) for row in result["rows"]] == [65536 - len(TRUNCATED.encode()) + len(TRUNCATED)] * 10
