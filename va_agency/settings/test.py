"""The test suite: whatever DATABASE_URL / REDIS_URL say, else SQLite and the filesystem broker."""

import os
import tempfile
import uuid

from .base import *  # noqa: F403

SECRET_KEY = "test-only-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Jobs run in-process unless a test starts a real worker (tests/core/test_jobs.py); a
# worker process a test starts is given the test's queue and runs its jobs for real.
CELERY_TASK_ALWAYS_EAGER = "CELERY_TEST_QUEUE" not in os.environ
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Rate limits are tested on purpose; other tests log in many times from one address.
ACCOUNT_RATE_LIMITS = False
STATIC_ROOT = None  # static files come from the finders; nothing is collected in tests

# Each test run gets its own queue, so a real worker started by a test never picks up
# another run's jobs (on Redis) or a stale folder (on the filesystem transport).
CELERY_TASK_DEFAULT_QUEUE = (
    os.environ.get("CELERY_TEST_QUEUE") or f"va-test-{uuid.uuid4().hex[:12]}"
)
if not REDIS_URL:  # noqa: F405
    _broker_dir = tempfile.mkdtemp(prefix="va-test-broker-")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "control_folder": _broker_dir,
        "store_processed": False,
    }
