"""Settings for the PARS portal, every knob read from the environment.

Defaults give a working local portal (SQLite file, console email, DEBUG off); the
production profile in ``settings_production.py`` tightens them.
"""

import os
from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.getenv(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    return int(value) if value not in (None, "") else default


def envstr(name: str, default: str = "") -> str:
    value = os.getenv(name)
    return value if value not in (None, "") else default


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


# Only for local use: the production profile refuses to start without SECRET_KEY.
SECRET_KEY = envstr("SECRET_KEY", "insecure-local-development-key-do-not-use-in-production")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# The demo data command (fake users with printed passwords) runs only where this is on.
DEMO_DATA_ALLOWED = envbool("DEMO_DATA_ALLOWED", True)
# The simulated board (demo and tests only, never ABIM) can answer batches from the portal.
SIMULATED_BOARD = envbool("SIMULATED_BOARD", DEMO_DATA_ALLOWED)

INSTALLED_APPS = [
    "pars_portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "crispy_forms",
    "crispy_bootstrap5",
    "import_export",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "pars_portal",
    "activities",
    "participants",
    # The benchmark commands (manage.py bench_*): development and tests only, the production
    # profile removes it.
    "pars_portal.benchmarks",
]

MIDDLEWARE = [
    # A NUL byte in the address: 400 before anything reads it.
    "pars_portal.middleware.RefuseNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pars_portal.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Login is required everywhere but the login page (views opt out explicitly).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A submission that lost the race for the same records every time: 503, try again.
    "pars_portal.middleware.IntakeContentionMiddleware",
    # An action's address opened in the browser: a page that says to use the button.
    "pars_portal.middleware.MethodNotAllowedPage",
    # Last, as django-axes asks: it turns lockouts into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "pars_portal.urls"
WSGI_APPLICATION = "pars_portal.wsgi.application"

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
                "pars_portal.lib.access.portal_context",
            ],
        },
    },
]

# SQLite file by default; DATABASE_URL (e.g. postgres://user:pass@host/db) for PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the task worker share the file: WAL lets readers run during a
    # write, IMMEDIATE transactions avoid "database is locked" on lock upgrades. A process
    # keeps its connection like PostgreSQL's (DB_CONN_MAX_AGE): opening one, with Django's
    # functions and these PRAGMAs, costs ~2 ms a request (measured 2026-12-01).
    DATABASES["default"]["ENGINE"] = "pars_portal.sqlite3"  # the real variable limit
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The dashboards' aggregates cost enough for PostgreSQL to compile them (JIT), which
    # takes 30–45 ms a query and saves nothing on an index scan: off for the portal.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = None  # registration/logged_out.html says so, with a way back in

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "America/Chicago")  # ACCME is in Chicago
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Bootstrap comes from the xstatic-bootstrap package, never from a CDN.
STATICFILES_DIRS = [
    ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR),
    BASE_DIR / "static",
]
# Serve straight from the finders unless collectstatic was run (production does).
WHITENOISE_USE_FINDERS = envbool("WHITENOISE_USE_FINDERS", True)

MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "PARS Portal <pars@localhost>")

# Background work: Django's Tasks API (django-tasks backport), stored in the database and
# run by `manage.py run_workers` (its `task_worker`s).
TASKS = {
    "default": {
        "BACKEND": envstr("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        # participants.tasks: uploads, the board's work, and the rest (digests).
        "QUEUES": ["default", "uploads", "board"],
    }
}
# Workers `manage.py run_workers` starts for the uploads queue (one provider's uploads are
# checked or saved one at a time, so this many providers upload at once without waiting).
UPLOAD_WORKERS = envint("UPLOAD_WORKERS", 2)
# A task whose worker stopped (killed, machine restarted) is put back in its queue after this
# long without progress: uploads by their heartbeat, other tasks since they started.
TASK_STALE_MINUTES = envint("TASK_STALE_MINUTES", 10)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Lockout after repeated failed logins, admin login included (django-axes).
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "pars_portal.lib.logins.axes_username"
# Behind N trusted proxies (TRUSTED_PROXY_COUNT), the client's address is taken from
# X-Forwarded-For as the proxies set it, for the lockout and the API's throttles alike.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "pars_portal.lib.logins.client_address"
# Past this many failed logins of one username from anywhere in the window, each further
# attempt for it waits (a slow-down, never a lockout: pars_portal.lib.logins).
LOGIN_USERNAME_LIMIT = envint("LOGIN_USERNAME_LIMIT", 20)
LOGIN_USERNAME_WINDOW_MINUTES = envint("LOGIN_USERNAME_WINDOW_MINUTES", 15)
LOGIN_USERNAME_DELAY_SECONDS = envint("LOGIN_USERNAME_DELAY_SECONDS", 10)
PASSWORD_RESET_PER_ADDRESS = envint("PASSWORD_RESET_PER_ADDRESS", 3)  # an hour
PASSWORD_RESET_PER_CLIENT = envint("PASSWORD_RESET_PER_CLIENT", 10)  # an hour
# A staff invitation's "set your password" link works this many days, once
# (activities.staff.InvitationTokenGenerator); a manager can send a new one.
STAFF_INVITATION_DAYS = envint("STAFF_INVITATION_DAYS", 7)

# One cache for every process (throttles, login slow-downs, the admin import's files):
# Redis when REDIS_URL is set, else a table in the database (created by a migration).
REDIS_URL = envstr("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "pars_cache"}
    )
}
# The admin import keeps the uploaded file between its two steps in MEDIA_ROOT, under a
# name the portal made (a name sent back by the browser cannot point anywhere else).
IMPORT_EXPORT_TMP_STORAGE_CLASS = "pars_portal.lib.admin.ImportStorage"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True

# Domain rules that pars-spec marks "our rule" live here, not in code.
# provisional: accepted after the portal's roster check; board: accepted only when ABIM confirms.
ACCEPTANCE_MODE = envstr("ACCEPTANCE_MODE", "provisional")
LEGACY_MODULE_CODE_SUNSET = envstr("LEGACY_MODULE_CODE_SUNSET", "2017-01-01")
LATE_AFTER_COMPLETION_DAYS = envint("LATE_AFTER_COMPLETION_DAYS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
# Provisional verification: the local roster by default; a remote board client can replace it.
BOARD_VERIFIER = envstr("BOARD_VERIFIER", "participants.verification.RosterVerifier")
# For participants.verification.HttpBoardVerifier: the board's endpoint and its patience.
BOARD_ENDPOINT_URL = envstr("BOARD_ENDPOINT_URL")
BOARD_ENDPOINT_TOKEN = envstr("BOARD_ENDPOINT_TOKEN")
BOARD_TIMEOUT_SECONDS = float(envstr("BOARD_TIMEOUT_SECONDS", "10"))
BOARD_RETRIES = envint("BOARD_RETRIES", 2)
BOARD_BACKOFF_SECONDS = float(envstr("BOARD_BACKOFF_SECONDS", "1"))
# The board authenticates its answers (POST /api/v1/board/answers) with this token.
BOARD_ANSWER_TOKEN = envstr("BOARD_ANSWER_TOKEN")
# The intake pipeline validates and writes in batches of this many rows.
INTAKE_BATCH_SIZE = envint("INTAKE_BATCH_SIZE", 10_000)
# Uploads larger than this are refused before anything reads them.
UPLOAD_MAX_MB = envint("UPLOAD_MAX_MB", 50)
# A check or save with no progress for this long may be retried (its worker died).
UPLOAD_STALE_MINUTES = envint("UPLOAD_STALE_MINUTES", 10)

# Failed roster checks (ID not found, birth date does not match) per provider and window,
# across every channel: past the limit, records are held unchecked (verification.RosterGuard).
ROSTER_FAILURE_LIMIT = envint("ROSTER_FAILURE_LIMIT", 1000)
ROSTER_FAILURE_WINDOW_HOURS = envint("ROSTER_FAILURE_WINDOW_HOURS", 24)

# Web services (/api/v1/): per-provider API keys, per-key throttling.
API_MAX_RECORDS = envint("API_MAX_RECORDS", 10_000)
# A 10,000-record XML learner report is about 8 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("API_MAX_BODY_MB", 25) * 1024 * 1024
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["participants.apikeys.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["participants.apibase.JSONBodyParser"],
    "EXCEPTION_HANDLER": "participants.apibase.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "api_key": envstr("API_RATE", "6000/min"),
        "learner_match": envstr("API_LEARNER_MATCH_RATE", "60/min"),
        "invalid_key": envstr("API_INVALID_KEY_RATE", "30/min"),
    },
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXY_COUNT or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PARS Portal web services",
    "DESCRIPTION": (
        "Report participant completions for ABIM MOC from a learning management system. "
        "Authenticate with `Authorization: Bearer <API key>`; create keys in the portal "
        "under API. Sandbox keys validate and store records but never send them to ABIM."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from the package, never a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The draft's module status ("Completed") is not a record's status: name it apart.
    "ENUM_NAME_OVERRIDES": {"ModuleStatusEnum": ["Completed"]},
    # No call to the public validator service: the docs page talks only to this portal.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "PREPROCESSING_HOOKS": ["participants.board_api.provider_endpoints"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "participants.api.strict_request_schemas",
        "participants.learner_activity_api.learner_report_components",
    ],
}
# Links in emails point here.
PORTAL_BASE_URL = envstr("PORTAL_BASE_URL", "http://127.0.0.1:8000")
