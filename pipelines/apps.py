from django.apps import AppConfig
from django.conf import settings


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Krenalis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .connectors import REGISTRY

        # An SQLite source may only read files under this directory: never the product's own
        # metadata database or another workspace's warehouse.
        REGISTRY["sqlite"].allowed_root = settings.KRENALIS["SQLITE_SOURCE_DIR"]
