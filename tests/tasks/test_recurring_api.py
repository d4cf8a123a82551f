"""Recurring requests in the API: what a client's people do on their pages (list, set up,
pause, resume), the same rules, their own client's only, and flat query counts."""

import datetime as dt

import pytest
from django.urls import reverse

from contracts.models import ContractLine
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks.models import RecurringRequest
from tests.tasks.test_recurring import at, make_portal, weekly_monday_nine


@pytest.fixture
def portal(agency, time_machine):
    time_machine.move_to("2026-03-02 15:00Z", tick=False)  # Monday 10:00 in New York (EST)
    return make_portal(agency)


def api_url(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


BODY = {
    "title": "Monday report",
    "template_data": {"audience": "Board"},
    "frequency": "weekly",
    "weekday": 0,
    "time_of_day": "09:00",
}


def test_a_client_sets_up_a_recurring_request(agency, portal, api):
    http = api(portal["person"].user)
    response = http.post(
        api_url(agency, "recurring-request-list"),
        {**BODY, "service": portal["service"].pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["schedule"] == "Every Monday at 09:00"
    assert body["next_run_at"] == "2026-03-09T13:00:00Z"  # 09:00 in New York (EDT)
    assert (body["client"], body["service_name"], body["is_active"]) == (
        portal["client"].pk,
        "Weekly report",
        True,
    )
    with agency_scope(agency):
        item = RecurringRequest.objects.get()
        assert item.created_by == portal["person"].user
        assert AuditEvent.objects.filter(action="recurring.created", target_id=str(item.pk))
    listed = http.get(api_url(agency, "recurring-request-list")).json()
    assert [row["id"] for row in listed["results"]] == [item.pk]
    assert http.get(api_url(agency, "recurring-request-detail", pk=item.pk)).json() == body


@pytest.mark.parametrize(
    "change,code",
    [
        ({"weekday": None}, "recurring_weekday_invalid"),
        ({"frequency": "monthly", "day_of_month": None}, "recurring_day_invalid"),
        ({"title": ""}, "task_title_required"),
        ({"template_data": {}}, "task_template_invalid"),
        ({"service": "unsold"}, "task_service_not_contracted"),
        ({"service": 2**40}, "task_service_not_contracted"),
        ({"weekday": 7}, "invalid"),
        ({"time_of_day": "25:00"}, "invalid"),
    ],
)
def test_the_rules_of_a_request_hold_with_a_reason(agency, portal, api, change, code):
    body = {**BODY, "service": portal["service"].pk, **change}
    if body["service"] == "unsold":
        body["service"] = portal["unsold"].pk
    response = api(portal["person"].user).post(
        api_url(agency, "recurring-request-list"), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    with agency_scope(agency):
        assert not RecurringRequest.objects.exists()


def test_pause_and_resume(agency, portal, api, time_machine):
    item = weekly_monday_nine(agency, portal)
    http = api(portal["person"].user)
    paused = http.post(api_url(agency, "recurring-request-pause", pk=item.pk))
    assert paused.status_code == 200 and paused.json()["is_active"] is False
    again = http.post(api_url(agency, "recurring-request-pause", pk=item.pk))
    assert again.status_code == 200 and again.json()["is_active"] is False
    time_machine.move_to("2026-03-25 12:00Z", tick=False)  # a Wednesday, weeks later
    resumed = http.post(api_url(agency, "recurring-request-resume", pk=item.pk))
    assert resumed.status_code == 200
    # The next occurrence after now, the missed weeks not made up.
    assert resumed.json()["is_active"] is True
    assert resumed.json()["next_run_at"] == "2026-03-30T13:00:00Z"
    with agency_scope(agency):
        actions = list(
            AuditEvent.objects.filter(target_id=str(item.pk))
            .order_by("pk")
            .values_list("action", flat=True)
        )
    assert actions == ["recurring.created", "recurring.paused", "recurring.resumed"]


def test_an_uncontracted_request_cannot_resume(agency, portal, api):
    item = weekly_monday_nine(agency, portal)
    http = api(portal["person"].user)
    http.post(api_url(agency, "recurring-request-pause", pk=item.pk))
    with agency_scope(agency):
        ContractLine.objects.filter(pk=portal["line"].pk).update(removed_at=at("2026-03-02 16:00"))
    response = http.post(api_url(agency, "recurring-request-resume", pk=item.pk))
    assert response.status_code == 400
    assert response.json()["code"] == "task_service_not_contracted"
    item.refresh_from_db()
    assert not item.is_active


def test_recurring_requests_are_the_clients_own_and_the_clients_only(agency, portal, api, member):
    item = weekly_monday_nine(agency, portal)
    stranger = api(member(Role.CLIENT).user)  # another client of the same agency
    assert stranger.get(api_url(agency, "recurring-request-list")).json()["results"] == []
    detail = api_url(agency, "recurring-request-detail", pk=item.pk)
    assert stranger.get(detail).status_code == 404
    pause = api_url(agency, "recurring-request-pause", pk=item.pk)
    assert stranger.post(pause).status_code == 404
    item.refresh_from_db()
    assert item.is_active
    # As on the pages, recurring requests are the client's own business.
    for role in (Role.ASSISTANT, Role.ADMIN, Role.OWNER):
        staff = api(member(role).user)
        assert staff.get(api_url(agency, "recurring-request-list")).status_code == 403
        assert staff.post(pause).status_code == 403


def test_the_list_costs_the_same_queries_for_1_and_30(agency, portal, api, count_queries):
    http = api(portal["person"].user)
    weekly_monday_nine(agency, portal)
    url = api_url(agency, "recurring-request-list")
    http.get(url)
    one = count_queries(lambda: http.get(url))
    for _ in range(29):
        weekly_monday_nine(agency, portal)
    many = count_queries(lambda: http.get(url))
    assert one == many
    assert http.get(url).json()["count"] == 30


def test_a_monthly_request_keeps_its_day(agency, portal, api):
    response = api(portal["person"].user).post(
        api_url(agency, "recurring-request-list"),
        {
            **BODY,
            "service": portal["service"].pk,
            "frequency": "monthly",
            "weekday": None,
            "day_of_month": 15,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["weekday"], body["day_of_month"]) == (None, 15)
    assert body["schedule"] == "Every month on day 15 at 09:00"
    assert dt.datetime.fromisoformat(body["next_run_at"]) == at("2026-03-15 13:00")
