"""Agency jobs: queued with an agency id, run inside that agency's scope, on a real worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from accounts import jobs, services
from accounts.models import Agency
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import InvitationFactory, MembershipFactory
from va_agency.celery import app


def wait_for(condition, seconds=30):
    """Poll a condition the worker will make true; fail if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.05)


def test_a_job_must_be_queued_with_its_agency(db):
    with pytest.raises(TypeError, match="agency_id"):
        jobs.send_invitation.delay(invitation_id=1)
    with pytest.raises(TypeError):
        jobs.send_invitation.delay(agency_id=1, no_such_argument=2)


def test_a_job_sees_only_its_own_agency(agency, other_agency):
    theirs = InvitationFactory(agency=other_agency)
    jobs.send_invitation.delay(agency_id=agency.pk, invitation_id=theirs.pk)
    assert mail.outbox == []  # the other agency's invitation is invisible to this job
    jobs.send_invitation.delay(agency_id=other_agency.pk, invitation_id=theirs.pk)
    assert [m.to for m in mail.outbox] == [[theirs.email]]


def test_a_job_for_an_agency_that_is_gone_fails_loudly(db):
    with pytest.raises(Agency.DoesNotExist):
        jobs.send_invitation.delay(agency_id=987654, invitation_id=1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_invitation_through_the_broker(agency):
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
            with agency_scope(agency):
                invitation = services.invitation_create(
                    agency=agency, actor=owner, email="remote@assist.test", role=Role.ASSISTANT
                )
            wait_for(lambda: len(mail.outbox) == 1)
    finally:
        app.conf.task_always_eager = True
    assert mail.outbox[0].to == ["remote@assist.test"]
    with agency_scope(agency):
        invitation.refresh_from_db()
    assert invitation.sent_at is not None
