"""Celery plumbing shared by every app's jobs."""

from celery import current_app, shared_task

from core.idempotency import purge_expired
from core.tenancy import scopes_disabled


def queue_job(name: str, **kwargs):
    """Queue the job registered as `name` ("billing.jobs.bill_task") with these keyword
    arguments, as `job.delay(**kwargs)` would.

    For a service that must start a job of a module that imports it (its own app's jobs,
    which call its services) or of an app above it (tasks starting billing's work): by
    name, so imports still run one way. Every app's jobs module is imported when Django
    starts (core.apps), so the name is known in web processes as in workers.
    """
    return current_app.tasks[name].delay(**kwargs)


@shared_task
def purge_idempotency_keys() -> int:
    """Beat: drop idempotency keys past their 24 hours, across every agency."""
    with scopes_disabled():
        return purge_expired()
