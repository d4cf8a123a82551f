"""Monthly budget caps at request time: block, or ask the client to approve going over."""

import datetime as dt

import pytest
from django.urls import reverse

from billing.charges import charge_for_task, charge_write_off
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks import services as task_services
from tasks.models import Task
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

# $40.00/h, 15-minute steps, 30-minute minimum: the least a new request costs is $20.00.
HOURLY = {"hourly_rate": 4000, "rounding_increment_minutes": 15, "minimum_minutes": 30}


@pytest.fixture
def capped(agency, member, time_machine):
    """A Tokyo client whose hourly line may cost $50.00 a month, $40.00 of it already
    charged this month (one hour of work), and the client's member."""
    time_machine.move_to("2026-05-20 03:00Z", tick=False)
    client = ClientFactory(agency=agency, time_zone="Asia/Tokyo", currency="USD")
    contract = ContractFactory(
        agency=agency, client=client, status="active", starts_on=dt.date(2026, 1, 1)
    )
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, monthly_budget_cap=5000, **HOURLY)
    worked = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=dt.datetime(2026, 5, 19, tzinfo=dt.UTC),
        minutes_logged=60,
    )
    with agency_scope(agency):
        charge = charge_for_task(agency=agency, task=worked)
    person = member(Role.CLIENT, client=client)
    return {"line": line, "client": client, "person": person, "charge": charge}


def ask(agency, capped, **kwargs):
    with agency_scope(agency):
        return task_services.task_request(
            agency=agency,
            actor=capped["person"].user,
            client=capped["client"],
            service=capped["line"].service,
            title="One more thing",
            **kwargs,
        )


def set_behaviour(agency, capped, behaviour):
    with agency_scope(agency):
        capped["line"].terms.update(cap_behaviour=behaviour)


def test_a_blocking_cap_refuses_work_past_it(agency, capped):
    with pytest.raises(ApplicationError) as error:
        ask(agency, capped)  # $40 used + at least $20 > $50
    assert error.value.code == "task_budget_cap_reached"
    assert "$50.00" in error.value.message and "$40.00" in error.value.message
    with pytest.raises(ApplicationError):
        ask(agency, capped, over_cap_approved=True)  # blocking means blocking
    with agency_scope(agency):
        assert Task.objects.filter(title="One more thing").count() == 0


def test_an_asking_cap_needs_the_clients_approval(agency, capped):
    set_behaviour(agency, capped, "ask")
    with pytest.raises(ApplicationError) as error:
        ask(agency, capped)
    assert error.value.code == "task_budget_cap_needs_approval"
    assert error.value.extra["field"] == "over_cap_approved"
    task = ask(agency, capped, over_cap_approved=True)
    with agency_scope(agency):
        event = AuditEvent.objects.get(target_id=str(task.pk), action="task.requested")
    assert event.details["over_budget_cap_approved"] is True


def test_what_counts_against_the_cap(agency, capped, time_machine):
    # A small budget of its own fits: $40 + $5 <= $50.
    assert ask(agency, capped, max_budget=500).status == "queued"
    # Written-off work does not count.
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=None, charge=capped["charge"], reason="Goodwill")
    assert ask(agency, capped).status == "queued"
    # A new month in the client's zone starts from nothing: 15:00 UTC on May 31 is already
    # June 1 in Tokyo.
    time_machine.move_to("2026-05-31 15:30Z", tick=False)
    assert ask(agency, capped).status == "queued"


def test_the_request_form_asks_for_approval_next_to_the_checkbox(agency, capped, signed_in):
    set_behaviour(agency, capped, "ask")
    http = signed_in(capped["person"].user)
    url = reverse("client_task_create", args=[agency.slug])
    form = {
        "service": capped["line"].service_id,
        "title": "Over budget",
        "details": "",
        "priority": "1",
        "due_date": "",
        "due_time": "",
        "max_budget": "",
    }
    response = http.post(url, form)
    assert response.status_code == 200
    assert "over_cap_approved" in response.context["form"].errors
    assert b"I approve going over" in response.content
    response = http.post(url, {**form, "over_cap_approved": "on"})
    assert response.status_code == 302
    with agency_scope(agency):
        assert Task.objects.filter(title="Over budget").exists()


def test_the_api_refuses_then_accepts_with_approval(agency, capped, api):
    set_behaviour(agency, capped, "ask")
    http = api(capped["person"].user)
    url = reverse("api:task-list", args=[agency.slug])
    body = {"service": capped["line"].service_id, "title": "Over budget"}
    response = http.post(url, body, format="json")
    assert (response.status_code, response.json()["code"]) == (
        400,
        "task_budget_cap_needs_approval",
    )
    response = http.post(url, {**body, "over_cap_approved": True}, format="json")
    assert response.status_code == 201
