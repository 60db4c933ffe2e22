from django.apps import AppConfig

from .conf import knobs


class PipelinesConfig(AppConfig):
    name = "pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .connectors import REGISTRY

        # An SQLite source may only read files under this directory: never the product's own
        # metadata database or another workspace's warehouse.
        REGISTRY["sqlite"].allowed_root = knobs.SQLITE_SOURCE_DIR
