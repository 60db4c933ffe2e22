"""Profile queries (warehouse.profile_queries) on PostgreSQL and SQLite: paging, the default and
chosen orders, and/or filters over strings, decimals, arrays, NULLs and ranges, read back in the
value model. The profiles are made by a real identity resolution over identities written with the
real identity writer (helpers and fixtures of test_resolution.py)."""
from decimal import Decimal

from tests.warehouse.test_resolution import COLUMNS, pg_wh, resolve, wh, write  # noqa: F401 (fixtures)
from warehouse.profile_queries import Condition, ProfileQuery


def test_profile_queries(wh):
    write(wh, 1, 10, [(f"u{i}", i, {"email": f"u{i}@example.com", "name": f"name{i % 3}", "score": Decimal(i),
                                    "tags": ["even" if i % 2 == 0 else "odd"], "customer": i})
                      for i in range(1, 11)])
    resolve(wh)
    columns = tuple(COLUMNS)
    by_name = {c.name: c for c in COLUMNS}
    items, total = wh.query_profiles(ProfileQuery(columns=columns, order=by_name["customer"], descending=True,
                                                  first=2, limit=3))
    assert total == 10 and [i["values"]["customer"] for i in items] == [8, 7, 6]
    items, total = wh.query_profiles(ProfileQuery(columns=columns))
    assert [i["values"]["customer"] for i in items] == list(range(1, 11))  # default: _updated_at
    items, total = wh.query_profiles(ProfileQuery(
        columns=columns, conditions=(Condition(by_name["name"], "is", ("name1",)),
                                     Condition(by_name["score"], "is greater than", (Decimal(3),))),
        order=by_name["customer"]))
    assert total == 3 and [i["values"]["customer"] for i in items] == [4, 7, 10]
    items, total = wh.query_profiles(ProfileQuery(
        columns=columns, logical="or", conditions=(Condition(by_name["tags"], "contains", ("odd",)),
                                                   Condition(by_name["customer"], "is one of", (2, 4))),
        order=by_name["customer"]))
    assert [i["values"]["customer"] for i in items] == [1, 2, 3, 4, 5, 7, 9]
    items, total = wh.query_profiles(ProfileQuery(
        columns=columns, conditions=(Condition(by_name["email"], "starts with", ("u1",)),
                                     Condition(by_name["email"], "ends with", ("0@example.com",))),))
    assert [i["values"]["customer"] for i in items] == [10]
    items, total = wh.query_profiles(ProfileQuery(
        columns=columns, conditions=(Condition(by_name["address_city"], "is null"),
                                     Condition(by_name["score"], "is between", (Decimal(2), Decimal(3)))),
        order=by_name["score"]))
    assert [i["values"]["customer"] for i in items] == [2, 3]
    assert wh.query_profiles(ProfileQuery(columns=columns, first=10)) == ([], 10)
