"""Who hears of what, and what they have heard: the kinds each role receives, recipients
with their preferences loaded once per sweep, a person's notifications and preferences."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import Membership
from core.roles import STAFF_ROLES, Role
from notifications.models import (
    Notification,
    NotificationKind,
    NotificationPreference,
    NotificationSettings,
)

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
        NotificationKind.COVER_ARRANGED,
        NotificationKind.PROPOSAL_SENT,
        NotificationKind.CONTRACT_ENDING,
    }
)
ASSISTANT_KINDS = frozenset(
    {
        NotificationKind.TASK_ASSIGNED,
        NotificationKind.TASK_DUE_SOON,
        NotificationKind.TASK_OVERDUE,
        NotificationKind.CLIENT_REPLIED,
        NotificationKind.TIMESHEET_DECIDED,
    }
)
STAFF_KINDS = frozenset(
    {
        NotificationKind.TASK_AT_RISK,
        NotificationKind.TASK_UNASSIGNED,
        NotificationKind.TASK_OVERDUE_STAFF,
        NotificationKind.PAYMENT_FAILED,
        NotificationKind.QUOTE_REQUESTED,
        NotificationKind.PROPOSAL_ANSWERED,
        NotificationKind.CLIENT_SIGNED_UP,
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


def already_said(*, agency, model, ids, kinds) -> set[tuple]:
    """(recipient, kind, target id, occasion) of what was already said about these objects
    of `model`: a sweep reads this once and skips those, instead of one lookup per person."""
    return set(
        Notification.objects.filter(
            agency=agency,
            target_type=model._meta.label_lower,
            target_id__in=list(ids),
            kind__in=kinds,
        ).values_list("recipient_id", "kind", "target_id", "occasion")
    )
