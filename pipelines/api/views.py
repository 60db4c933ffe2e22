"""The /v1 viewsets of workspaces, connectors and connections. Thin: parse, call a service, shape."""
from rest_framework.decorators import action

from ..models import Connection, Workspace
from ..selectors import connection_list, running_pipeline_ids
from ..services.connections import connection_create, connection_delete, connection_rename, connection_test
from ..services.identities import connection_identities
from ..services.pipelines import enabled_languages
from ..services.preview import preview_query
from ..services.workspaces import workspace_create, workspace_delete, workspace_update
from .openapi import OPTIONAL as DOC_OPTIONAL, ORGANIZATION as DOC_ORGANIZATION, operation
from .openapi import path_id as doc_id
from .platform import OPTIONAL, ORGANIZATION, WORKSPACE, ApiViewSet, client_gone, get_or_404, ok
from .serializers import (ConnectionCreateBody, ConnectionSerializer, ConnectionTestBody, ConnectionUpdateBody,
                          IdentitySerializer, PagingQuery, QueryBody, WorkspaceCreateBody, WorkspaceSerializer,
                          WorkspaceUpdateBody, connectors_json)


def connections_json(connections) -> list[dict]:
    """`connections` with their pipelines prefetched (selectors.connection_list)."""
    connections = list(connections)
    running = running_pipeline_ids([p.id for c in connections for p in c.pipelines.all()])
    return ConnectionSerializer(connections, many=True, context={"running": running}).data


class WorkspaceViewSet(ApiViewSet):
    """/v1/workspaces (the organization's) and /v1/workspaces/current (the selected one)."""

    workspace_scope = ORGANIZATION
    view_names = {"list": "Workspaces", "current": "Current Workspace"}

    @operation("listWorkspaces", "List the workspaces", tag="Workspaces", scope=DOC_ORGANIZATION, ok="WorkspaceList")
    def list(self, request):
        return ok({"workspaces": WorkspaceSerializer(Workspace.objects.all(), many=True).data})

    @operation("createWorkspace", "Create a workspace and initialize its warehouse", tag="Workspaces",
               scope=DOC_ORGANIZATION, request="WorkspaceCreate", ok="Created", errors=[422, 503])
    def create(self, request):
        workspace = workspace_create(**self.validated(WorkspaceCreateBody))
        return ok({"id": workspace.id})

    @operation("getWorkspace", "The selected workspace", tag="Workspaces", ok="Workspace")
    @action(detail=False, workspace_scope=WORKSPACE)
    def current(self, request):
        return ok(WorkspaceSerializer(self.workspace).data)

    @operation("updateWorkspace", "Rename the workspace, set its UI preferences", tag="Workspaces",
               request="WorkspaceUpdate")
    @current.mapping.put
    def update_current(self, request):
        workspace_update(workspace=self.workspace, **self.validated(WorkspaceUpdateBody))
        return ok()

    @operation("deleteWorkspace", "Delete the workspace with its connections and pipelines", tag="Workspaces")
    @current.mapping.delete
    def delete_current(self, request):
        workspace_delete(workspace=self.workspace)
        return ok()


class ConnectorViewSet(ApiViewSet):
    workspace_scope = OPTIONAL
    view_names = {"list": "Connectors"}

    @operation("listConnectors", "The database connectors", tag="Connectors", scope=DOC_OPTIONAL,
               ok="ConnectorList")
    def list(self, request):
        return ok({"connectors": connectors_json()})


class TransformationLanguageViewSet(ApiViewSet):
    workspace_scope = OPTIONAL
    view_names = {"list": "Transformation Languages"}

    @operation("listTransformationLanguages", "The enabled transformation languages", tag="System",
               scope=DOC_OPTIONAL, ok="Languages")
    def list(self, request):
        return ok({"languages": enabled_languages()})


class ConnectionViewSet(ApiViewSet):
    lookup_url_kwarg = "connection_id"
    view_names = {"list": "Connections", "test": "Connection Test", "retrieve": "Connection",
                  "query": "Connection Query", "identities": "Connection Identities"}

    def get_connection(self, connection_id: str, connections=None) -> Connection:
        """The connection of the path, of `connections` (default: all those of the workspace)."""
        if connections is None:
            connections = Connection.objects.filter(workspace=self.workspace)
        return get_or_404(connections, connection_id,
                          invalid='connection identifier "{value}" is not valid',
                          missing="connection {id} does not exist")

    @operation("listConnections", "The connections of the workspace", tag="Connections", ok="ConnectionList")
    def list(self, request):
        return ok({"connections": connections_json(connection_list(workspace=self.workspace))})

    @operation("createConnection", "Create a source connection (its settings are tested first)",
               tag="Connections", request="ConnectionCreate", ok="Created", errors=[422, 503])
    def create(self, request):
        connection = connection_create(workspace=self.workspace, **self.validated(ConnectionCreateBody))
        return ok({"id": connection.id})

    @operation("testConnection", "Test connection settings without saving them, with warnings about the login",
               tag="Connections", request="ConnectionTest", ok="ConnectionTestResult", errors=[422, 503],
               description="Beyond the reference: connects with the settings as createConnection does (same "
                           "errors) and saves nothing. The warnings say when the login can do more than read "
                           "the source; a user that can only read is the real defence of the source database.")
    @action(detail=False, methods=["post"])
    def test(self, request):
        return ok({"warnings": connection_test(**self.validated(ConnectionTestBody))})

    @operation("getConnection", "A connection, with its pipelines", tag="Connections", ok="Connection",
               parameters=[doc_id("connection_id", "connection")])
    def retrieve(self, request, connection_id):
        connection = self.get_connection(connection_id, connection_list(workspace=self.workspace))
        return ok(connections_json([connection])[0])

    @operation("updateConnection", "Rename a connection", tag="Connections", request="ConnectionUpdate",
               parameters=[doc_id("connection_id", "connection")])
    def update(self, request, connection_id):
        connection = self.get_connection(connection_id)
        connection_rename(connection=connection, **self.validated(ConnectionUpdateBody))
        return ok()

    @operation("deleteConnection", "Delete a connection, its pipelines and imported identities",
               tag="Connections", parameters=[doc_id("connection_id", "connection")])
    def destroy(self, request, connection_id):
        connection_delete(connection=self.get_connection(connection_id))
        return ok()

    @operation("previewQuery", "Run a query on the source: rows, schema and issues", tag="Connections",
               request="QueryRequest", ok="QueryResult", errors=[422, 429, 503],
               parameters=[doc_id("connection_id", "connection")])
    @action(detail=True, methods=["post"])
    def query(self, request, connection_id):
        connection = self.get_connection(connection_id)
        return ok(preview_query(connection=connection, **self.validated(QueryBody), client_gone=client_gone(request)))

    @operation("listConnectionIdentities", "The identities imported through a connection, newest first",
               tag="Connections", ok="Identities", errors=[422, 503],
               parameters=[doc_id("connection_id", "connection")], query=PagingQuery)
    @action(detail=True)
    def identities(self, request, connection_id):
        connection = self.get_connection(connection_id)
        items, total = connection_identities(workspace=self.workspace, connection=connection,
                                             **self.validated_query(PagingQuery))
        return ok({"identities": IdentitySerializer(items, many=True).data, "total": total})
