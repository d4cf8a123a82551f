from celery import Celery

from .environment import use_settings_from_environment

use_settings_from_environment()

app = Celery("va_agency")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Jobs live in each app's jobs.py (never tasks.py: `tasks` is a domain app here).
app.autodiscover_tasks(related_name="jobs")
