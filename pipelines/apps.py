from django.apps import AppConfig

from .conf import knobs


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Krenalis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from warehouse.backends.base import HOSTING

        from .connectors import REGISTRY
        from .services.addresses import address_policy

        # An SQLite source may only read files under this directory: never the product's own
        # metadata database or another workspace's warehouse.
        REGISTRY["sqlite"].allowed_root = knobs.SQLITE_SOURCE_DIR
        # The warehouse package reads no settings: they are handed to it here, read at each use.
        HOSTING.connect_timeout = lambda: knobs.CONNECT_TIMEOUT
        HOSTING.address_policy = lambda: address_policy(warehouses=False)
        HOSTING.sqlite_dir = lambda: knobs.SQLITE_WAREHOUSE_DIR
