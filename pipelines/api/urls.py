from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from .pipeline_views import PipelineViewSet
from .platform import UnknownPathView
from .profile_views import IdentityResolutionViewSet, ProfileViewSet
from .run_views import RunViewSet
from .views import ConnectionViewSet, ConnectorViewSet, TransformationLanguageViewSet, WorkspaceViewSet

# The /v1 resources. No trailing slash (a path with one is unknown: a 404) and no format suffixes.
# Runs come before pipelines: /v1/pipelines/runs is not the pipeline "runs".
router = SimpleRouter(trailing_slash=False)
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("system/transformations/languages", TransformationLanguageViewSet, basename="language")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("pipelines/runs", RunViewSet, basename="run")
router.register("pipelines", PipelineViewSet, basename="pipeline")
router.register("profiles", ProfileViewSet, basename="profile")
router.register("identity-resolution", IdentityResolutionViewSet, basename="identity-resolution")

urlpatterns = [
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    # the split view serves its start script as a file of its own (/v1/docs?script=): no inline script
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="openapi"), name="api-docs"),
    path("v1/", include(router.urls)),
    re_path(r"^v1/.*$", UnknownPathView.as_view()),
]
