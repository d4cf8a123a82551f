"""Local development: the embedded defaults (SQLite, filesystem broker, console e-mail)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "development-only-key-never-used-in-production"  # noqa: F405
STATIC_ROOT = None  # runserver serves static files from the apps and static/ directly
