"""Krenalis' settings: one module of defaults (pipelines/conf.py), read one way (`knobs`)."""
from pathlib import Path

import pytest

from pipelines.conf import DEFAULTS, from_environment, knobs


def test_without_environment_every_setting_is_its_default():
    values = from_environment({}, Path("/srv/var"))
    assert values.keys() == DEFAULTS.keys()
    assert values["SQLITE_WAREHOUSE_DIR"] == "/srv/var/warehouses"
    assert values["SQLITE_SOURCE_DIR"] == "/srv/var/sources"
    assert {k: v for k, v in values.items() if not k.startswith("SQLITE_")} == {
        k: v for k, v in DEFAULTS.items() if not k.startswith("SQLITE_")}
    values["TRANSFORMATION_LANGUAGES"].append("Lua")  # a copy: the defaults stay as they are
    assert DEFAULTS["TRANSFORMATION_LANGUAGES"] == ["JavaScript", "Python"]


def test_environment_variables_are_read_as_their_defaults_type():
    values = from_environment({
        "KRENALIS_HEARTBEAT_SECONDS": "2.5", "KRENALIS_CONNECT_TIMEOUT": "3",
        "KRENALIS_DATABASE_ALLOWED_HOSTS": " db.example, ,10.0.0.0/8 ", "KRENALIS_TRANSFORMATION_LANGUAGES": "",
        "KRENALIS_SQLITE_SOURCE_DIR": "/data/sources",
        "KRENALIS_RUN_BATCH_SIZE": "7", "KRENALIS_SQLITE_WAREHOUSE_DIR": "/elsewhere",  # not from the environment
    }, Path("/srv/var"))
    assert (values["HEARTBEAT_SECONDS"], values["CONNECT_TIMEOUT"]) == (2.5, 3)
    assert type(values["CONNECT_TIMEOUT"]) is int
    assert values["DATABASE_ALLOWED_HOSTS"] == ["db.example", "10.0.0.0/8"]
    assert values["TRANSFORMATION_LANGUAGES"] == []
    assert values["SQLITE_SOURCE_DIR"] == "/data/sources"
    assert (values["RUN_BATCH_SIZE"], values["SQLITE_WAREHOUSE_DIR"]) == (5000, "/srv/var/warehouses")


def test_knobs_read_the_settings_at_each_use(settings):
    settings.KRENALIS = {**settings.KRENALIS, "PREVIEW_TIMEOUT": 2}
    assert knobs.PREVIEW_TIMEOUT == 2
    settings.KRENALIS = {k: v for k, v in settings.KRENALIS.items() if k != "PREVIEW_TIMEOUT"}
    assert knobs.PREVIEW_TIMEOUT == DEFAULTS["PREVIEW_TIMEOUT"] == 30
    with pytest.raises(AttributeError, match="no setting PREVIEW_TIMEOUTS"):
        knobs.PREVIEW_TIMEOUTS
