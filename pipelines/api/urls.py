from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from . import pipeline_views, run_views, views
from . import profile_views
from .platform import UnknownPathView

urlpatterns = [
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    # the split view serves its start script as a file of its own (/v1/docs?script=): no inline script
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="openapi"), name="api-docs"),
    path("v1/workspaces", views.WorkspacesView.as_view()),
    path("v1/workspaces/current", views.CurrentWorkspaceView.as_view()),
    path("v1/profiles/schema", profile_views.ProfileSchemaView.as_view()),
    path("v1/connectors", views.ConnectorsView.as_view()),
    path("v1/system/transformations/languages", views.TransformationLanguagesView.as_view()),
    path("v1/connections", views.ConnectionsView.as_view()),
    path("v1/connections/test", views.ConnectionTestView.as_view()),
    path("v1/connections/<str:connection_id>", views.ConnectionView.as_view()),
    path("v1/connections/<str:connection_id>/query", views.ConnectionQueryView.as_view()),
    path("v1/connections/<str:connection_id>/identities", run_views.ConnectionIdentitiesView.as_view()),
    path("v1/pipelines", pipeline_views.PipelinesView.as_view()),
    path("v1/pipelines/runs", run_views.RunsView.as_view()),
    path("v1/pipelines/runs/<str:run_id>", run_views.RunView.as_view()),
    path("v1/pipelines/runs/<str:run_id>/cancel", run_views.RunCancelView.as_view()),
    path("v1/pipelines/runs/<str:run_id>/errors", run_views.RunErrorsView.as_view()),
    path("v1/pipelines/<str:pipeline_id>", pipeline_views.PipelineView.as_view()),
    path("v1/pipelines/<str:pipeline_id>/status", pipeline_views.PipelineStatusView.as_view()),
    path("v1/pipelines/<str:pipeline_id>/schedule", pipeline_views.PipelineScheduleView.as_view()),
    path("v1/pipelines/<str:pipeline_id>/runs", run_views.PipelineRunsView.as_view()),
    path("v1/profiles", profile_views.ProfilesView.as_view()),
    path("v1/profiles/schema/preview", profile_views.ProfileSchemaPreviewView.as_view()),
    path("v1/profiles/schema/latest-alter", profile_views.ProfileSchemaLatestAlterView.as_view()),
    path("v1/profiles/<str:kpid>/attributes", profile_views.ProfileAttributesView.as_view()),
    path("v1/profiles/<str:kpid>/identities", profile_views.ProfileIdentitiesView.as_view()),
    path("v1/identity-resolution/settings", profile_views.IdentityResolutionSettingsView.as_view()),
    path("v1/identity-resolution/start", profile_views.IdentityResolutionStartView.as_view()),
    path("v1/identity-resolution/latest", profile_views.IdentityResolutionLatestView.as_view()),
    re_path(r"^v1/.*$", UnknownPathView.as_view()),
]
