"""The /v1 viewsets of profiles (with the profile schema) and identity resolution. Thin: parse, call a
service, shape."""
from drf_spectacular.utils import OpenApiParameter
from rest_framework.decorators import action

from ..services import identity_resolution as ir
from ..services import profiles
from .openapi import (ANY_OBJECT, BOOLEAN, DATE_TIME, INTEGER, SCHEMAS, STRING, _array, _id, _nullable, _object,
                      body_schema, operation, ref)
from .platform import ApiViewSet, ok
from .serializers import (IdentityResolutionSettingsBody, IdentitySerializer, PagingQuery, ProfileSchemaChangeBody,
                          ProfilesQuery)

# The components of these endpoints, added to those of the OpenAPI document.
_MISALIGNED = _array(_object({"pipeline": _id("pipeline"), "name": STRING, "message": STRING},
                             ["pipeline", "name", "message"]))
SCHEMAS.update({
    "Profile": _object({"kpid": {"type": "string", "format": "uuid"}, "updatedAt": DATE_TIME,
                        "attributes": ANY_OBJECT}, ["kpid", "updatedAt", "attributes"]),
    "ProfileList": _object({"profiles": _array(ref("Profile")), "schema": ref("Type"),
                            "total": {**INTEGER, "minimum": 0}}, ["profiles", "schema", "total"]),
    "ProfileAttributes": _object({"attributes": ANY_OBJECT}, ["attributes"]),
    "ProfileSchemaChange": body_schema(ProfileSchemaChangeBody),
    "ProfileSchemaPreview": _object({"queries": _array(STRING), "misalignedPipelines": _MISALIGNED},
                                    ["queries", "misalignedPipelines"]),
    "ProfileSchemaAlter": _object({"startTime": _nullable(DATE_TIME), "endTime": _nullable(DATE_TIME),
                                   "error": _nullable(STRING), "misalignedPipelines": _MISALIGNED},
                                  ["startTime", "endTime", "error", "misalignedPipelines"]),
    "IdentityResolutionSettings": _object({"runOnBatchImport": BOOLEAN, "identifiers": _array(STRING)},
                                          ["runOnBatchImport", "identifiers"]),
    "IdentityResolutionSettingsUpdate": body_schema(IdentityResolutionSettingsBody),
    "IdentityResolutionLatest": _object(
        {"startTime": _nullable(DATE_TIME), "endTime": _nullable(DATE_TIME),
         "kind": {**_nullable(STRING), "enum": ["Full", "Incremental", None],
                  "description": "what the resolution was, once it ended without error"},
         "identities": {**_nullable(INTEGER), "description": "identities it regrouped (all of them if Full)"},
         "profiles": {**_nullable(INTEGER), "description": "profiles it wrote (all of them if Full)"}},
        ["startTime", "endTime", "kind", "identities", "profiles"]),
})
KPID = OpenApiParameter("kpid", {"type": "string", "format": "uuid"}, OpenApiParameter.PATH,
                        description="the profile's KPID (a UUID)")


class ProfileViewSet(ApiViewSet):
    """/v1/profiles, the profile schema, and a profile's attributes and identities (no profile object of
    its own: /v1/profiles/<kpid> is no endpoint)."""

    lookup_url_kwarg = "kpid"
    view_names = {"list": "Profiles", "profile_schema": "Profile Schema", "schema_preview": "Profile Schema Preview",
                  "schema_latest_alter": "Profile Schema Latest Alter", "attributes": "Profile Attributes",
                  "identities": "Profile Identities"}

    @operation("listProfiles", "Profiles: selected properties, filtered, ordered, paged, with the total",
               tag="Profiles", ok="ProfileList", errors=[422, 503], query=ProfilesQuery)
    def list(self, request):
        return ok(profiles.profiles_list(workspace=self.workspace, **self.validated_query(ProfilesQuery)))

    @operation("getProfileAttributes", "The attributes of a profile", tag="Profiles", ok="ProfileAttributes",
               errors=[422, 503], parameters=[KPID])
    @action(detail=True)
    def attributes(self, request, kpid):
        return ok(profiles.profile_attributes(workspace=self.workspace, kpid=kpid))

    @operation("listProfileIdentities", "The identities merged into a profile, newest first", tag="Profiles",
               ok="Identities", errors=[422, 503], parameters=[KPID], query=PagingQuery)
    @action(detail=True)
    def identities(self, request, kpid):
        items, total = profiles.profile_identities(workspace=self.workspace, kpid=kpid,
                                                   **self.validated_query(PagingQuery))
        return ok({"identities": IdentitySerializer(items, many=True).data, "total": total})

    @operation("getProfileSchema", "The profile schema of the workspace", tag="Profiles", ok="Type")
    @action(detail=False, url_path="schema")
    def profile_schema(self, request):
        return ok(self.workspace.profile_schema)

    @operation("updateProfileSchema", "Change the profile schema: add, drop and rename warehouse columns",
               tag="Profiles", request="ProfileSchemaChange", errors=[422, 503])
    @profile_schema.mapping.put
    def update_schema(self, request):
        profiles.profile_schema_update(workspace=self.workspace, **self.validated(ProfileSchemaChangeBody))
        return ok()

    @operation("previewProfileSchema", "The statements a profile schema change would run, and the pipelines it "
               "would misalign", tag="Profiles", request="ProfileSchemaChange", ok="ProfileSchemaPreview",
               errors=[422])
    @action(detail=False, methods=["put"], url_path="schema/preview")
    def schema_preview(self, request):
        return ok(profiles.profile_schema_preview(workspace=self.workspace, **self.validated(ProfileSchemaChangeBody)))

    @operation("getLatestProfileSchemaAlter", "The latest profile schema change", tag="Profiles",
               ok="ProfileSchemaAlter")
    @action(detail=False, url_path="schema/latest-alter")
    def schema_latest_alter(self, request):
        return ok(profiles.profile_schema_latest_alter(self.workspace))


class IdentityResolutionViewSet(ApiViewSet):
    """/v1/identity-resolution: its settings, a start, the latest (no list of its own)."""

    view_names = {"resolution_settings": "Identity Resolution Settings", "start": "Identity Resolution Start",
                  "latest": "Identity Resolution Latest"}

    @operation("getIdentityResolutionSettings", "The identity resolution settings", tag="Identity resolution",
               ok="IdentityResolutionSettings")
    @action(detail=False, url_path="settings")
    def resolution_settings(self, request):
        return ok(ir.identity_resolution_settings(self.workspace))

    @operation("updateIdentityResolutionSettings", "Set the identifiers and whether imports resolve identities",
               tag="Identity resolution", request="IdentityResolutionSettingsUpdate", errors=[422])
    @resolution_settings.mapping.put
    def update_settings(self, request):
        ir.identity_resolution_update_settings(workspace=self.workspace,
                                               **self.validated(IdentityResolutionSettingsBody))
        return ok()

    @operation("startIdentityResolution", "Start an identity resolution (it executes in the background)",
               tag="Identity resolution", errors=[422])
    @action(detail=False, methods=["post"], body_required=())
    def start(self, request):
        ir.identity_resolution_start(workspace=self.workspace)
        return ok()

    @operation("getLatestIdentityResolution", "The latest identity resolution: start and end times, kind, "
               "identities regrouped and profiles written",
               tag="Identity resolution", ok="IdentityResolutionLatest")
    @action(detail=False)
    def latest(self, request):
        return ok(ir.identity_resolution_latest(self.workspace))
