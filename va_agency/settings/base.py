"""Settings shared by every environment. Everything that differs comes from the environment."""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

from core.storage import file_storage

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
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
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "core",
    "accounts",
    "notifications",
    "clients",
    "contracts",
    "assistants",
    "tasks",
    "billing",
    "reports",
    # The project itself: the management commands that span every app (seed_demo).
    "va_agency",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.PlatformAdminScopeMiddleware",
]

ROOT_URLCONF = "va_agency.urls"
WSGI_APPLICATION = "va_agency.wsgi.application"

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
                "accounts.context_processors.tenancy",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

if not env.str("DATABASE_URL", default=""):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded SQLite file lives here
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, plus the agency scope passed on for row-level security.
    DATABASES["default"]["ENGINE"] = "core.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the embedded file. Writers take the lock when their
    # transaction begins and wait up to 20 s for it, instead of failing with "database is
    # locked" when a reading transaction tries to start writing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")


def _next_redis_database(url: str) -> str:
    """The same Redis server, one database number up: redis://h:6379/0 -> redis://h:6379/1."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{number + 1}"))


if REDIS_URL:
    # The cache never shares a Redis database with the broker's queues: clearing the cache
    # (FLUSHDB) must not wipe queued jobs.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("REDIS_CACHE_URL", default=_next_redis_database(REDIS_URL)),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The largest request body read into memory (Django's default, 2.5 MB): forms, webhooks and
# the API's JSON alike. Files are not counted; attachments have their own bound below.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail is the login; addresses must be verified; TOTP second factor.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[VA Agency] "
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, stated so the limits are visible and reviewed here.
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "VA Agency"

# API tokens (knox): only a hash of each is stored; the prefix makes a leaked one easy to
# recognise (secret scanners). Each token has the expiry its owner chose when making it.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's migrations would make its own token table, which nothing uses with ours in its
# place (and which a test database's flush would not empty).
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"TOKEN_TTL": None, "TOKEN_PREFIX": "vaa_", "AUTO_REFRESH": False}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so that an anonymous API call is a 401 with WWW-Authenticate.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    # JSON of bounded depth (core.api.parsers); every body is bounded in size by
    # DATA_UPLOAD_MAX_MEMORY_SIZE.
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VA Agency API",
    "DESCRIPTION": "Every path under /api/v1/a/<agency_slug>/ acts inside that one agency.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "core.roles.Role",
        "InvitableRoleEnum": "core.roles.INVITABLE_ROLE_CHOICES",
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "ChargeKindEnum": "billing.models.ChargeKind",
        "ChargeStatusEnum": "billing.models.ChargeStatus",
    },
}

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # A job held by a worker that died unacknowledged is handed out again after this long.
    # It must outlast the longest retry countdown (billing backs off up to 10 minutes), or
    # a waiting retry is handed to a second worker early.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_IGNORE_RESULT = True
# A job is acknowledged only once it has run, so a worker that dies mid-job leaves it queued.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Schedules live in the database, editable by platform staff in the Django admin; beat
# copies CELERY_BEAT_SCHEDULE below into it on start (the defaults, never duplicated).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="VA Agency <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
# Task attachments go to the default storage: MEDIA_ROOT, or with FILE_STORAGE=s3 a private
# bucket every web host shares (core.storage reads the AWS_* variables).
STORAGES = {
    "default": file_storage(env),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Absolute links in e-mails sent from jobs, where there is no request to build them from.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
# Anyone may sign up and start an agency; set to false for an invitation-only deployment.
ACCOUNT_SIGNUP_OPEN = env.bool("ACCOUNT_SIGNUP_OPEN", default=True)

# Task attachments: kept in the default storage (above) under random names, served only
# after a permission check (never as public media).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENT_EXTENSIONS = frozenset(
    [
        *("pdf", "txt", "csv", "md", "eml", "zip"),
        *("png", "jpg", "jpeg", "gif", "webp"),
        *("doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods"),
    ]
)

# Inbound mail (tasks.inbound): clients' intake addresses and reply addresses are at this
# domain; the provider's webhook is verified with the signing key (no key: every call is
# refused). See README, Inbound mail.
INBOUND_EMAIL_DOMAIN = env.str("INBOUND_EMAIL_DOMAIN", default="inbound.localhost")
INBOUND_EMAIL_SIGNING_KEY = env.str("INBOUND_EMAIL_SIGNING_KEY", default="")
# Or a mailbox read by `manage.py read_inbound_mail --imap` (over TLS).
INBOUND_IMAP_HOST = env.str("INBOUND_IMAP_HOST", default="")
INBOUND_IMAP_PORT = env.int("INBOUND_IMAP_PORT", default=993)
INBOUND_IMAP_USER = env.str("INBOUND_IMAP_USER", default="")
INBOUND_IMAP_PASSWORD = env.str("INBOUND_IMAP_PASSWORD", default="")

# Beat's periodic sweeps (run by the `beat` process beside the worker).
CELERY_BEAT_SCHEDULE = {
    # Recurring client requests become tasks; locked per row, so overlapping runs are safe.
    "create-due-recurring-tasks": {
        "task": "tasks.jobs.create_due_recurring_tasks",
        "schedule": 5 * 60.0,
    },
    # Each retainer's monthly fee, made at the start of the client's month (idempotent).
    "charge-retainer-fees": {
        "task": "billing.jobs.charge_retainer_fees",
        "schedule": 60 * 60.0,
    },
}

# Stripe (billing.stripe_access). An agency that connects its own account bills through
# it; otherwise the platform's key does. No key at all: nothing is pushed to Stripe and
# charges wait, unbilled, until one is configured.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# None: Stripe itself. Development points it at the in-repo test server.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default=None)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
# A Fernet key for agencies' Stripe secrets at rest; derived from SECRET_KEY when unset
# (so rotating SECRET_KEY then needs the agencies to reconnect).
STRIPE_KEYS_ENCRYPTION_KEY = env.str("STRIPE_KEYS_ENCRYPTION_KEY", default="")

# Weekly and monthly invoices, once each client's period has ended in their zone; hourly
# so every zone's Monday / first of the month is caught within the hour (idempotent).
CELERY_BEAT_SCHEDULE["close-billing-periods"] = {
    "task": "billing.jobs.close_billing_periods",
    "schedule": 60 * 60.0,
}

# Reminders and notifications: sweeps read only what has come due (indexed windows), and
# each reminder is sent once (a unique row per recipient, kind, object and occasion).
CELERY_BEAT_SCHEDULE["sweep-task-reminders"] = {
    "task": "tasks.jobs.sweep_task_reminders",
    "schedule": 5 * 60.0,
}
CELERY_BEAT_SCHEDULE["sweep-billing-reminders"] = {
    "task": "billing.jobs.sweep_billing_reminders",
    "schedule": 15 * 60.0,
}
# Late fees once their day has come (billing.late_fees); one per invoice however often run.
CELERY_BEAT_SCHEDULE["sweep-late-fees"] = {
    "task": "billing.jobs.sweep_late_fees",
    "schedule": 60 * 60.0,
}
# E-mails that waited (an assistant's shift, a client's digest hour) or failed to queue.
# Idempotency keys live 24 hours (core.idempotency); older ones are refused on read anyway.
CELERY_BEAT_SCHEDULE["purge-idempotency-keys"] = {
    "task": "core.jobs.purge_idempotency_keys",
    "schedule": 60 * 60.0,
}
CELERY_BEAT_SCHEDULE["deliver-due-notification-emails"] = {
    "task": "notifications.jobs.deliver_due_emails",
    "schedule": 5 * 60.0,
}
