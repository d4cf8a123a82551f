"""Local development: the embedded defaults (SQLite, filesystem broker, console e-mail)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "development-only-key-never-used-in-production"  # noqa: F405
STATIC_ROOT = None  # runserver serves static files from the apps and static/ directly

# Links in e-mails point at the port `make run` serves on.
SITE_URL = env.str("SITE_URL", default=f"http://localhost:{env.int('WEB_PORT', default=8000)}")

# The in-repo Stripe test server (python -m stripe_test_server), any sk_test_ key. Procfile.dev
# starts it on STRIPE_TEST_SERVER_PORT, sending the demo agency's webhooks signed with the
# same development secret.
STRIPE_API_BASE = env.str(
    "STRIPE_API_BASE",
    default=f"http://127.0.0.1:{env.int('STRIPE_TEST_SERVER_PORT', default=12111)}",
)
STRIPE_SECRET_KEY = STRIPE_SECRET_KEY or "sk_test_platform"  # noqa: F405
STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_development_only"  # noqa: F405
