"""The Django admin: a console over the same services the API uses. Secrets are never shown."""
from django.contrib import admin

from .models import APIKey, Connection, Pipeline, Run, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "warehouse_platform", "warehouse_mode", "created_at")
    search_fields = ("name",)
    readonly_fields = ("id", "warehouse_platform", "profile_schema", "created_at")
    exclude = ("warehouse_settings_encrypted",)


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "hint", "workspace", "created_at")
    readonly_fields = ("id", "hint", "created_at")
    exclude = ("digest",)

    def has_add_permission(self, request):
        return False  # keys are minted by `manage.py createapikey`, which shows the key once


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "connector", "workspace", "created_at")
    list_filter = ("connector",)
    readonly_fields = ("id", "connector", "workspace", "created_at")
    exclude = ("settings_encrypted",)


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "connection", "enabled", "incremental", "schedule_period", "cursor")
    list_filter = ("enabled", "incremental")
    readonly_fields = ("id", "workspace", "connection", "cursor", "created_at")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "pipeline", "incremental", "start_time", "end_time", "error")
    readonly_fields = [f.name for f in Run._meta.fields]
