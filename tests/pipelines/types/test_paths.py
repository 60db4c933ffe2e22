import pytest

from pipelines.types.paths import (
    PathNotExistError, column_name, contains_path, is_valid_property_name, is_valid_property_path,
    leaf_paths, property_by_path, prune, store_value, unused_leaf_paths, walk_properties,
)
from pipelines.types.schema import (
    Property, SchemaError, array_, int_, json_, map_, object_type, string,
)

SCHEMA = object_type(
    Property("id", int_(32)),
    Property("email", string()),
    Property("profile", object_type(
        Property("name", string()),
        Property("address", object_type(Property("city", string()), Property("zip", string()))),
    )),
    Property("settings", object_type(
        Property("flags", object_type(Property("alerts", string()), Property("news", string()))),
        Property("theme", string()),
    )),
    Property("orders", array_(object_type(Property("sku", string())))),
    Property("scores", map_(object_type(Property("value", int_(8))))),
    Property("attrs", json_()),
)


@pytest.mark.parametrize("name", ["_", "_8", "foo53", "A"])
def test_valid_names(name):
    assert is_valid_property_name(name)


@pytest.mark.parametrize("name", ["", "8a", "a-b", "é", "a.b", "a b"])
def test_invalid_names(name):
    assert not is_valid_property_name(name)


@pytest.mark.parametrize("path", ["a", "a.b", "_._", "settings.flags.alerts"])
def test_valid_paths(path):
    assert is_valid_property_path(path)


@pytest.mark.parametrize("path", ["", "a.", ".a", "a..b", "a.b-c", "a[0]"])
def test_invalid_paths(path):
    assert not is_valid_property_path(path)


def test_property_by_path_resolves_through_objects():
    assert property_by_path(SCHEMA, "id").type == int_(32)
    assert property_by_path(SCHEMA, "profile.address.city").name == "city"
    assert property_by_path(SCHEMA, "settings.flags").type.kind == "object"


@pytest.mark.parametrize("path,reported", [
    ("nope", "nope"),
    ("profile.nope", "profile.nope"),
    ("profile.nope.x", "profile.nope"),
    ("email.x.y", "email.x"),          # a middle segment that is not an object: it plus the next one
    ("orders.sku", "orders.sku"),      # ByPath never looks inside array elements
    ("scores.value", "scores.value"),
])
def test_property_by_path_reports_the_failing_prefix(path, reported):
    with pytest.raises(PathNotExistError) as caught:
        property_by_path(SCHEMA, path)
    assert str(caught.value) == f'property path "{reported}" does not exist'
    assert caught.value.path == reported


def test_property_by_path_rejects_malformed_paths_instead_of_crashing():
    with pytest.raises(SchemaError) as caught:
        property_by_path(SCHEMA, "a..b")
    assert not isinstance(caught.value, PathNotExistError)
    assert str(caught.value) == 'property path "a..b" is not valid'


def test_contains_path_looks_into_array_and_map_elements():
    assert contains_path(SCHEMA, "orders.sku")
    assert contains_path(SCHEMA, "scores.value")
    assert contains_path(SCHEMA, "profile.address.zip")
    assert not contains_path(SCHEMA, "orders.nope")
    assert not contains_path(SCHEMA, "email.x")
    assert not contains_path(SCHEMA, "a..b")


def test_leaf_paths_are_depth_first_and_stop_at_arrays_and_maps():
    assert [path for path, _ in leaf_paths(SCHEMA)] == [
        "id", "email", "profile.name", "profile.address.city", "profile.address.zip",
        "settings.flags.alerts", "settings.flags.news", "settings.theme", "orders", "scores", "attrs",
    ]


def test_walk_properties_includes_objects_and_element_properties():
    paths = [path for path, _ in walk_properties(SCHEMA)]
    assert paths[:5] == ["id", "email", "profile", "profile.name", "profile.address"]
    assert "orders.sku" in paths and "scores.value" in paths
    assert "orders.sku" not in [path for path, _ in walk_properties(SCHEMA, into_elements=False)]


def test_column_name():
    assert column_name("a.b.c") == "a_b_c"
    assert column_name("email") == "email"


def test_prune_keeps_listed_leaves_and_their_ancestor_chain():
    pruned = prune(SCHEMA, ["id", "settings.flags.alerts"])
    assert pruned == object_type(
        Property("id", int_(32)),
        Property("settings", object_type(Property("flags", object_type(Property("alerts", string()))))),
    )


def test_prune_keeps_a_whole_listed_object():
    pruned = prune(SCHEMA, ["settings.flags"])
    assert pruned == object_type(Property("settings", object_type(
        Property("flags", object_type(Property("alerts", string()), Property("news", string()))))))


def test_prune_ignores_unknown_paths_and_returns_none_when_nothing_remains():
    assert prune(SCHEMA, ["nope", "profile.nope", "id.x"]) is None
    assert prune(SCHEMA, []) is None
    assert prune(SCHEMA, ["email", "nope"]) == object_type(Property("email", string()))


def test_prune_keeps_schema_order_not_path_order():
    pruned = prune(SCHEMA, ["attrs", "id"])
    assert [p.name for p in pruned.properties] == ["id", "attrs"]


def test_unused_leaf_paths():
    used = ["id", "profile", "settings.flags.alerts", "attrs.plan"]
    assert unused_leaf_paths(SCHEMA, used) == [
        "email", "settings.flags.news", "settings.theme", "orders", "scores",
    ]
    assert unused_leaf_paths(SCHEMA, []) == [path for path, _ in leaf_paths(SCHEMA)]


def test_unused_leaf_paths_needs_a_dot_boundary():
    schema = object_type(Property("value", string()), Property("value_currency", string()))
    assert unused_leaf_paths(schema, ["value"]) == ["value_currency"]


def test_store_value_creates_intermediate_objects():
    record = {"user": {"address": {"city": "Milan"}}}
    store_value(record, "user.address.zip", "20122")
    assert record == {"user": {"address": {"city": "Milan", "zip": "20122"}}}
    record = {}
    store_value(record, "a.b", 1)
    assert record == {"a": {"b": 1}}
