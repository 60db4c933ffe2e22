"""Fixtures shared by the test suite. Everything is real: PostgreSQL and MariaDB on this machine
(see README), Redis for Celery. Each fixture creates its own databases and drops them after."""
import os

import pytest
from django.conf import settings

from tests import missing_tools, support


def pytest_configure(config):
    missing_tools.register(config)  # tests skipped for a missing tool are named at the end


@pytest.fixture
def org_key(db):
    from pipelines.services.apikeys import api_key_create

    _, key = api_key_create(name="tests")
    return key


@pytest.fixture
def api(org_key):
    """Client with an organization-wide key and no workspace selected."""
    return support.Api(org_key)


@pytest.fixture
def warehouse_db():
    name = support.create_pg_database("krenalis_test_wh")
    yield name
    support.drop_pg_database(name)


@pytest.fixture
def workspace(api, warehouse_db):
    """A workspace created through the API, with a fresh PostgreSQL warehouse database."""
    resp = api.post("/v1/workspaces", support.workspace_body("Tests", warehouse_db))
    assert resp.status_code == 200, resp.content
    workspace_id = resp.json()["id"]
    return support.WorkspaceRef(workspace_id, warehouse_db, api.scoped(workspace_id))


@pytest.fixture
def pg_source():
    source = support.create_source("postgresql")
    yield source
    support.drop_source(source)


@pytest.fixture
def mysql_source():
    source = support.create_source("mysql")
    yield source
    support.drop_source(source)


@pytest.fixture(params=["postgresql", "mysql"])
def any_source(request):
    source = support.create_source(request.param)
    yield source
    support.drop_source(source)


@pytest.fixture
def connection_id(workspace, pg_source):
    resp = workspace.api.post("/v1/connections", support.connection_body(pg_source))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


@pytest.fixture(scope="session", autouse=True)
def tasks_stay_in_the_tests():
    """Tasks that no test reads (a run ending queues an identity resolution) go to a queue of this
    session, never to the default queue a real worker on the same Redis would take them from;
    processes the tests start (manage.py commands) inherit it."""
    queue = support.TaskQueue(settings.CELERY_BROKER_URL)
    previous = os.environ.get("KRENALIS_CELERY_QUEUE")
    os.environ["KRENALIS_CELERY_QUEUE"] = queue.name
    try:
        with queue.routed():
            yield
    finally:
        if previous is None:
            os.environ.pop("KRENALIS_CELERY_QUEUE")
        else:
            os.environ["KRENALIS_CELERY_QUEUE"] = previous
        queue.forget()


@pytest.fixture
def task_queue():
    """The tasks this test sends go to the real Redis broker, on a queue of the test's own that no
    worker consumes: the test reads what arrived there (task_queue.messages())."""
    queue = support.TaskQueue(settings.CELERY_BROKER_URL)
    try:
        with queue.routed():
            yield queue
    finally:
        queue.forget()


@pytest.fixture(scope="session")
def session_worker(django_db_setup, tmp_path_factory):
    """One real `celery worker` process for the session, on the test database and the configured
    Redis broker, consuming a queue of its own (no other worker on this Redis takes its tasks)."""
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs a Redis broker")
    queue = support.TaskQueue(settings.CELERY_BROKER_URL)
    process = support.start_worker(tmp_path_factory.mktemp("celery") / "worker.log", queue.name,
                                   settings.CELERY_BROKER_URL)
    try:
        yield support.Worker(queue, process)
    finally:
        process.stop()
        queue.forget()


@pytest.fixture
def celery_worker(transactional_db, session_worker):
    """The session's worker executes the tasks this test sends. It sees committed data only, hence
    a transactional test; a test waits for what the worker does with a bounded timeout."""
    session_worker.queue.purge()  # nothing left over from an earlier test
    with session_worker.queue.routed():
        yield session_worker


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory):
    from tests import tls

    return tls.make_certificates(tmp_path_factory.mktemp("tls"))


def _private_server(kind, certificates):
    from tests import tls

    server = tls.PrivateServer(kind, certificates)
    try:
        server.start()
    except FileNotFoundError as exc:  # the server is not installed here: what needs it is untested
        server.stop()
        missing_tools.skip_now(f"the {kind} server programs ({exc})", missing_tools.install_command(
            "postgresql" if kind == "postgresql" else "mariadb-server",
            "postgresql" if kind == "postgresql" else "mariadb"))
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def tls_postgresql(tls_certificates):
    """A private PostgreSQL server with TLS on (the shared one has it off), for the session."""
    server = _private_server("postgresql", tls_certificates)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_mariadb(tls_certificates):
    """A private MariaDB server with TLS (the shared one has none), for the session."""
    server = _private_server("mysql", tls_certificates)
    yield server
    server.stop()
