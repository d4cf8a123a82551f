"""Assistants' time off (assistants.time_off): asking, approving with a cover or the skill
pool, declining, cancelling; the dates on the assistant's calendar; the pages and the API."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from assistants import time_off
from assistants.models import TimeOff, TimeOffStatus
from contracts.models import ContractAssistant
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification, NotificationKind
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory

# Mon 2 March 2026, 02:00 UTC: still Sunday 1 March in Los Angeles, Monday in Tokyo.
EARLY_MONDAY_UTC = "2026-03-02 02:00Z"


@pytest.fixture
def world(agency, member, time_machine):
    time_machine.move_to(EARLY_MONDAY_UTC, tick=False)
    inbox = CategoryFactory(agency=agency, name="Inbox management")
    books = CategoryFactory(agency=agency, name="Bookkeeping")
    acme = ClientFactory(agency=agency, name="Acme", time_zone="America/New_York")
    for category in (inbox, books):
        contract = ContractFactory(agency=agency, client=acme, status="active")
        LineFactory(
            agency=agency,
            contract=contract,
            service=ServiceFactory(agency=agency, category=category),
        )
    dee = AssistantProfileFactory(agency=agency, time_zone="America/Los_Angeles").membership
    with agency_scope(agency):
        for contract in acme.contracts.all():  # both of Acme's contracts are Dee's
            ContractAssistant.objects.create(agency=agency, contract=contract, membership=dee)
    return {
        "agency": agency,
        "acme": acme,
        "dee": dee,
        "cody": AssistantProfileFactory(agency=agency, skills=[inbox, books]).membership,
        "half": AssistantProfileFactory(agency=agency, skills=[inbox]).membership,
        "owner": member(Role.OWNER),
        "client_people": [member(Role.CLIENT, client=acme) for _ in range(2)],
    }


def ask(world, first, last, who="dee", **kwargs):
    with agency_scope(world["agency"]):
        return time_off.time_off_request(
            agency=world["agency"],
            actor=world[who].user,
            membership=world[who],
            starts_on=first,
            ends_on=last,
            **kwargs,
        )


def approve(world, asked, cover=None, **kwargs):
    with agency_scope(world["agency"]):
        return time_off.time_off_approve(
            agency=world["agency"],
            actor=world["owner"].user,
            time_off=asked,
            cover=cover,
            **kwargs,
        )


def audit(world, asked):
    with scopes_disabled():
        return list(
            AuditEvent.objects.filter(target_type="assistants.timeoff", target_id=str(asked.pk))
            .order_by("pk")
            .values_list("action", flat=True)
        )


D = dt.date


# -- asking ------------------------------------------------------------------------------------


def test_a_request_is_days_on_the_assistants_own_calendar(world):
    asked = ask(world, D(2026, 3, 1), D(2026, 3, 3), note="Family visit")
    assert asked.status == TimeOffStatus.PENDING and asked.time_zone == "America/Los_Angeles"
    # Midnight in Los Angeles (PST, UTC-8) on the first day, and the midnight after the last.
    assert asked.starts_at == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    assert asked.ends_at == dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC)
    assert asked.days == 3
    assert audit(world, asked) == ["time_off.requested"]


def test_today_is_the_assistants_today(world, agency):
    tokyo = AssistantProfileFactory(agency=agency, time_zone="Asia/Tokyo").membership
    world["tokyo"] = tokyo
    # Sunday 1 March is still today in Los Angeles, but gone in Tokyo.
    ask(world, D(2026, 3, 1), D(2026, 3, 1))
    with pytest.raises(ApplicationError) as refused:
        ask(world, D(2026, 3, 1), D(2026, 3, 1), who="tokyo")
    assert refused.value.code == "time_off_in_the_past"
    assert "Mon 2 Mar 2026" in refused.value.message and "Asia/Tokyo" in refused.value.message


def test_a_dst_change_moves_the_instants_not_the_days(world):
    # Los Angeles moves to PDT (UTC-7) on Sunday 8 March 2026.
    asked = ask(world, D(2026, 3, 7), D(2026, 3, 9))
    assert asked.starts_at == dt.datetime(2026, 3, 7, 8, tzinfo=dt.UTC)
    assert asked.ends_at == dt.datetime(2026, 3, 10, 7, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first", "last", "code", "field"),
    [
        (D(2026, 3, 5), D(2026, 3, 4), "time_off_ends_before_start", "ends_on"),
        (D(2026, 3, 5), D(2027, 3, 6), "time_off_too_long", "ends_on"),
        (D(2029, 1, 1), D(2029, 1, 2), "time_off_too_far", "starts_on"),
    ],
)
def test_impossible_days_are_refused_with_a_reason(world, first, last, code, field):
    with pytest.raises(ApplicationError) as refused:
        ask(world, first, last)
    assert refused.value.code == code and refused.value.extra["field"] == field


def test_overlapping_requests_are_refused_with_the_one_they_overlap(world):
    first = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    with pytest.raises(ApplicationError) as refused:
        ask(world, D(2026, 3, 12), D(2026, 3, 14))
    assert refused.value.code == "time_off_overlaps"
    assert "Tue 10 Mar 2026 to Thu 12 Mar 2026" in refused.value.message
    assert refused.value.extra["overlaps"] == first.pk
    ask(world, D(2026, 3, 13), D(2026, 3, 14))  # the next day is free
    # A declined or cancelled request frees its days.
    with agency_scope(world["agency"]):
        time_off.time_off_decline(agency=world["agency"], actor=world["owner"].user, time_off=first)
    ask(world, D(2026, 3, 11), D(2026, 3, 11))


def test_only_the_assistant_asks_for_their_own(world):
    with agency_scope(world["agency"]), pytest.raises(ApplicationError) as refused:
        time_off.time_off_request(
            agency=world["agency"],
            actor=world["owner"].user,
            membership=world["dee"],
            starts_on=D(2026, 3, 10),
            ends_on=D(2026, 3, 10),
        )
    assert refused.value.code == "time_off_not_yours"


# -- deciding ----------------------------------------------------------------------------------


def test_approve_with_a_cover_tells_each_client_person_once(
    world, django_capture_on_commit_callbacks
):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    with django_capture_on_commit_callbacks(execute=True):
        approved = approve(world, asked, cover=world["cody"], note="Enjoy")
    assert approved.status == TimeOffStatus.APPROVED and approved.cover_id == world["cody"].pk
    assert approved.decided_at is not None and approved.decision_note == "Enjoy"
    assert audit(world, asked) == ["time_off.requested", "time_off.approved"]
    with scopes_disabled():
        told = list(Notification.objects.filter(kind=NotificationKind.COVER_ARRANGED))
    # Two contracts of Acme are dedicated to Dee; each of its two people hears once.
    assert sorted(n.recipient_id for n in told) == sorted(p.user_id for p in world["client_people"])
    cody = world["cody"].user
    assert all(str(cody) in n.title and "Tue 10 Mar 2026" in n.body for n in told)
    # Back at the midnight after the 12th in Los Angeles: 03:00 on the 13th in New York.
    assert all("Fri 13 Mar 2026, 03:00 EDT" in n.title for n in told)
    assert len(mail.outbox) == 2
    assert {m.to[0] for m in mail.outbox} == {p.user.email for p in world["client_people"]}


def test_approve_without_a_cover_says_the_team_covers(world):
    approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 12)))
    with scopes_disabled():
        titles = set(Notification.objects.values_list("title", flat=True))
    assert len(titles) == 1 and titles.pop().startswith("Our team covers for")


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("dee", "time_off_cover_self"),
        ("half", "time_off_cover_unskilled"),
        ("owner", "time_off_cover_invalid"),
    ],
)
def test_a_cover_must_be_another_active_assistant_with_the_skills(world, who, code):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    with pytest.raises(ApplicationError) as refused:
        approve(world, asked, cover=world[who])
    assert refused.value.code == code and refused.value.extra["field"] == "cover"
    asked.refresh_from_db()
    assert asked.status == TimeOffStatus.PENDING


def test_a_cover_away_at_the_same_time_is_refused(world):
    approve(world, ask(world, D(2026, 3, 11), D(2026, 3, 11), who="cody"))
    with pytest.raises(ApplicationError) as refused:
        approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 12)), cover=world["cody"])
    assert refused.value.code == "time_off_cover_away"


def test_a_cover_of_another_agency_is_refused(world, other_agency):
    stranger = AssistantProfileFactory(agency=other_agency).membership
    with pytest.raises(ApplicationError) as refused:
        approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 12)), cover=stranger)
    assert refused.value.code == "time_off_cover_invalid"


def test_decline_with_a_note_and_no_second_decision(world):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    with agency_scope(world["agency"]):
        declined = time_off.time_off_decline(
            agency=world["agency"], actor=world["owner"].user, time_off=asked, note="Busy week"
        )
    assert declined.status == TimeOffStatus.DECLINED and declined.decision_note == "Busy week"
    with pytest.raises(ApplicationError) as refused:
        approve(world, asked)
    assert refused.value.code == "time_off_not_pending"
    assert audit(world, asked) == ["time_off.requested", "time_off.declined"]
    with scopes_disabled():
        assert not Notification.objects.exists()


def test_time_off_already_over_cannot_be_approved(world, time_machine):
    asked = ask(world, D(2026, 3, 2), D(2026, 3, 2))
    time_machine.move_to("2026-03-03 09:00Z", tick=False)  # past midnight in Los Angeles
    with pytest.raises(ApplicationError) as refused:
        approve(world, asked)
    assert refused.value.code == "time_off_over"


# -- cancelling --------------------------------------------------------------------------------


def cancel(world, asked, who="dee"):
    with agency_scope(world["agency"]):
        return time_off.time_off_cancel(
            agency=world["agency"], actor=world[who].user, membership=world[who], time_off=asked
        )


def test_cancel_before_it_starts_and_clients_hear_it_is_off(world):
    asked = approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 12)), cover=world["cody"])
    cancelled = cancel(world, asked)
    assert cancelled.status == TimeOffStatus.CANCELLED and cancelled.cancelled_at is not None
    assert audit(world, asked) == ["time_off.requested", "time_off.approved", "time_off.cancelled"]
    with scopes_disabled():
        occasions = sorted(Notification.objects.values_list("occasion", flat=True))
    assert occasions == ["approved", "approved", "cancelled", "cancelled"]


def test_cancel_is_refused_once_begun_or_for_someone_else(world, time_machine):
    asked = ask(world, D(2026, 3, 2), D(2026, 3, 4))
    with pytest.raises(ApplicationError) as refused:
        cancel(world, asked, who="cody")
    assert refused.value.code == "time_off_not_yours"
    time_machine.move_to("2026-03-02 08:00Z", tick=False)  # midnight in Los Angeles
    with pytest.raises(ApplicationError) as refused:
        cancel(world, asked)
    assert refused.value.code == "time_off_started"


# -- pages ------------------------------------------------------------------------------------


def page(world, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": world["agency"].slug, **kwargs})


def test_the_assistant_asks_on_their_page_and_sees_the_state(world, signed_in):
    http = signed_in(world["dee"].user)
    response = http.post(
        page(world, "my_time_off"),
        {"starts_on": "2026-03-10", "ends_on": "2026-03-12", "note": "Wedding"},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Waiting for approval" in html and "Tue 10 Mar 2026 to Thu 12 Mar 2026" in html
    assert "Tasks already assigned to you stay with you" in html
    assert (
        page(world, "my_time_off") in http.get(page(world, "my_assistant_profile")).content.decode()
    )


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"starts_on": "2026-03-12", "ends_on": "2026-03-10"}, "ends_on", "before the first"),
        ({"starts_on": "2026-02-20", "ends_on": "2026-02-21"}, "starts_on", "has passed"),
        ({"starts_on": "soon", "ends_on": "2026-03-10"}, "starts_on", "valid date"),
        ({"starts_on": "99999-01-01", "ends_on": "2026-03-10"}, "starts_on", "valid date"),
    ],
)
def test_bad_days_on_the_page_are_form_errors(world, signed_in, data, field, reason):
    response = signed_in(world["dee"].user).post(page(world, "my_time_off"), data)
    assert response.status_code == 200
    assert any(reason in error for error in response.context["form"].errors[field])
    with scopes_disabled():
        assert not TimeOff.objects.exists()


def test_the_assistant_cancels_on_their_page(world, signed_in):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    http = signed_in(world["dee"].user)
    assert "Cancel</button>" in http.get(page(world, "my_time_off")).content.decode()
    response = http.post(page(world, "my_time_off_cancel", pk=asked.pk), follow=True)
    assert "Cancelled your time off" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == TimeOffStatus.CANCELLED


def test_staff_list_puts_waiting_requests_first(world, signed_in):
    decided = approve(world, ask(world, D(2026, 4, 1), D(2026, 4, 2)))
    waiting = ask(world, D(2026, 5, 1), D(2026, 5, 2))
    other = ask(world, D(2026, 3, 20), D(2026, 3, 20), who="cody")
    response = signed_in(world["owner"].user).get(page(world, "time_off_list"))
    assert [row.time_off.pk for row in response.context["rows"]] == [
        other.pk,
        waiting.pk,
        decided.pk,
    ]
    response = signed_in(world["owner"].user).get(page(world, "time_off_list") + "?status=approved")
    assert [row.time_off.pk for row in response.context["rows"]] == [decided.pk]


def test_staff_list_queries_do_not_grow_with_rows(world, agency, signed_in, count_queries):
    http = signed_in(world["owner"].user)
    url = page(world, "time_off_list")
    approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 10)), cover=world["cody"])
    assert len(http.get(url).context["rows"]) == 1
    few = count_queries(lambda: http.get(url))
    for n in range(30):
        person = AssistantProfileFactory(agency=agency).membership
        world[f"p{n}"] = person
        asked = ask(world, D(2026, 3, 10), D(2026, 3, 11), who=f"p{n}")
        if n % 2:
            approve(world, asked, cover=world["cody"] if n % 4 == 1 else None)
    response = http.get(url)
    assert len(response.context["rows"]) == 25 and response.context["page"].has_next()
    assert count_queries(lambda: http.get(url)) == few


def test_my_page_queries_do_not_grow_with_rows(world, signed_in, count_queries):
    http = signed_in(world["dee"].user)
    url = page(world, "my_time_off")
    approve(world, ask(world, D(2026, 3, 10), D(2026, 3, 10)), cover=world["cody"])
    http.get(url)
    few = count_queries(lambda: http.get(url))
    for n in range(12):
        asked = ask(
            world,
            D(2026, 4, 1) + dt.timedelta(days=2 * n),
            D(2026, 4, 1) + dt.timedelta(days=2 * n),
        )
        if n % 2:
            approve(world, asked, cover=world["cody"])
    assert len(http.get(url).context["rows"]) == 13
    assert count_queries(lambda: http.get(url)) == few


def test_staff_approve_with_a_cover_on_the_review_page(world, signed_in):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    http = signed_in(world["owner"].user)
    html = http.get(page(world, "time_off_review", pk=asked.pk)).content.decode()
    # Only who has every skill the dedicated work needs is offered.
    assert f'value="{world["cody"].pk}"' in html and f'value="{world["half"].pk}"' not in html
    assert "Tasks already assigned stay with whoever has them" in html
    response = http.post(
        page(world, "time_off_review", pk=asked.pk),
        {"decision": "approve", "cover": world["cody"].pk, "decision_note": "Fine"},
        follow=True,
    )
    assert "takes their dedicated work meanwhile" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == TimeOffStatus.APPROVED and asked.cover_id == world["cody"].pk


def test_a_review_page_refuses_a_cover_not_offered_and_a_missing_decision(world, signed_in):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    http = signed_in(world["owner"].user)
    url = page(world, "time_off_review", pk=asked.pk)
    response = http.post(url, {"decision": "approve", "cover": world["half"].pk})
    assert response.status_code == 200 and response.context["form"].errors["cover"]
    response = http.post(url, {"cover": ""})
    assert response.status_code == 200 and "Press Approve or Decline." in response.content.decode()
    response = http.post(url, {"decision": "decline", "decision_note": "x" * 501})
    assert response.status_code == 200 and response.context["form"].errors["decision_note"]
    asked.refresh_from_db()
    assert asked.status == TimeOffStatus.PENDING


def test_staff_decline_on_the_review_page(world, signed_in):
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    response = signed_in(world["owner"].user).post(
        page(world, "time_off_review", pk=asked.pk),
        {"decision": "decline", "decision_note": "Quarter end"},
        follow=True,
    )
    assert "Declined" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == TimeOffStatus.DECLINED and asked.decision_note == "Quarter end"


# -- API ---------------------------------------------------------------------------------------


def endpoint(world, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": world["agency"].slug, **kwargs})


def test_api_ask_once_per_idempotency_key_and_list(world, api):
    http = api(world["dee"].user)
    body = {"starts_on": "2026-03-10", "ends_on": "2026-03-12", "note": "Wedding"}
    first = http.post(
        endpoint(world, "my-time-off"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = http.post(
        endpoint(world, "my-time-off"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert (
        first.json()["status"] == "pending" and first.json()["time_zone"] == "America/Los_Angeles"
    )
    listed = http.get(endpoint(world, "my-time-off")).json()
    assert [row["id"] for row in listed["results"]] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"starts_on": "2026-03-12", "ends_on": "2026-03-10"}, "invalid"),
        ({"starts_on": "tomorrow", "ends_on": "2026-03-10"}, "invalid"),
        ({"starts_on": "2026-02-01", "ends_on": "2026-02-02"}, "time_off_in_the_past"),
    ],
)
def test_api_bad_days_are_a_400_with_a_reason(world, api, body, code):
    response = api(world["dee"].user).post(endpoint(world, "my-time-off"), body, format="json")
    assert response.status_code == 400 and response.json()["code"] == code


def test_api_overlap_is_a_400(world, api):
    ask(world, D(2026, 3, 10), D(2026, 3, 12))
    response = api(world["dee"].user).post(
        endpoint(world, "my-time-off"),
        {"starts_on": "2026-03-11", "ends_on": "2026-03-15"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "time_off_overlaps"


def test_api_staff_approve_decline_and_the_assistant_cancels(world, api):
    staff = api(world["owner"].user)
    one = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    two = ask(world, D(2026, 3, 20), D(2026, 3, 21))
    listed = staff.get(endpoint(world, "time-off-list") + "?status=pending").json()
    assert [row["id"] for row in listed["results"]] == [one.pk, two.pk]
    response = staff.post(
        endpoint(world, "time-off-approve", pk=one.pk),
        {"cover": world["cody"].pk, "note": "ok"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "approved" and response.json()["cover"] == world["cody"].pk
    again = staff.post(endpoint(world, "time-off-approve", pk=one.pk), {}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "time_off_not_pending"
    response = staff.post(
        endpoint(world, "time-off-decline", pk=two.pk), {"note": "no"}, format="json"
    )
    assert response.json()["status"] == "declined"
    cancelled = api(world["dee"].user).post(endpoint(world, "my-time-off-cancel", pk=one.pk))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    bad = staff.get(endpoint(world, "time-off-list") + "?status=maybe")
    assert bad.status_code == 400


def test_api_cover_of_another_agency_is_a_400(world, api, other_agency):
    stranger = AssistantProfileFactory(agency=other_agency).membership
    asked = ask(world, D(2026, 3, 10), D(2026, 3, 12))
    response = api(world["owner"].user).post(
        endpoint(world, "time-off-approve", pk=asked.pk), {"cover": stranger.pk}, format="json"
    )
    assert response.status_code == 400
