"""Settings, read from the environment.

DATABASE_URL        metadata database (default: SQLite file under var/)
CELERY_BROKER_URL   broker (default: redis://127.0.0.1:6379/0)
DJANGO_SECRET_KEY   Django's secret key (default: a key generated once under var/)
KRENALIS_ENCRYPTION_KEY  key that encrypts connection and warehouse secrets at rest
                    (default: a key generated once under var/)
KRENALIS_DATABASE_ALLOWED_HOSTS  hosts source and warehouse connections may use: names, IP
                    addresses, CIDR networks, "public" (any public address), "*" (any address),
                    comma-separated (default "public": no loopback, private, link-local... address)
KRENALIS_DATABASE_ALLOWED_PORTS  their ports, e.g. "5432,3306" or "1024-65535" (default 1-65535)
KRENALIS_STATIC_ROOT where `collectstatic` puts the static files WhiteNoise serves (default staticfiles/)
KRENALIS_HEARTBEAT_SECONDS, KRENALIS_RUN_DEAD_AFTER_SECONDS, KRENALIS_SWEEP_DEAD_RUNS_SECONDS
                    how a run whose worker died is found and ended (defaults 5, 60, 30)
KRENALIS_PREVIEW_*  limits of query previews: TIMEOUT (30 s), MAX_VALUE_BYTES (65536), MAX_BYTES
                    (4194304), CONCURRENCY (4 per web process), CONCURRENCY_PER_WORKSPACE (2)
KRENALIS_HTTPS      1 when the product is served over HTTPS: Secure cookies, HTTP redirected, HSTS
KRENALIS_PROXIES    how many reverse proxies are in front (default 0); they set X-Forwarded-Proto and
                    X-Forwarded-For, which are trusted only then
KRENALIS_HSTS_SECONDS  max-age of HSTS under KRENALIS_HTTPS (default a year; 0: no HSTS)
KRENALIS_CACHE_URL  the cache every web process shares (login throttling): redis://... (default: the
                    broker's Redis when the broker is Redis, else the process's own memory)
"""
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from krenalis.private import private_directory, read_private, write_private
from pipelines.conf import from_environment

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KRENALIS_VAR_DIR", BASE_DIR / "var"))
private_directory(VAR_DIR)  # 0700: it holds keys, credentials, and the embedded default's data


def _persistent_secret(env_name: str, file_name: str, make) -> str:
    """A secret from the environment, else one generated on first use and kept under var/ (0600)."""
    value = os.environ.get(env_name)
    if value:
        return value
    path = VAR_DIR / file_name
    if not path.exists():
        write_private(path, make())
    return read_private(path).strip()


def _random_token() -> str:
    import secrets

    return secrets.token_urlsafe(50)


def _fernet_key() -> str:
    import base64
    import secrets

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


SECRET_KEY = _persistent_secret("DJANGO_SECRET_KEY", "secret_key", _random_token)
KRENALIS_ENCRYPTION_KEY = _persistent_secret("KRENALIS_ENCRYPTION_KEY", "encryption_key", _fernet_key)
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

# Served over HTTPS, here or at the proxies in front (docker-compose: Caddy): cookies travel only
# over HTTPS, plain HTTP is redirected, and browsers are told to use only HTTPS (HSTS). The proxies'
# X-Forwarded-Proto (and X-Forwarded-For, see pipelines/services/logins.py) are trusted only when
# KRENALIS_PROXIES says there are proxies, which must then set them.
PROXIES = int(os.environ.get("KRENALIS_PROXIES", "0"))
if PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if os.environ.get("KRENALIS_HTTPS", "") == "1":
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("KRENALIS_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = True
# Every page may run only the scripts and load only the files of this server: no inline script,
# no other origin (the admin, its CodeMirror editor and the Swagger UI of /v1/docs need nothing
# more; inline styles stay allowed for the Swagger UI's page). Sent over HTTP too.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

INSTALLED_APPS = [
    "krenalis.admin_site.KrenalisAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "pipelines",
    "warehouse",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "krenalis.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "krenalis.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "krenalis.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'krenalis.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has a web server, a worker and beat writing one file: WAL lets readers
    # run beside the writer, IMMEDIATE transactions take the write lock up front (a lock upgrade
    # inside a transaction fails at once, whatever the timeout), and writers wait up to 30 s.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("KRENALIS_STATIC_ROOT", BASE_DIR / "staticfiles"))
# gunicorn serves no files: WhiteNoise serves STATIC_ROOT, which `collectstatic` fills (the Docker image
# runs it when built), gzipped too. Not the manifest storage: `{% static %}` would then fail wherever
# collectstatic never ran (bin/run, the tests); there WhiteNoise finds each file where it is, as
# under DEBUG (and warns of no missing directory).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if not STATIC_ROOT.is_dir():
    WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = True

# Requests are at most 500 KiB (reference §1.2); Django's own cap must not cut in first.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["pipelines.api.rendering.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["pipelines.api.rendering.JSONParser"],
    "EXCEPTION_HANDLER": "pipelines.api.rendering.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Krenalis for Django API",
    "DESCRIPTION": "Import users from databases into the workspace's data warehouse.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this server: the product works without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
if CELERY_BROKER_URL.startswith("filesystem:"):
    # The embedded broker (`bin/run`): messages are files under var/broker/, shared by the web
    # server, the worker and beat of one machine. No server needed.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
        "polling_interval": 0.5,
    }
    for _folder in ("queue", "control"):
        (VAR_DIR / "broker" / _folder).mkdir(parents=True, exist_ok=True)
# The cache every web process shares: failed admin logins are counted there (gunicorn's workers must
# see the same counts). Redis in production; the embedded default's single web process keeps them
# in its memory. Nothing clears this cache as a whole (RedisCache.clear() would empty the broker's
# database too).
CACHE_URL = os.environ.get("KRENALIS_CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                      "KEY_PREFIX": "krenalis"}
          if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# One queue per deployment; tests give each stack its own so that they never share a Redis queue.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("KRENALIS_CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# django-celery-beat's DatabaseScheduler, made safe for beats that start together (pipelines/beat.py)
CELERY_BEAT_SCHEDULER = "pipelines.beat:Scheduler"
CELERY_TIMEZONE = "UTC"
# Tasks keep no results, so beat needs no `celery.backend_cleanup` entry.
CELERY_RESULT_EXPIRES = None
# Periodic tasks, declared here; beat (django-celery-beat's DatabaseScheduler) copies them into
# its PeriodicTask table at start, where the admin shows them. See pipelines/services/scheduling.py.
CELERY_BEAT_SCHEDULE = {
    "krenalis.schedule-tick": {
        "task": "pipelines.tasks.schedule_tick_task",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 45},  # pipelines.services.scheduling.TICK_EXPIRES
    },
    "krenalis.sweep-dead-runs": {
        "task": "pipelines.tasks.sweep_dead_runs_task",
        "schedule": 30.0,
        "options": {"expire_seconds": 25},
    },
}

# The product's own knobs: their defaults and comments are in pipelines/conf.py, read as conf.knobs.
KRENALIS = from_environment(os.environ, VAR_DIR)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KRENALIS_LOG_LEVEL", "INFO")},
}

CELERY_BEAT_SCHEDULE["krenalis.sweep-dead-runs"]["schedule"] = KRENALIS["SWEEP_DEAD_RUNS_SECONDS"]
# The OpenAPI document: every /v1 operation is described by pipelines/api/openapi.py.
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = ["pipelines.api.openapi.postprocess"]
SPECTACULAR_SETTINGS["COMPONENT_SPLIT_REQUEST"] = False
# On /v1, errors that Django answers itself (a 500, a refused request) are JSON error bodies too.
MIDDLEWARE.insert(0, "pipelines.api.platform.JSONErrorsMiddleware")
