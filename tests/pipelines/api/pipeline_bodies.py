"""Valid pipeline bodies for the API tests, and the pieces to vary them one field at a time."""
import copy

from tests import support

# Source columns an inSchema may declare (the query is not run at create/update, so some are
# not in the customers table: uid, birthday, active).
COLUMNS = {
    "email": {"kind": "string", "maxLength": 120},
    "firstname": {"kind": "string", "maxLength": 60},
    "lastname": {"kind": "string", "maxLength": 60},
    "updated_at": {"kind": "string", "maxLength": 60},
    "id": {"kind": "int", "bitSize": 64},
    "updated_ts": {"kind": "datetime"},
    "age": {"kind": "int", "bitSize": 32},
    "attrs": {"kind": "json"},
    "uid": {"kind": "uuid"},
    "birthday": {"kind": "date"},
    "active": {"kind": "boolean"},
}


def in_schema(*names: str, **flags_of) -> dict:
    """An inSchema with these columns (nullable, as a database reports them); `flags_of` maps a
    column to extra keys of its property, e.g. in_schema("email", email={"readOptional": True})."""
    properties = [{"name": n, "type": dict(COLUMNS[n]), "nullable": True, **flags_of.get(n, {})} for n in names]
    return {"kind": "object", "properties": properties}


def out_property(profile_name: str, /, **changes) -> dict:
    """A property of the workspace profile schema, as an outSchema declares it; `...` drops a key."""
    prop = copy.deepcopy(next(p for p in support.PROFILE_SCHEMA["properties"] if p["name"] == profile_name))
    prop.update(changes)
    return {key: value for key, value in prop.items() if value is not ...}


def out_schema(*properties) -> dict:
    """An outSchema of profile properties (names) or of given property objects."""
    return {"kind": "object",
            "properties": [out_property(p) if isinstance(p, str) else p for p in properties]}


IN_SCHEMA = in_schema("email", "firstname", "lastname", "updated_at")
OUT_SCHEMA = out_schema("email", "first_name", "last_name")
MAPPING = {"email": "email", "first_name": "firstname", "last_name": "lastname"}
QUERY = ("SELECT email, firstname, lastname, updated_at FROM customers "
         "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}")
JS_SOURCE = ("const transform = (user) => ({email: user.email, first_name: user.firstname, "
             "last_name: user.lastname});")
REVIEW = ". Please review and update the pipeline before attempting to import the users."


def function(**changes) -> dict:
    """A JavaScript function transformation equivalent to MAPPING."""
    f = {"source": JS_SOURCE, "language": "JavaScript", "preserveJSON": False,
         "inPaths": ["email", "firstname", "lastname"], "outPaths": ["email", "first_name", "last_name"]}
    f.update(changes)
    return {"function": f}


def body(connection_id, **changes) -> dict:
    """A valid create body; each change replaces a field, and `...` removes it."""
    b = {"name": "Import customers", "connection": connection_id, "target": "User", "enabled": True,
         "query": QUERY, "userIDColumn": "email", "updatedAtColumn": "updated_at", "updatedAtFormat": "ISO8601",
         "incremental": False, "transformation": {"mapping": dict(MAPPING)},
         "inSchema": copy.deepcopy(IN_SCHEMA), "outSchema": copy.deepcopy(OUT_SCHEMA)}
    for key, value in changes.items():
        if value is ...:
            b.pop(key, None)
        else:
            b[key] = copy.deepcopy(value)
    return b
