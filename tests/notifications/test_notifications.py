"""The notification centre (pages and API), preferences, the client's daily digest and the
header's unread count. Every member sees only their own notifications."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from core.working_hours import next_working_moment
from notifications.models import Notification
from notifications.selectors import member_recipients
from notifications.services import deliver_due_emails, notify

pytestmark = pytest.mark.django_db


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def make(agency, membership, *, kind="task_taken", occasion="1", title="Hello", target=None):
    with agency_scope(agency):
        person = member_recipients(agency=agency, membership_ids=[membership.pk])[membership.pk]
        return notify(
            agency=agency,
            recipient=person,
            kind=kind,
            target=target or membership,
            occasion=occasion,
            title=title,
            body="Body text",
            link=f"/a/{agency.slug}/",
        )


def test_notify_makes_one_row_per_occasion_and_emails_once(
    agency, member, django_capture_on_commit_callbacks
):
    person = member(Role.CLIENT)
    with django_capture_on_commit_callbacks(execute=True):
        first = make(agency, person)
        again = make(agency, person)
        other = make(agency, person, occasion="2")
    assert first is not None and again is None and other is not None
    assert [m.to for m in mail.outbox] == [[person.user.email]] * 2
    message = mail.outbox[0]
    assert message.subject == "Hello"
    assert f"http://localhost:8000/a/{agency.slug}/" in message.body
    assert message.alternatives[0][1] == "text/html"
    with scopes_disabled():
        assert Notification.objects.filter(emailed_at__isnull=False).count() == 2
    # Queued twice (a retry, a sweep): sent once.
    from notifications.jobs import send_notification_email

    send_notification_email.delay(agency_id=agency.pk, notification_id=first.pk)
    assert len(mail.outbox) == 2


def test_a_client_digest_collects_the_day_into_one_email(
    agency, member, time_machine, django_capture_on_commit_callbacks
):
    from notifications.services import preferences_update

    person = member(Role.CLIENT)  # client zone America/New_York (factory)
    with agency_scope(agency):
        preferences_update(
            agency=agency, actor=person.user, membership=person, daily_digest=True, digest_hour=8
        )
    time_machine.move_to("2026-05-04 15:00Z", tick=False)  # 11:00 EDT
    with django_capture_on_commit_callbacks(execute=True):
        make(agency, person, occasion="a", title="First")
        make(agency, person, occasion="b", title="Second", kind="invoice_issued")
    assert mail.outbox == []
    with scopes_disabled():
        assert {n.email_due_at for n in Notification.objects.all()} == {utc("2026-05-05 12:00Z")}
    time_machine.move_to("2026-05-05 11:59Z", tick=False)
    deliver_due_emails(now=timezone.now())
    assert mail.outbox == []
    time_machine.move_to("2026-05-05 12:00Z", tick=False)
    deliver_due_emails(now=timezone.now())
    deliver_due_emails(now=timezone.now())
    (digest,) = mail.outbox
    assert digest.to == [person.user.email]
    assert "2 updates" in digest.subject
    assert "First" in digest.body and "Second" in digest.body


def test_staff_may_take_their_task_alerts_as_one_daily_digest(
    agency, member, time_machine, django_capture_on_commit_callbacks
):
    from notifications.services import preferences_update

    admin = member(Role.ADMIN)  # staff read the agency's zone: Europe/London (factory)
    with agency_scope(agency):
        preferences_update(
            agency=agency, actor=admin.user, membership=admin, daily_digest=True, digest_hour=7
        )
    time_machine.move_to("2026-05-04 15:00Z", tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):  # five overdue tasks would be five e-mails without the digest
            make(agency, admin, kind="task_overdue_staff", occasion=str(n), title=f"Late {n}")
    time_machine.move_to("2026-05-05 05:59Z", tick=False)
    deliver_due_emails(now=timezone.now())
    assert mail.outbox == []
    time_machine.move_to("2026-05-05 06:00Z", tick=False)  # 07:00 British Summer Time
    deliver_due_emails(now=timezone.now())
    (digest,) = mail.outbox
    assert digest.to == [admin.user.email] and "5 updates" in digest.subject


def test_working_hours_are_walked_on_the_local_clock():
    hours = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    hours["mon"] = [["22:00", "24:00"]]
    hours["tue"] = [["00:00", "02:00"]]
    # London, autumn change on Sunday 25 October 2026: Monday 22:00 GMT is 22:00 UTC.
    sunday = utc("2026-10-25 12:00Z")
    assert next_working_moment(hours, "Europe/London", sunday) == utc("2026-10-26 22:00Z")
    # Inside the night shift, after midnight: now.
    inside = utc("2026-10-27 01:00Z")
    assert next_working_moment(hours, "Europe/London", inside) == inside
    assert next_working_moment({}, "UTC", sunday) is None


# -- pages -------------------------------------------------------------------------------------


def page(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def test_the_centre_lists_my_notifications_unread_first_and_marks_them_read(
    agency, member, signed_in
):
    me = member(Role.ASSISTANT, user__email="me@example.test")
    someone = member(Role.ASSISTANT)
    old = make(agency, me, occasion="old", title="Older one", kind="task_assigned")
    new = make(agency, me, occasion="new", title="Newer one", kind="task_assigned")
    theirs = make(agency, someone, title="Not mine", kind="task_assigned")
    with scopes_disabled():
        Notification.objects.filter(pk=new.pk).update(read_at=timezone.now())
    http = signed_in(me.user)
    response = http.get(page(agency, "notification_list"))
    text = response.content.decode()
    assert response.status_code == 200
    assert text.index("Older one") < text.index("Newer one")  # unread first
    assert "Not mine" not in text
    assert 'data-testid="unread-count">1<' in text
    # Someone else's notification is unknown here.
    assert http.post(page(agency, "notification_read", pk=theirs.pk)).status_code == 404
    response = http.post(page(agency, "notification_read", pk=old.pk), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == f"/a/{agency.slug}/"
    with scopes_disabled():
        assert Notification.objects.get(pk=old.pk).read_at is not None
        assert Notification.objects.get(pk=theirs.pk).read_at is None
    response = http.get(page(agency, "notification_list"))
    assert 'data-testid="unread-count"' not in response.content.decode()


def test_mark_all_read_touches_only_mine(agency, member, signed_in):
    me, other = member(Role.CLIENT), member(Role.CLIENT)
    make(agency, me, occasion="1")
    make(agency, me, occasion="2")
    make(agency, other, occasion="1")
    response = signed_in(me.user).post(page(agency, "notification_read_all"))
    assert response.status_code == 302
    with scopes_disabled():
        assert Notification.objects.filter(read_at=None).count() == 1


def test_the_centre_costs_the_same_queries_at_one_and_many(
    agency, member, signed_in, count_queries
):
    me = member(Role.OWNER)
    make(agency, me, kind="payment_failed")
    http = signed_in(me.user)
    one = count_queries(lambda: http.get(page(agency, "notification_list")))
    for n in range(25):
        make(agency, me, kind="payment_failed", occasion=f"n{n}")
    assert count_queries(lambda: http.get(page(agency, "notification_list"))) == one


def test_the_header_count_is_one_query_on_any_page(agency, member, signed_in, count_queries):
    me = member(Role.OWNER)
    http = signed_in(me.user)
    before = count_queries(lambda: http.get(page(agency, "team")))
    for n in range(5):
        make(agency, me, kind="payment_failed", occasion=f"n{n}")
    response = http.get(page(agency, "team"))
    assert 'data-testid="unread-count">5<' in response.content.decode()
    assert count_queries(lambda: http.get(page(agency, "team"))) == before


def test_preferences_page_saves_my_choices(agency, member, signed_in):
    me = member(Role.ASSISTANT)
    http = signed_in(me.user)
    response = http.get(page(agency, "notification_preferences"))
    text = response.content.decode()
    assert "email_task_due_soon" in text and "daily_digest" not in text
    assert "email_invoice_issued" not in text  # not a kind an assistant receives
    response = http.post(
        page(agency, "notification_preferences"), {"email_task_assigned": "on"}
    )  # every other box unticked
    assert response.status_code == 302
    from notifications.selectors import preferences_for

    with agency_scope(agency):
        chosen = preferences_for(agency=agency, membership=me)["email"]
    assert chosen["task_assigned"] is True and chosen["task_due_soon"] is False


def test_client_preferences_offer_the_digest(agency, member, signed_in):
    me = member(Role.CLIENT)
    http = signed_in(me.user)
    assert "daily_digest" in http.get(page(agency, "notification_preferences")).content.decode()
    http.post(page(agency, "notification_preferences"), {"daily_digest": "on", "digest_hour": "7"})
    from notifications.models import NotificationSettings

    with scopes_disabled():
        settings_row = NotificationSettings.objects.get(user=me.user)
    assert settings_row.daily_digest and settings_row.digest_hour == 7


# -- API ---------------------------------------------------------------------------------------


def endpoint(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def test_api_lists_marks_and_counts_my_notifications(agency, member, api):
    me, other = member(Role.ASSISTANT), member(Role.ASSISTANT)
    mine = make(agency, me, kind="task_assigned", title="Mine")
    theirs = make(agency, other, kind="task_assigned", title="Theirs")
    http = api(me.user)
    body = http.get(endpoint(agency, "notification-list")).json()
    assert [row["title"] for row in body["results"]] == ["Mine"]
    assert body["results"][0]["url"].endswith(f"/a/{agency.slug}/")
    assert http.get(endpoint(agency, "notification-unread-count")).json() == {"unread": 1}
    response = http.post(endpoint(agency, "notification-read", pk=theirs.pk))
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = http.post(endpoint(agency, "notification-read", pk=mine.pk))
    assert response.status_code == 200 and response.json()["read_at"]
    assert http.get(endpoint(agency, "notification-unread-count")).json() == {"unread": 0}
    assert http.post(endpoint(agency, "notification-read-all")).json() == {"marked": 0}
    unread = http.get(endpoint(agency, "notification-list"), {"unread": "1"}).json()
    assert unread["results"] == []


def test_api_preferences(agency, member, api):
    me = member(Role.ASSISTANT)
    http = api(me.user)
    current = http.get(endpoint(agency, "notification-preferences")).json()
    assert current["email"]["task_due_soon"] is True and current["daily_digest"] is False
    response = http.patch(
        endpoint(agency, "notification-preferences"),
        {"email": {"task_due_soon": False}},
        format="json",
    )
    assert response.status_code == 200 and response.json()["email"]["task_due_soon"] is False
    refused = http.patch(
        endpoint(agency, "notification-preferences"),
        {"email": {"invoice_issued": False}},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "notification_kind_invalid"
    refused = http.patch(
        endpoint(agency, "notification-preferences"), {"daily_digest": True}, format="json"
    )
    assert refused.json()["code"] == "notification_digest_not_allowed"  # assistants: no
    refused = http.patch(
        endpoint(agency, "notification-preferences"), {"digest_hour": 30}, format="json"
    )
    assert refused.status_code == 400


def test_api_list_costs_the_same_queries_at_one_and_many(agency, member, api, count_queries):
    me = member(Role.CLIENT)
    make(agency, me)
    http = api(me.user)
    one = count_queries(lambda: http.get(endpoint(agency, "notification-list")))
    for n in range(25):
        make(agency, me, occasion=f"n{n}")
    assert count_queries(lambda: http.get(endpoint(agency, "notification-list"))) == one


def test_another_agencys_member_cannot_reach_my_notifications(
    agency, other_agency, member, api, signed_in
):
    mine = make(agency, member(Role.CLIENT))
    stranger = member(Role.OWNER, agency=other_agency)
    assert api(stranger.user).get(endpoint(agency, "notification-list")).status_code == 404
    response = signed_in(stranger.user).post(page(agency, "notification_read", pk=mine.pk))
    assert response.status_code == 404
    # Even in their own agency, my notification's id means nothing.
    response = signed_in(stranger.user).post(page(other_agency, "notification_read", pk=mine.pk))
    assert response.status_code == 404
