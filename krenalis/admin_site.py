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
        for app in apps:
            if app["app_label"] == "pipelines":
                self._add_profiles(request, app)
        return sorted(apps, key=lambda app: (app["app_label"] not in PRODUCT_APPS,))

    @staticmethod
    def _add_profiles(request, app) -> None:
        """The unified users have no model of the metadata database (they live in the warehouse):
        their pages are listed with the product's models, after the workspaces they belong to."""
        from django.urls import reverse

        if not any(m["object_name"] == "Workspace" for m in app["models"]):
            return  # who may not see workspaces may not see their profiles
        entry = {"name": "Profiles", "object_name": "Profile", "perms": {"view": True},
                 "admin_url": reverse("admin:pipelines_profiles"), "add_url": None, "view_only": True}
        app["models"].append(entry)
        app["models"].sort(key=lambda m: m["name"])


class KrenalisAdminConfig(AdminConfig):
    default_site = "krenalis.admin_site.KrenalisAdminSite"
