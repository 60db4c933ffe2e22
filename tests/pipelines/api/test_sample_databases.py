"""Slices of public sample databases nobody here wrote (tests/sample_databases/, with their licences):
Sakila's address, customer and staff on MariaDB, Pagila's customer on PostgreSQL. Each is imported end
to end through the API (connection, preview, pipeline, run) and every value is compared, row by row,
with what the source database holds."""
import binascii
import datetime as dt
import secrets
from pathlib import Path

import MySQLdb
import pytest
from MySQLdb.constants import CLIENT

from pipelines.services.runs import run_execute
from tests import support

SAMPLES = Path(__file__).resolve().parents[2] / "sample_databases"
UTC = dt.timezone.utc

PROFILE_SCHEMA = {"kind": "object", "properties": [
    {"name": name, "type": type_, "readOptional": True} for name, type_ in [
        ("email", {"kind": "string", "maxLength": 254}),
        ("first_name", {"kind": "string", "maxLength": 100}),
        ("last_name", {"kind": "string", "maxLength": 100}),
        ("store", {"kind": "int", "bitSize": 16}),
        ("active", {"kind": "boolean"}),
        ("status", {"kind": "int", "bitSize": 32}),
        ("signed_up_at", {"kind": "datetime"}),
        ("signed_up_on", {"kind": "date"}),
        ("address", {"kind": "string"}),
        ("address2", {"kind": "string"}),
        ("district", {"kind": "string"}),
        ("postal_code", {"kind": "string"}),
        ("phone", {"kind": "string"}),
        ("address_id", {"kind": "int", "bitSize": 32}),
        ("picture", {"kind": "string"}),
    ]]}


@pytest.fixture
def ws(api, warehouse_db):
    resp = api.post("/v1/workspaces", support.workspace_body("Samples", warehouse_db, PROFILE_SCHEMA))
    assert resp.status_code == 200, resp.content
    return support.WorkspaceRef(resp.json()["id"], warehouse_db, api.scoped(resp.json()["id"]))


@pytest.fixture
def sakila():
    """The Sakila slice in a MariaDB database of its own, read by a user that may only SELECT."""
    suffix = secrets.token_hex(4)
    dbname, user, password = f"krenalis_test_sakila_{suffix}", f"kt_{suffix}", "pw-" + secrets.token_hex(8)
    admin = support._mysql()
    cur = admin.cursor()
    cur.execute(f"CREATE DATABASE `{dbname}` DEFAULT CHARSET utf8mb4")
    cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    cur.execute(f"GRANT SELECT ON `{dbname}`.* TO '{user}'@'%'")
    admin.close()
    loader = MySQLdb.connect(**support.MYSQL, db=dbname, charset="utf8mb4", autocommit=True,
                             client_flag=CLIENT.MULTI_STATEMENTS)
    cur = loader.cursor()
    cur.execute((SAMPLES / "sakila.mariadb.sql").read_text(encoding="utf-8"))
    while cur.nextset():
        pass
    loader.close()
    source = support.Source("mysql", dbname, {"host": support.MYSQL["host"], "port": support.MYSQL["port"],
                                              "username": user, "password": password, "database": dbname})
    yield source
    support.drop_source(source)


@pytest.fixture
def pagila():
    dbname = support.create_pg_database("krenalis_test_pagila")
    conn = support.pg_connect(dbname)
    with conn.cursor() as cur:
        cur.execute((SAMPLES / "pagila.postgresql.sql").read_text(encoding="utf-8"))
    conn.close()
    source = support.Source("postgresql", dbname, {"host": support.PG["host"], "port": support.PG["port"],
                                                   "username": support.PG["user"], "password": "",
                                                   "database": dbname, "schema": "public"})
    yield source
    support.drop_pg_database(dbname)


def source_rows(source: support.Source, sql: str) -> list[tuple]:
    """Rows read straight from the source, datetimes in UTC (the MariaDB session's time zone)."""
    if source.kind == "postgresql":
        return source.execute(sql)
    conn = MySQLdb.connect(**support.MYSQL, db=source.dbname, charset="utf8mb4", init_command="SET time_zone = '+00:00'")
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def warehouse_rows(ws, pipeline_id: int, columns: str) -> dict:
    conn = support.pg_connect(ws.warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT _identity_id, {columns} FROM krenalis_identities WHERE _pipeline = %s",
                        (pipeline_id,))
            return {row[0]: row[1:] for row in cur.fetchall()}
    finally:
        conn.close()


def preview(ws, connection_id: int, query: str, limit: int = 20) -> dict:
    resp = ws.api.post(f"/v1/connections/{connection_id}/query", {"query": query, "limit": limit})
    assert resp.status_code == 200, resp.content
    return resp.json()


def create_pipeline(ws, connection_id: int, query: str, mapping: dict, *, user_id: str, updated_at: str) -> int:
    """A pipeline as a user builds it: inSchema from the preview, outSchema from the profile schema."""
    in_schema = preview(ws, connection_id, query, limit=0)["schema"]
    out_schema = {"kind": "object", "properties": [p for p in ws.api.get("/v1/profiles/schema").json()["properties"]
                                                   if p["name"] in mapping]}
    resp = ws.api.post("/v1/pipelines", {
        "name": "Sample", "connection": connection_id, "target": "User", "enabled": True, "query": query,
        "userIDColumn": user_id, "updatedAtColumn": updated_at, "incremental": False,
        "transformation": {"mapping": mapping}, "inSchema": in_schema, "outSchema": out_schema})
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


def run(ws, pipeline_id: int) -> dict:
    """A run started through the API, executed here (the worker's part), read back through the API."""
    resp = ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {})
    assert resp.status_code == 200, resp.content
    run_id = resp.json()["id"]
    run_execute(run_id=run_id)
    return ws.api.get(f"/v1/pipelines/runs/{run_id}").json()


def all_passed(n: int) -> tuple[list[int], list[int]]:
    return [n, n, 0, 0, n, n, n], [0] * 7


def connect(ws, source: support.Source) -> int:
    resp = ws.api.post("/v1/connections", support.connection_body(source, name=source.dbname[:60]))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


SAKILA_CUSTOMERS = (
    "SELECT c.customer_id, c.store_id, c.first_name, c.last_name, c.email, c.active, c.create_date, c.last_update, "
    "a.address, a.address2, a.district, a.postal_code, a.phone "
    "FROM customer c JOIN address a ON a.address_id = c.address_id "
    "WHERE ${updated_at} IS NULL OR c.last_update >= ${updated_at}")


def test_sakila_customers_and_their_addresses(ws, sakila):
    cid = connect(ws, sakila)
    pid = create_pipeline(ws, cid, SAKILA_CUSTOMERS, {
        "email": "email", "first_name": "first_name", "last_name": "last_name", "store": "store_id",
        "active": "active", "signed_up_at": "create_date", "address": "address", "address2": "address2",
        "district": "district", "postal_code": "postal_code", "phone": "phone"},
        user_id="customer_id", updated_at="last_update")
    ended = run(ws, pid)
    assert (ended["error"], ended["passed"], ended["failed"]) == ("", *all_passed(40))

    expected = {}
    for (customer_id, store, first, last, email, active, created, updated, address, address2, district, postal,
         phone) in source_rows(sakila, SAKILA_CUSTOMERS.replace("${updated_at}", "NULL")):
        expected[str(customer_id)] = (email, first, last, store, bool(active), created, address, address2, district,
                                      postal, phone, updated)
    assert len(expected) == 40 and sum(1 for row in expected.values() if not row[4]) == 1  # customer 16
    assert expected["24"][8] == "Córdoba"  # address 28, utf8mb4
    assert warehouse_rows(ws, pid, "email, first_name, last_name, store, active, signed_up_at, address, address2, "
                                   "district, postal_code, phone, _updated_at") == expected
    listed = ws.api.get(f"/v1/connections/{cid}/identities?limit=100").json()
    assert listed["total"] == 40


def test_sakila_staff_and_the_png_picture(ws, sakila):
    """The BLOB: the preview shows the row without its picture and says why (it answered 500); a run
    fails Mike's row at InputValidation and imports Jon's; HEX(picture) imports the PNG whole."""
    cid = connect(ws, sakila)
    body = preview(ws, cid, "SELECT staff_id, picture FROM staff ORDER BY staff_id")
    assert body["rows"] == [{"staff_id": 1}, {"staff_id": 2, "picture": None}]
    assert body["issues"] == ["Row 1: property 'picture' does not contain valid UTF-8 characters, so the value is "
                              "not shown; a run that reads this column fails the row."]
    assert body["schema"]["properties"][1] == {"name": "picture", "type": {"kind": "string"}, "nullable": True}

    query = "SELECT staff_id, email, first_name, last_name, picture, last_update FROM staff"
    mapping = {"email": "email", "first_name": "first_name", "last_name": "last_name", "picture": "picture"}
    pid = create_pipeline(ws, cid, query, mapping, user_id="staff_id", updated_at="last_update")
    ended = run(ws, pid)
    assert (ended["error"], ended["passed"], ended["failed"]) == ("", [2, 1, 0, 0, 1, 1, 1], [0, 1, 0, 0, 0, 0, 0])
    assert ws.api.get(f"/v1/pipelines/runs/{ended['id']}/errors").json() == {"errors": [
        {"step": "InputValidation", "userId": "1",
         "message": "property 'picture' does not contain valid UTF-8 characters"}], "total": 1}
    assert warehouse_rows(ws, pid, "email, first_name, last_name, picture") == {
        "2": ("Jon.Stephens@sakilastaff.com", "Jon", "Stephens", None)}

    query = "SELECT staff_id, email, first_name, last_name, HEX(picture) AS picture, last_update FROM staff"
    pid = create_pipeline(ws, cid, query, mapping, user_id="staff_id", updated_at="last_update")
    ended = run(ws, pid)
    assert (ended["error"], ended["passed"], ended["failed"]) == ("", *all_passed(2))
    (png,), = source_rows(sakila, "SELECT picture FROM staff WHERE staff_id = 1")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82") and len(png) == 36365
    rows = warehouse_rows(ws, pid, "email, first_name, last_name, picture")
    assert rows["2"] == ("Jon.Stephens@sakilastaff.com", "Jon", "Stephens", None)
    assert rows["1"][:3] == ("Mike.Hillyer@sakilastaff.com", "Mike", "Hillyer")
    assert binascii.unhexlify(rows["1"][3]) == png


PAGILA_CUSTOMERS = ("SELECT customer_id, store_id, first_name, last_name, email, address_id, activebool, create_date, "
                    "last_update, active FROM customer "
                    "WHERE last_update >= COALESCE(${updated_at}, '-infinity'::timestamp)")


def test_pagila_customers(ws, pagila):
    cid = connect(ws, pagila)
    pid = create_pipeline(ws, cid, PAGILA_CUSTOMERS, {
        "email": "email", "first_name": "first_name", "last_name": "last_name", "store": "store_id",
        "address_id": "address_id", "active": "activebool", "signed_up_on": "create_date", "status": "active"},
        user_id="customer_id", updated_at="last_update")
    ended = run(ws, pid)
    assert (ended["error"], ended["passed"], ended["failed"]) == ("", *all_passed(40))
    expected = {str(customer_id): (email, first, last, store, address_id, activebool, created, active, updated)
                for (customer_id, store, first, last, email, address_id, activebool, created, updated, active)
                in source_rows(pagila, PAGILA_CUSTOMERS.replace("${updated_at}", "NULL"))}
    assert len(expected) == 40 and expected["16"][-2] == 0 and expected["1"][0] == "MARY.SMITH@sakilacustomer.org"
    assert warehouse_rows(ws, pid, "email, first_name, last_name, store, address_id, active, signed_up_on, status, "
                                   "_updated_at") == expected
