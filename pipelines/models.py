"""What the product stores about workspaces, API keys, connections, pipelines and runs.

Every primary key is a random integer below 2^31 (see `pipelines.ids`), as in the seed.
Secrets (connection and warehouse settings) are kept encrypted; API keys only as digests.
"""
from django.db import models

from .encryption import decrypt_json, encrypt_json
from .steps import STEP_NAMES


class Workspace(models.Model):
    PLATFORM_POSTGRESQL = "PostgreSQL"
    PLATFORM_SQLITE = "SQLite"
    PLATFORMS = (PLATFORM_POSTGRESQL, PLATFORM_SQLITE)
    MODES = ("Normal", "Inspection", "Maintenance")

    id = models.IntegerField(primary_key=True)
    name = models.CharField(max_length=100)
    profile_schema = models.JSONField()
    primary_sources = models.JSONField(null=True, blank=True)
    resolve_identities_on_batch_import = models.BooleanField(default=True)
    identifiers = models.JSONField(null=True, blank=True)
    warehouse_platform = models.CharField(max_length=20, choices=[(p, p) for p in PLATFORMS])
    warehouse_mode = models.CharField(max_length=20, default="Normal", choices=[(m, m) for m in MODES])
    warehouse_settings_encrypted = models.TextField(editable=False)
    ui_preferences = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Identity resolution and profile schema changes exclude each other: `ir_id` / `alter_schema_id`
    # is set while one executes. A resolution's worker beats in `ir_ping_time`, so that one whose
    # worker died can be taken over. `ir_rerun` asks for another resolution once the current one
    # ends (an import finished meanwhile).
    ir_id = models.UUIDField(null=True, blank=True, editable=False)
    ir_start_time = models.DateTimeField(null=True, blank=True, editable=False)
    ir_end_time = models.DateTimeField(null=True, blank=True, editable=False)
    ir_ping_time = models.DateTimeField(null=True, blank=True, editable=False)
    ir_error = models.TextField(blank=True, default="", editable=False)
    ir_rerun = models.BooleanField(default=False, editable=False)
    # What the latest resolution that ended did: "Full" or "Incremental" (empty if it failed, or
    # while one executes), the identities it regrouped and the profiles it wrote.
    ir_kind = models.CharField(max_length=20, blank=True, default="", editable=False)
    ir_identities = models.BigIntegerField(null=True, blank=True, editable=False)
    ir_profiles = models.BigIntegerField(null=True, blank=True, editable=False)
    alter_schema_id = models.UUIDField(null=True, blank=True, editable=False)
    alter_schema_start_time = models.DateTimeField(null=True, blank=True, editable=False)
    alter_schema_end_time = models.DateTimeField(null=True, blank=True, editable=False)
    alter_schema_error = models.TextField(blank=True, default="", editable=False)
    # Pipelines whose outSchema no longer aligns with the profile schema after the last change.
    alter_schema_misaligned = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ("name", "id")

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def warehouse_settings(self) -> dict:
        return decrypt_json(self.warehouse_settings_encrypted)

    @warehouse_settings.setter
    def warehouse_settings(self, value: dict) -> None:
        self.warehouse_settings_encrypted = encrypt_json(value)


class APIKey(models.Model):
    """An API key: organization-wide (workspace is null) or restricted to one workspace."""

    id = models.IntegerField(primary_key=True)
    name = models.CharField(max_length=100)
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="api_keys")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("name", "id")

    def __str__(self):
        return f"{self.name} ({self.hint})"


class Connection(models.Model):
    CONNECTOR_TYPE = "Database"
    ROLE_SOURCE = "Source"

    id = models.IntegerField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    connector = models.CharField(max_length=40)
    role = models.CharField(max_length=20, default=ROLE_SOURCE)
    settings_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self):
        return f"{self.name} ({self.connector})"

    @property
    def settings(self) -> dict:
        return decrypt_json(self.settings_encrypted)

    @settings.setter
    def settings(self, value: dict) -> None:
        self.settings_encrypted = encrypt_json(value)


class Pipeline(models.Model):
    """A source pipeline importing users from a database connection (the seed's object)."""

    TARGET_USER = "User"
    SCHEDULE_PERIODS = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "3h": 180, "6h": 360, "8h": 480,
                        "12h": 720, "24h": 1440}

    id = models.IntegerField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="pipelines")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="pipelines")
    name = models.CharField(max_length=60)
    target = models.CharField(max_length=10, default=TARGET_USER)
    enabled = models.BooleanField(default=False)
    query = models.TextField()
    user_id_column = models.CharField(max_length=1024)
    updated_at_column = models.CharField(max_length=1024, blank=True, default="")
    updated_at_format = models.CharField(max_length=64, blank=True, default="")
    incremental = models.BooleanField(default=False)
    # Seconds an incremental run reads behind its cursor, for rows committed late (pipelines/lookback.py);
    # null = off. With it, runs also hold the cursor below the source's transactions in progress.
    updated_at_lookback = models.PositiveIntegerField(null=True, blank=True)
    # Exactly one of the two transformations is set: a mapping, or a function.
    transformation_mapping = models.JSONField(null=True, blank=True)
    function_language = models.CharField(max_length=20, blank=True, default="")
    function_source = models.TextField(blank=True, default="")
    function_preserve_json = models.BooleanField(default=False)
    function_in_paths = models.JSONField(null=True, blank=True)
    function_out_paths = models.JSONField(null=True, blank=True)
    in_schema = models.JSONField()
    out_schema = models.JSONField()
    schedule_start = models.SmallIntegerField()          # minute of the day, fixed at creation
    schedule_period = models.SmallIntegerField(default=0)  # minutes; 0 = not scheduled
    # The minute (UTC) of the last scheduler tick that claimed the pipeline: a tick that fires twice for
    # the same minute finds it taken and starts no second run (see pipelines.services.scheduling).
    last_scheduled_minute = models.DateTimeField(null=True, blank=True, editable=False)
    # Greatest update time among the rows of the last successful incremental-capable run; null = zero cursor.
    cursor = models.DateTimeField(null=True, blank=True)
    # Incremented by every update: a run that read an older definition must not commit its cursor.
    revision = models.PositiveIntegerField(default=0, editable=False)
    # Output columns the pipeline used to write but no longer does; the next run clears them.
    properties_to_unset = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self):
        return f"{self.name} ({self.id})"

    @property
    def has_function(self) -> bool:
        return bool(self.function_language)

    @property
    def out_paths(self) -> list[str]:
        """The output properties the transformation writes: the function's, or the mapping's keys."""
        if self.has_function:
            return list(self.function_out_paths or ())
        return list(self.transformation_mapping or ())


class Run(models.Model):
    """One execution of a pipeline. A run is live while `end_time` is null; the database allows one
    live run per pipeline, whatever the number of workers."""

    STEPS = STEP_NAMES

    id = models.IntegerField(primary_key=True)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="runs")
    incremental = models.BooleanField()
    start_cursor = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    heartbeat_time = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The source's id of the session running the run's query (connector-specific, e.g. a PostgreSQL
    # backend pid), while it runs: the dead-worker sweep ends that session from another process.
    source_session = models.JSONField(null=True, blank=True)
    # The look-back window the run used (seconds; null: off), the rows it read again because of it,
    # whether the cursor it stored was held below its greatest update time (a transaction of the
    # source was in progress), what it saw of the source's transactions in progress (the next run
    # starts from it), and why the source showed none.
    lookback = models.PositiveIntegerField(null=True, blank=True)
    reread = models.BigIntegerField(default=0)
    cursor_held = models.BooleanField(default=False)
    in_flight = models.JSONField(null=True, blank=True, editable=False)
    in_flight_note = models.TextField(blank=True, default="")
    passed = models.JSONField(default=list)
    failed = models.JSONField(default=list)
    error = models.TextField(blank=True, default="")
    errors_total = models.IntegerField(default=0)

    class Meta:
        ordering = ("-start_time", "-id")
        constraints = [
            models.UniqueConstraint(fields=["pipeline"], condition=models.Q(end_time__isnull=True),
                                    name="one_live_run_per_pipeline"),
        ]

    def __str__(self):
        return f"run {self.id} of pipeline {self.pipeline_id}"


class RunError(models.Model):
    """A per-record (or fatal) error of a run. Only the first 1,000 of a run are kept; counts are exact."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="errors")
    seq = models.IntegerField()
    step = models.SmallIntegerField()
    user_id = models.TextField(null=True, blank=True)
    message = models.TextField()
    # For a row that failed without a user ID: where it is in the query's result and the values
    # read ({"position": 7, "values": {...}}), so that it can be found in the source. Errors with
    # neither a user ID nor a row are the run's notes (a fatal error, "not deleted because ...").
    row = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("run", "seq")
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="run_error_seq")]
