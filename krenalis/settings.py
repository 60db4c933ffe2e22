"""Settings, read from the environment.

DATABASE_URL        metadata database (default: SQLite file under var/)
CELERY_BROKER_URL   broker (default: redis://127.0.0.1:6379/0)
DJANGO_SECRET_KEY   Django's secret key (default: a key generated once under var/)
KRENALIS_ENCRYPTION_KEY  key that encrypts connection and warehouse secrets at rest
                    (default: a key generated once under var/)
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KRENALIS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _persistent_secret(env_name: str, file_name: str, make) -> str:
    """A secret from the environment, else one generated on first use and kept under var/."""
    value = os.environ.get(env_name)
    if value:
        return value
    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "pipelines",
    "warehouse",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

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
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# The product's own knobs, in one place (DRF-style namespaced settings).
KRENALIS = {
    # seconds a source query may run before the database cancels it
    "SOURCE_STATEMENT_TIMEOUT": int(os.environ.get("KRENALIS_SOURCE_STATEMENT_TIMEOUT", "300")),
    # seconds to wait when connecting to a source or warehouse database
    "CONNECT_TIMEOUT": int(os.environ.get("KRENALIS_CONNECT_TIMEOUT", "10")),
    # transformation languages that are switched on
    "TRANSFORMATION_LANGUAGES": [
        lang for lang in os.environ.get("KRENALIS_TRANSFORMATION_LANGUAGES", "JavaScript,Python").split(",") if lang
    ],
    # limits of user transformation functions (per batch of rows, and per runtime)
    "FUNCTION_BATCH_TIMEOUT": float(os.environ.get("KRENALIS_FUNCTION_BATCH_TIMEOUT", "10")),
    "FUNCTION_MEMORY_MB": int(os.environ.get("KRENALIS_FUNCTION_MEMORY_MB", "256")),
    # where embedded (SQLite) warehouses keep their files
    "SQLITE_WAREHOUSE_DIR": str(VAR_DIR / "warehouses"),
    # the only directory SQLite source connections may read files from
    "SQLITE_SOURCE_DIR": os.environ.get("KRENALIS_SQLITE_SOURCE_DIR", str(VAR_DIR / "sources")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KRENALIS_LOG_LEVEL", "INFO")},
}
