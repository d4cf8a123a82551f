"""Notifications: one row per message, in the app and (as the recipient prefers) by e-mail.

`notify` is the one way a notification is made. It writes the row and queues its e-mail in
one transaction (the e-mail job is queued on commit), and the database holds one row per
(agency, recipient, kind, object, occasion): a sweep that runs twice, two beat processes or
a retried job find the row already there and send nothing more.

When the e-mail goes is decided when the row is made, in the recipient's own zone:
- an assistant's e-mail waits for their next working hours unless the task is urgent
  (the notification shows in the app at once: only the e-mail, which may wake them, waits);
- a client member or staff member who chose the daily digest gets one e-mail a day, at
  their hour;
- everyone else, at once.
E-mails that wait are sent by beat's `deliver_due_emails`, which reads only the rows whose
time has come (a partial index), and each e-mail is claimed under a row lock, so it goes once.
"""

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import (
    Membership,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationSettings,
)
from core.roles import STAFF_ROLES, Role
from core.tenancy import agency_scope, scopes_disabled

logger = logging.getLogger(__name__)

# Kinds a client member may take as one daily digest instead of one e-mail each.
CLIENT_KINDS = frozenset(
    {
        NotificationKind.TASK_TAKEN,
        NotificationKind.TASK_WAITING_ON_YOU,
        NotificationKind.TASK_AWAITING_APPROVAL,
        NotificationKind.INVOICE_ISSUED,
        NotificationKind.INVOICE_DUE_SOON,
        NotificationKind.INVOICE_OVERDUE,
        NotificationKind.RETAINER_LOW,
        NotificationKind.RETAINER_EXHAUSTED,
        NotificationKind.CHARGE_HELD,
        NotificationKind.CONTRACT_ENDING,
    }
)
ASSISTANT_KINDS = frozenset(
    {
        NotificationKind.TASK_ASSIGNED,
        NotificationKind.TASK_DUE_SOON,
        NotificationKind.TASK_OVERDUE,
        NotificationKind.CLIENT_REPLIED,
    }
)
STAFF_KINDS = frozenset(
    {
        NotificationKind.TASK_AT_RISK,
        NotificationKind.TASK_UNASSIGNED,
        NotificationKind.TASK_OVERDUE_STAFF,
        NotificationKind.PAYMENT_FAILED,
        NotificationKind.CONTRACT_ENDING,
    }
)
# Who may take their e-mails as one daily digest: client members, and staff, whose at-risk
# and overdue reminders come one per task (assistants' reminders are about work at hand).
DIGEST_ROLES = frozenset({Role.CLIENT, *STAFF_ROLES})
DIGEST_KINDS = CLIENT_KINDS | STAFF_KINDS
# How many waiting e-mails one run of the delivery sweep hands to workers.
DELIVERY_BATCH = 500


def kinds_for_role(role: str) -> list[str]:
    """The kinds a member of this role can receive, in the order preferences list them."""
    if role in STAFF_ROLES:
        wanted = STAFF_KINDS
    elif role == Role.ASSISTANT:
        wanted = ASSISTANT_KINDS
    else:
        wanted = CLIENT_KINDS
    return [kind for kind in NotificationKind.values if kind in wanted]


# -- who receives, and on whose clock -----------------------------------------------------


@dataclass
class Recipient:
    """A member with what deciding their delivery needs, loaded once per sweep."""

    membership: Membership
    zone: str
    working_hours: dict | None = None  # assistants only: their week, in their zone
    email_off: frozenset[str] = field(default_factory=frozenset)
    daily_digest: bool = False
    digest_hour: int = 8

    @property
    def user(self):
        return self.membership.user

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(ZoneInfo(self.zone))

    def when(self, at: dt.datetime) -> str:
        """`at` as the recipient reads it: "Tue 10 Mar 2026, 14:00 CET"."""
        local = self.local(at)
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"

    def day(self, on: dt.date) -> str:
        return f"{on:%a} {on.day} {on:%b %Y}"


def _zone_of(membership: Membership) -> str:
    """Assistants live by their profile's zone, client members by their client's, staff by
    the agency's."""
    if membership.role == Role.ASSISTANT:
        profile = getattr(membership, "assistant_profile", None)
        if profile is not None:
            return profile.time_zone
    if membership.role == Role.CLIENT and membership.client is not None:
        return membership.client.time_zone
    return membership.agency.time_zone


def recipients_for(*, agency, memberships) -> list[Recipient]:
    """Recipients of these memberships (loaded with user, client, agency and assistant
    profile), with their preferences, in two more queries whatever their number."""
    memberships = [m for m in memberships if m.is_active]
    users = [m.user_id for m in memberships]
    off = defaultdict(set)
    for user_id, kind in NotificationPreference.objects.filter(
        agency=agency, user_id__in=users, email=False
    ).values_list("user_id", "kind"):
        off[user_id].add(kind)
    chosen = {
        row.user_id: row
        for row in NotificationSettings.objects.filter(agency=agency, user_id__in=users)
    }
    recipients = []
    for membership in memberships:
        profile = (
            getattr(membership, "assistant_profile", None)
            if membership.role == Role.ASSISTANT
            else None
        )
        own = chosen.get(membership.user_id)
        recipients.append(
            Recipient(
                membership=membership,
                zone=_zone_of(membership),
                working_hours=profile.working_hours if profile is not None else None,
                email_off=frozenset(off[membership.user_id]),
                daily_digest=bool(own and own.daily_digest and membership.role in DIGEST_ROLES),
                digest_hour=own.digest_hour if own else 8,
            )
        )
    return recipients


def _members() -> QuerySet[Membership]:
    return Membership.objects.filter(is_active=True).select_related(
        "user", "client", "agency", "assistant_profile"
    )


def staff_recipients(*, agency) -> list[Recipient]:
    return recipients_for(
        agency=agency, memberships=_members().filter(agency=agency, role__in=STAFF_ROLES)
    )


def client_recipients(*, agency, client_ids) -> dict[int, list[Recipient]]:
    """Each client's active members, by client id."""
    by_client = defaultdict(list)
    members = _members().filter(agency=agency, role=Role.CLIENT, client_id__in=set(client_ids))
    for recipient in recipients_for(agency=agency, memberships=members):
        by_client[recipient.membership.client_id].append(recipient)
    return by_client


def member_recipients(*, agency, membership_ids) -> dict[int, Recipient]:
    members = _members().filter(agency=agency, pk__in=set(membership_ids))
    return {r.membership.pk: r for r in recipients_for(agency=agency, memberships=members)}


# -- when an e-mail may go ----------------------------------------------------------------


def next_working_moment(working_hours: dict, zone: str, at: dt.datetime) -> dt.datetime | None:
    """`at` itself if it falls in the working hours, else the start of the next interval
    (within a week), as an aware UTC datetime; None if the week has no hours at all.

    Walked on the local calendar, so a DST change moves the UTC moment and never the
    wall-clock start ("09:00" stays 09:00 on the assistant's clock).
    """
    from assistants.schedule import WEEKDAYS, clock_minutes

    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        for start, end in sorted(
            (working_hours or {}).get(WEEKDAYS[day.weekday()], []),
            key=lambda interval: clock_minutes(interval[0]),
        ):
            begins = dt.datetime.combine(day, dt.time.min, tzinfo=tz) + dt.timedelta(
                minutes=clock_minutes(start)
            )
            ends = dt.datetime.combine(day, dt.time.min, tzinfo=tz) + dt.timedelta(
                minutes=clock_minutes(end)
            )
            # Wall-clock arithmetic on the local date, then normalised through UTC.
            begins = begins.astimezone(dt.UTC).astimezone(tz)
            if offset == 0 and begins <= local < ends:
                return at
            if begins > local:
                return begins.astimezone(dt.UTC)
    return None


def next_digest_moment(zone: str, hour: int, at: dt.datetime) -> dt.datetime:
    """The next `hour`:00 on the recipient's clock strictly after `at`."""
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    for offset in range(3):
        candidate = dt.datetime.combine(
            local.date() + dt.timedelta(days=offset), dt.time(hour), tzinfo=tz
        )
        if candidate > local:
            return candidate.astimezone(dt.UTC)
    raise AssertionError("unreachable: one of three days has the hour")


def email_due(recipient: Recipient, kind: str, *, urgent: bool, now: dt.datetime):
    """(when the e-mail may go, whether it joins the digest); (None, False): no e-mail."""
    if kind in recipient.email_off or not recipient.user.email:
        return None, False
    if recipient.daily_digest and kind in DIGEST_KINDS:
        return next_digest_moment(recipient.zone, recipient.digest_hour, now), True
    if recipient.working_hours is not None and not urgent:
        # No hours at all set: the assistant never said when they work, so do not hold it.
        return next_working_moment(recipient.working_hours, recipient.zone, now) or now, False
    return now, False


# -- making one ----------------------------------------------------------------------------


def notify(
    *,
    agency,
    recipient: Recipient,
    kind: str,
    target,
    occasion: str,
    title: str,
    body: str,
    link: str,
    urgent: bool = False,
    now: dt.datetime | None = None,
    queue_email: bool = True,
) -> Notification | None:
    """Make the notification and queue its e-mail on commit, or return None when this one
    (recipient, kind, object, occasion) was made before: the row is the "sent once" log.
    A caller that is itself a job may pass queue_email=False and send the e-mail at once
    with notification_email_send (if it fails, beat's delivery sweep sends it)."""
    now = now or timezone.now()
    email_at, digest = email_due(recipient, kind, urgent=urgent, now=now)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                agency=agency,
                recipient=recipient.user,
                kind=kind,
                target_type=target._meta.label_lower,
                target_id=target.pk,
                occasion=str(occasion)[:64],
                title=title[:200],
                body=body,
                link=link[:300],
                email_due_at=email_at,
                digest=digest,
            )
            if queue_email and email_at is not None and not digest and email_at <= now:
                transaction.on_commit(lambda: _queue_email(agency.pk, notification.pk))
    except IntegrityError:
        return None  # made already, by an earlier or a concurrent run
    return notification


def _queue_email(agency_id: int, notification_id: int) -> None:
    from accounts.jobs import send_notification_email

    try:
        send_notification_email.delay(agency_id=agency_id, notification_id=notification_id)
    except Exception:
        # The broker is down: the row still says the e-mail is due, and beat's
        # deliver_due_emails queues it again.
        logger.exception("notification %s e-mail not queued", notification_id)


# -- sending e-mail ------------------------------------------------------------------------


def _claim(queryset):
    """Lock the rows we are about to e-mail; a concurrent sender skips them instead of
    waiting and then sending the same e-mail again."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


def _send(*, to: str, subject: str, template: str, context: dict) -> None:
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"emails/{template}.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()


def notification_email_send(*, agency, notification_id: int, now=None) -> bool:
    """E-mail one notification whose time has come, once. Returns whether it was sent."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = (
            _claim(Notification.objects.filter(agency=agency))
            .filter(pk=notification_id, emailed_at=None, digest=False, email_due_at__lte=now)
            .first()
        )
        if notification is None:
            return False
        recipient = notification.recipient
        _send(
            to=recipient.email,
            subject=notification.title,
            template=notification.kind,
            context={
                "agency": agency,
                "notification": notification,
                "recipient": recipient,
                "link": settings.SITE_URL + notification.link,
                "centre": settings.SITE_URL + _centre_path(agency),
            },
        )
        notification.emailed_at = now
        notification.save(update_fields=["emailed_at"])
    return True


def digest_send(*, agency, user_id: int, now=None) -> int:
    """E-mail one person's digest: every digest notification of theirs whose hour has come,
    in one message, once. Returns how many it carried."""
    now = now or timezone.now()
    with transaction.atomic():
        notifications = list(
            _claim(Notification.objects.filter(agency=agency))
            .filter(recipient_id=user_id, emailed_at=None, digest=True, email_due_at__lte=now)
            .select_related("recipient")
            .order_by("created_at", "pk")
        )
        if not notifications:
            return 0
        recipient = notifications[0].recipient
        _send(
            to=recipient.email,
            subject=f"Your day at {agency.name}: {len(notifications)} update"
            + ("s" if len(notifications) != 1 else ""),
            template="digest",
            context={
                "agency": agency,
                "notifications": notifications,
                "recipient": recipient,
                "site": settings.SITE_URL,
                "centre": settings.SITE_URL + _centre_path(agency),
            },
        )
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=now)
    return len(notifications)


def _centre_path(agency) -> str:
    from django.urls import reverse

    return reverse("notification_list", args=[agency.slug])


def deliver_due_emails(*, now: dt.datetime) -> int:
    """Beat: queue the e-mails whose time has come (an assistant's shift began, a client's
    digest hour, or an e-mail whose first queuing failed). Reads only due rows, through a
    partial index; sending claims each row, so queuing one twice sends it once."""
    from accounts.jobs import send_digest, send_notification_email

    with scopes_disabled():
        due = list(
            Notification.objects.filter(
                emailed_at=None, email_due_at__isnull=False, email_due_at__lte=now
            )
            .order_by("email_due_at")
            .values_list("pk", "agency_id", "recipient_id", "digest")[:DELIVERY_BATCH]
        )
    digests = set()
    for pk, agency_id, user_id, digest in due:
        if digest:
            digests.add((agency_id, user_id))
        else:
            send_notification_email.delay(agency_id=agency_id, notification_id=pk)
    for agency_id, user_id in sorted(digests):
        send_digest.delay(agency_id=agency_id, user_id=user_id)
    return len(due)


# -- reading and marking --------------------------------------------------------------------


def notification_list(*, agency, user) -> QuerySet[Notification]:
    """A person's notifications in one agency: unread first, then newest first."""
    return (
        Notification.objects.filter(agency=agency, recipient=user)
        .annotate(
            unread=Case(
                When(read_at__isnull=True, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("-unread", "-created_at", "-pk")
    )


def unread_count(*, agency, user) -> int:
    return Notification.objects.filter(agency=agency, recipient=user, read_at=None).count()


def notification_mark_read(*, agency, user, notification_id: int) -> Notification:
    """Mark one of the person's own notifications read (again is harmless)."""
    from core.errors import ApplicationError

    notification = Notification.objects.filter(
        agency=agency, recipient=user, pk=notification_id
    ).first()
    if notification is None:
        raise ApplicationError("No such notification.", code="notification_not_found")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, agency, user) -> int:
    return Notification.objects.filter(agency=agency, recipient=user, read_at=None).update(
        read_at=timezone.now()
    )


def preferences_for(*, agency, membership) -> dict:
    """{"email": {kind: bool} for the kinds the member's role receives, "daily_digest",
    "digest_hour"}."""
    kinds = kinds_for_role(membership.role)
    off = set(
        NotificationPreference.objects.filter(
            agency=agency, user_id=membership.user_id, email=False
        ).values_list("kind", flat=True)
    )
    own = NotificationSettings.objects.filter(agency=agency, user_id=membership.user_id).first()
    return {
        "email": {kind: kind not in off for kind in kinds},
        "daily_digest": bool(own and own.daily_digest),
        "digest_hour": own.digest_hour if own else 8,
    }


def preferences_update(
    *,
    agency,
    actor,
    membership,
    email: dict[str, bool] | None = None,
    daily_digest: bool | None = None,
    digest_hour: int | None = None,
) -> dict:
    """Change which kinds arrive by e-mail and, for client members and staff, the daily
    digest. Kinds the member's role never receives, and a digest for an assistant, are
    refused."""
    from core.audit import audit_record
    from core.errors import ApplicationError

    kinds = set(kinds_for_role(membership.role))
    unknown = sorted(set(email or {}) - kinds)
    if unknown:
        raise ApplicationError(
            f"“{unknown[0]}” is not a notification you receive.",
            code="notification_kind_invalid",
            extra={"field": "email"},
        )
    if daily_digest and membership.role not in DIGEST_ROLES:
        raise ApplicationError(
            "The daily digest is for client members and staff; your reminders are about "
            "work at hand and come in your working hours.",
            code="notification_digest_not_allowed",
            extra={"field": "daily_digest"},
        )
    if digest_hour is not None and not 0 <= digest_hour <= 23:
        raise ApplicationError(
            "Choose an hour from 0 to 23.",
            code="notification_digest_hour_invalid",
            extra={"field": "digest_hour"},
        )
    with transaction.atomic():
        for kind, wanted in (email or {}).items():
            NotificationPreference.objects.update_or_create(
                agency=agency, user_id=membership.user_id, kind=kind, defaults={"email": wanted}
            )
        if daily_digest is not None or digest_hour is not None:
            own, _ = NotificationSettings.objects.get_or_create(
                agency=agency, user_id=membership.user_id
            )
            if daily_digest is not None:
                own.daily_digest = daily_digest
            if digest_hour is not None:
                own.digest_hour = digest_hour
            own.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="notifications.preferences_changed",
            target=membership,
        )
    return preferences_for(agency=agency, membership=membership)


def in_agencies(rows, agency_of):
    """Group rows found across agencies by agency and yield (agency, rows) inside each
    agency's scope: sweeps read across agencies once, then act in each one's scope."""
    grouped = defaultdict(list)
    agencies = {}
    for row in rows:
        agency = agency_of(row)
        agencies[agency.pk] = agency
        grouped[agency.pk].append(row)
    for agency_id, items in grouped.items():
        with agency_scope(agencies[agency_id]):
            yield agencies[agency_id], items
