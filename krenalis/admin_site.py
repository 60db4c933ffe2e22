"""The admin site of the product: named Krenalis, with the product's own section first on the
index (before Django's users and Celery beat's periodic tasks), and no "View site" link (the
product has no public site: `/` is the API)."""
from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig

PRODUCT_APPS = ("pipelines",)


class KrenalisAdminSite(AdminSite):
    site_header = "Krenalis"
    site_title = "Krenalis"
    index_title = "Import users from your databases"
    site_url = None

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        return sorted(apps, key=lambda app: (app["app_label"] not in PRODUCT_APPS,))


class KrenalisAdminConfig(AdminConfig):
    default_site = "krenalis.admin_site.KrenalisAdminSite"
