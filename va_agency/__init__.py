from .celery import app as celery_app
from .environment import use_settings_from_environment

__all__ = ["celery_app", "use_settings_from_environment"]
