"""Local development: the embedded defaults (SQLite, filesystem broker, console e-mail)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "development-only-key-never-used-in-production"  # noqa: F405
STATIC_ROOT = None  # runserver serves static files from the apps and static/ directly

# The in-repo Stripe test server (python -m stripe_test_server), any sk_test_ key.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="http://127.0.0.1:12111")
STRIPE_SECRET_KEY = STRIPE_SECRET_KEY or "sk_test_platform"  # noqa: F405
