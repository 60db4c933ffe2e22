"""Slow previews against a real gunicorn started with the shipped settings (gunicorn.conf.py, one
process here): they hold a few threads, never the server; beyond the limits they are refused at
once; a preview whose client goes away stops its query in the source."""
import http.client
import json
import socket
import sys

import pytest
from django.conf import settings

from tests import support
from tests.pipelines.services import create_connection, create_workspace
from tests.reliability import Child, free_port, wait_for

SLOW = "SELECT pg_sleep(120) IS NULL AS slept"


@pytest.fixture
def server(tmp_path):
    """gunicorn as docker-compose runs it, in one process, with previews limited to 3 at once (2 per
    workspace) and a preview timeout far beyond the test's waits."""
    port = free_port()
    env = support.child_env(settings.CELERY_BROKER_URL, WEB_CONCURRENCY=1, KRENALIS_PREVIEW_TIMEOUT=90,
                            KRENALIS_PREVIEW_CONCURRENCY=3, KRENALIS_PREVIEW_CONCURRENCY_PER_WORKSPACE=2)
    child = Child([sys.executable, "-m", "gunicorn", "krenalis.wsgi", "--config", "gunicorn.conf.py",
                   "--bind", f"127.0.0.1:{port}"], env, tmp_path / "gunicorn.log")
    try:
        assert wait_for(lambda: _answers(port), timeout=30), child.output()[-3000:]
        yield port, child
    finally:
        child.stop()


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/v1/connectors")
        conn.getresponse().read()
        return True
    except OSError:
        return False


def request(port: int, key: str, workspace: int, method: str, path: str, body=None):
    """(status, headers, JSON body) of one request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Krenalis-Workspace": str(workspace)}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    conn.close()
    return resp.status, resp.headers, payload


class SlowPreview:
    """A preview of a 120 s query sent on a raw socket, whose client goes away when told to."""

    def __init__(self, port: int, key: str, workspace: int, connection: int):
        body = json.dumps({"query": SLOW, "limit": 1}).encode()
        head = (f"POST /v1/connections/{connection}/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {key}\r\nKrenalis-Workspace: {workspace}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(head.encode() + body)

    def go_away(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.mark.django_db(transaction=True)
def test_slow_previews_are_limited_and_stop_with_their_client_while_the_server_answers(api, org_key, warehouse_db,
                                                                                      pg_source, server):
    port, child = server
    other_warehouse = support.create_pg_database("krenalis_test_wh")
    slow = []
    try:
        a, b = create_workspace(api, warehouse_db), create_workspace(api, other_warehouse)
        source_a, source_b = create_connection(a, pg_source), create_connection(b, pg_source)
        slow += [SlowPreview(port, org_key, a.id, source_a) for _ in range(2)]
        assert wait_for(lambda: support.busy_sessions(pg_source) == 2, timeout=30), child.output()[-3000:]

        # A third preview in the same workspace is refused at once; nothing reaches the source.
        status, headers, body = request(port, org_key, a.id, "POST", f"/v1/connections/{source_a}/query",
                                        {"query": SLOW, "limit": 1})
        assert (status, body, headers["Retry-After"]) == (429, {"error": {
            "code": "TooManyRequests", "message": "too many previews are running in this workspace (at most 2 at a "
                                                  "time); try again when one has ended"}}, "1")
        slow.append(SlowPreview(port, org_key, b.id, source_b))
        assert wait_for(lambda: support.busy_sessions(pg_source) == 3, timeout=30), child.output()[-3000:]
        # The process runs as many as it allows: another workspace's preview is refused too.
        status, headers, body = request(port, org_key, b.id, "POST", f"/v1/connections/{source_b}/query",
                                        {"query": "SELECT 1 AS one", "limit": 1})
        assert (status, body, headers["Retry-After"]) == (503, {"error": {
            "code": "ServiceUnavailable",
            "message": "too many previews are running on this server; try again in a moment"}}, "1")

        # Any other request answers meanwhile, from the same process.
        status, _, body = request(port, org_key, b.id, "GET", "/v1/connectors")
        assert status == 200 and "connectors" in body
        assert support.busy_sessions(pg_source) == 3  # the slow previews still run

        # Their clients go away: their queries stop in the source (long before the preview timeout).
        for preview in slow:
            preview.go_away()
        assert wait_for(lambda: support.busy_sessions(pg_source) == 0, timeout=10), child.output()[-3000:]
        status, _, body = request(port, org_key, a.id, "POST", f"/v1/connections/{source_a}/query",
                                  {"query": "SELECT 1 AS one", "limit": 1})
        assert (status, body["rows"]) == (200, [{"one": 1}])
    finally:
        for preview in slow:
            try:
                preview.go_away()
            except OSError:
                pass
        support.drop_pg_database(other_warehouse)
