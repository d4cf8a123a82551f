from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        # Every app's jobs are registered with Celery at start, in web processes too, so a
        # service may queue a job by name (core.jobs.queue_job) without importing it.
        autodiscover_modules("jobs")
        # Row-level security follows the tables: applied again after every migrate.
        from django.db.models.signals import post_migrate

        from core.row_security import _after_migrate

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="core.row_security")
