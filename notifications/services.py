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
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, router, transaction
from django.db.models.constants import OnConflict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Agency
from core.audit import audit_record
from core.errors import ApplicationError
from core.jobs import queue_job
from core.tenancy import agency_scope, scopes_disabled
from core.working_hours import next_working_moment
from notifications.hooks import reply_to_for
from notifications.models import Notification, NotificationPreference, NotificationSettings
from notifications.selectors import (
    DELIVERY_BATCH,
    DIGEST_KINDS,
    DIGEST_ROLES,
    Recipient,
    kinds_for_role,
    preferences_for,
)

logger = logging.getLogger(__name__)


# -- when an e-mail may go ----------------------------------------------------------------


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
    try:
        queue_job(
            "notifications.jobs.send_notification_email",
            agency_id=agency_id,
            notification_id=notification_id,
        )
    except Exception:
        # The broker is down: the row still says the e-mail is due, and beat's
        # deliver_due_emails queues it again.
        logger.exception("notification %s e-mail not queued", notification_id)


# What makes a notification once (the unique constraint "notification_once", less agency).
NOTIFICATION_KEY = ("recipient", "kind", "target_type", "target_id", "occasion")


class NotificationBatch:
    """The notifications one sweep makes in one agency, written together and e-mailed
    together: `add` each, then `flush` once.

    The rows are the "sent once" claim, as `notify`'s are: one INSERT of them all that
    skips any the database holds already (ON CONFLICT DO NOTHING, on the same unique
    constraint), so a sweep that runs twice or beside another claims each once. The
    e-mails of the rows claimed here whose time has come then go over one connection,
    under the rows' locks, and are marked sent in one UPDATE. A crash between the claim
    and the send loses nothing: the row is still unsent with its time come, which is what
    beat's `deliver_due_emails` reads (a partial index) and sends. When an e-mail is due
    later (an assistant off shift, a digest) the row waits for that sweep the same way.
    """

    def __init__(self, *, agency, now: dt.datetime):
        self.agency = agency
        self.now = now
        self._rows: list[tuple[Notification, Recipient]] = []
        self._keys: set[tuple] = set()

    def add(
        self,
        *,
        recipient: Recipient,
        kind: str,
        target,
        occasion: str,
        title: str,
        body: str,
        link: str,
        urgent: bool = False,
    ) -> None:
        key = (recipient.user.pk, kind, target._meta.label_lower, target.pk, str(occasion)[:64])
        if key in self._keys:
            return
        self._keys.add(key)
        email_at, digest = email_due(recipient, kind, urgent=urgent, now=self.now)
        row = Notification(
            agency=self.agency,
            recipient=recipient.user,
            kind=kind,
            target_type=key[2],
            target_id=target.pk,
            occasion=key[4],
            title=title[:200],
            body=body,
            link=link[:300],
            email_due_at=email_at,
            digest=digest,
        )
        self._rows.append((row, recipient))

    def flush(self) -> int:
        """Claim the rows and send what is due now; returns how many rows were new."""
        if not self._rows:
            return 0
        rows = [row for row, _ in self._rows]
        mine = self._claim_rows(rows)
        self._rows, self._keys = [], set()
        due = [
            pk
            for pk, row in mine.items()
            if row.email_due_at is not None and not row.digest and row.email_due_at <= self.now
        ]
        if due:
            emails_send(agency=self.agency, notification_ids=due, now=self.now)
        return len(mine)

    def _claim_rows(self, rows: list[Notification]) -> dict[int, Notification]:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: the rows this insert made, by id
        (one that was there already, or that a concurrent sweep made first, returns none)."""
        opts = Notification._meta
        fields = [f for f in opts.concrete_fields if f is not opts.pk and not f.generated]
        key_fields = [opts.get_field(name) for name in NOTIFICATION_KEY]
        by_key = {tuple(getattr(row, f.attname) for f in key_fields): row for row in rows}
        mine = {}
        for start in range(0, len(rows), 500):
            returned = Notification.objects._insert(
                rows[start : start + 500],
                fields=fields,
                returning_fields=[opts.pk, *key_fields],
                on_conflict=OnConflict.IGNORE,
                using=router.db_for_write(Notification),
            )
            for pk, *key in returned:
                row = by_key[tuple(key)]
                row.pk = pk
                row._state.adding = False
                mine[pk] = row
        return mine


# -- sending e-mail ------------------------------------------------------------------------


def _claim(queryset):
    """Lock the rows we are about to e-mail; a concurrent sender skips them instead of
    waiting and then sending the same e-mail again."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset.select_for_update()


def _send(
    *, to: str, subject: str, template: str, context: dict, reply_to: list[str] | None = None
) -> None:
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        to=[to],
        reply_to=reply_to,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()


def _message(
    agency, notification: Notification, recipient, reply_to: str | None = None
) -> EmailMultiAlternatives:
    context = {
        "agency": agency,
        "notification": notification,
        "recipient": recipient,
        "link": settings.SITE_URL + notification.link,
        "centre": settings.SITE_URL + _centre_path(agency),
    }
    template = notification.kind
    message = EmailMultiAlternatives(
        subject=notification.title,
        body=render_to_string(f"emails/{template}.txt", context),
        to=[recipient.email],
        reply_to=[reply_to] if reply_to else None,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message


def emails_send(*, agency, notification_ids, now=None) -> int:
    """E-mail these notifications of one agency whose time has come, each once, over one
    connection to the mail server: claimed under their row locks (a concurrent sender skips
    them), sent together, marked sent in one UPDATE. If sending fails nothing is marked,
    and beat's delivery sweep sends them again. Returns how many were sent."""
    now = now or timezone.now()
    with transaction.atomic():
        notifications = list(
            _claim(Notification.objects.filter(agency=agency))
            .filter(
                pk__in=list(notification_ids),
                emailed_at=None,
                digest=False,
                email_due_at__lte=now,
            )
            .select_related("recipient")
            .order_by("pk")
        )
        if not notifications:
            return 0
        replies = reply_to_for(agency=agency, notifications=notifications)
        messages = [_message(agency, n, n.recipient, replies.get(n.pk)) for n in notifications]
        with get_connection() as mail:
            mail.send_messages(messages)
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=now)
    return len(notifications)


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
        reply_to = reply_to_for(agency=agency, notifications=[notification]).get(notification.pk)
        _send(
            to=recipient.email,
            subject=notification.title,
            template=notification.kind,
            reply_to=[reply_to] if reply_to else None,
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
    return reverse("notification_list", args=[agency.slug])


def deliver_due_emails(*, now: dt.datetime) -> int:
    """Beat: send the e-mails whose time has come (an assistant's shift began, a client's
    digest hour, a sweep's e-mail whose send failed or whose worker died after claiming
    it). Reads only due rows, through a partial index; each agency's go together over one
    connection (emails_send), digests as a job per person; sending claims each row, so
    two deliveries at once send it once."""
    with scopes_disabled():
        due = list(
            Notification.objects.filter(
                emailed_at=None, email_due_at__isnull=False, email_due_at__lte=now
            )
            .order_by("email_due_at")
            .values_list("pk", "agency_id", "recipient_id", "digest")[:DELIVERY_BATCH]
        )
        agencies = Agency.objects.in_bulk({agency_id for _, agency_id, _, _ in due})
    digests = set()
    singles: dict[int, list[int]] = {}
    for pk, agency_id, user_id, digest in due:
        if digest:
            digests.add((agency_id, user_id))
        else:
            singles.setdefault(agency_id, []).append(pk)
    for agency_id, ids in sorted(singles.items()):
        try:
            with agency_scope(agencies[agency_id]):
                emails_send(agency=agencies[agency_id], notification_ids=ids, now=now)
        except Exception:
            # The mail server refused or is down: the rows stay due for the next run.
            logger.exception("agency %s: %s due e-mails not sent", agency_id, len(ids))
    for agency_id, user_id in sorted(digests):
        queue_job("notifications.jobs.send_digest", agency_id=agency_id, user_id=user_id)
    return len(due)


def notification_mark_read(*, agency, user, notification_id: int) -> Notification:
    """Mark one of the person's own notifications read (again is harmless)."""
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
