"""Celery plumbing: every agency job runs inside its agency's scope."""

import inspect

from celery import Task


class AgencyJob(Task):
    """Base for jobs that act in one agency.

    Queue with `job.delay(agency_id=..., ...)`; the job body receives `agency` (the loaded
    Agency) and runs inside its scope, so its queries are fenced exactly as a request's.
    """

    # Callers pass agency_id where the body takes agency, so Celery's own argument check
    # would refuse every call; apply_async checks the arguments against the body instead.
    typing = False

    def apply_async(self, args=None, kwargs=None, **options):
        kwargs = dict(kwargs or {})
        if not isinstance(kwargs.get("agency_id"), int):
            raise TypeError(f"{self.name} must be queued with agency_id=<int>")
        others = {key: value for key, value in kwargs.items() if key != "agency_id"}
        inspect.signature(self.run).bind(*(args or ()), agency=None, **others)
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, agency_id: int, **kwargs):
        from accounts.models import Agency
        from core.tenancy import agency_scope

        agency = Agency.objects.get(pk=agency_id)
        with agency_scope(agency):
            return super().__call__(*args, agency=agency, **kwargs)
