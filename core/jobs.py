"""Celery plumbing: every agency job runs inside its agency's scope."""

from celery import Task


class AgencyJob(Task):
    """Base for jobs that act in one agency.

    Queue with `job.delay(agency_id=..., ...)`; the job body receives `agency` (the loaded
    Agency) and runs inside its scope, so its queries are fenced exactly as a request's.
    """

    def __call__(self, *args, agency_id: int, **kwargs):
        from accounts.models import Agency
        from core.tenancy import agency_scope

        agency = Agency.objects.get(pk=agency_id)
        with agency_scope(agency):
            return super().__call__(*args, agency=agency, **kwargs)
