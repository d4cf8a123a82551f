"""Assistants' time off: asked for by the assistant, approved or declined by staff (with a
cover for the assistant's dedicated work, or the skill pool), cancelled by the assistant
before it starts. Every step writes an audit row; approval tells the clients whose work
moves who covers and until when.

Dates are whole days on the assistant's own calendar. Who takes the dedicated work while
someone is away is one rule, in assistants.selectors.dedicated_takers.
"""

import datetime as dt

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from assistants.models import AssistantProfile, TimeOff, TimeOffStatus
from assistants.selectors import cover_skills_needed
from assistants.services import assistant_profile_ensure
from clients.models import Client
from contracts.models import ContractStatus
from core.audit import audit_record
from core.errors import ApplicationError, text_within
from core.roles import Role
from core.times import local_midnight, local_today
from notifications.models import NotificationKind
from notifications.selectors import client_recipients
from notifications.services import notify

NOTE_MAX_CHARS = 500
# Bounds that keep a typo ("2062" for "2026") from booking decades off.
LONGEST = dt.timedelta(days=366)
FURTHEST_AHEAD = dt.timedelta(days=2 * 366)

S = TimeOffStatus


def span_of(starts_on: dt.date, ends_on: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of whole days on a calendar: the first day's midnight there, and
    the midnight after the last day (a DST change moves the instants, never the days)."""
    begins = local_midnight(starts_on, zone).astimezone(dt.UTC)
    ends = local_midnight(ends_on + dt.timedelta(days=1), zone).astimezone(dt.UTC)
    return begins, ends


def day_range(time_off: TimeOff) -> str:
    """The days as people read them: "Mon 7 Dec 2026 to Fri 11 Dec 2026"."""
    first = f"{time_off.starts_on:%a} {time_off.starts_on.day} {time_off.starts_on:%b %Y}"
    if time_off.ends_on == time_off.starts_on:
        return first
    return f"{first} to {time_off.ends_on:%a} {time_off.ends_on.day} {time_off.ends_on:%b %Y}"


def _note(text: str | None, field: str = "note") -> str:
    return text_within(text, limit=NOTE_MAX_CHARS, field=field, label="A note")


def _lock_profile(*, agency, membership) -> AssistantProfile:
    """The assistant's profile row, locked: two requests of one person are checked for
    overlap one after the other, never side by side."""
    return AssistantProfile.objects.select_for_update().get(agency=agency, membership=membership)


def _overlapping(*, agency, membership, starts_on, ends_on, besides=None):
    found = TimeOff.objects.filter(
        agency=agency,
        assistant=membership,
        status__in=(S.PENDING, S.APPROVED),
        starts_on__lte=ends_on,
        ends_on__gte=starts_on,
    )
    if besides is not None:
        found = found.exclude(pk=besides.pk)
    return found.order_by("starts_on").first()


def time_off_request(
    *,
    agency,
    actor,
    membership: Membership,
    starts_on: dt.date,
    ends_on: dt.date,
    note: str = "",
    now: dt.datetime | None = None,
) -> TimeOff:
    """An assistant asks for days off, on their own calendar, first and last day included.

    The rules: an assistant's own request; the last day is not before the first; the first
    is not before today on their calendar, at most two years ahead, and the span at most a
    year; and it overlaps none of their requests still waiting or approved.
    """
    now = now or timezone.now()
    if membership.agency_id != agency.pk or membership.role != Role.ASSISTANT:
        raise ApplicationError("Only assistants ask for time off.", code="time_off_not_assistant")
    if membership.user_id != getattr(actor, "pk", None):
        raise ApplicationError("You can only ask for your own time off.", code="time_off_not_yours")
    note = _note(note)
    if ends_on < starts_on:
        raise ApplicationError(
            "The last day cannot be before the first.",
            code="time_off_ends_before_start",
            extra={"field": "ends_on"},
        )
    if ends_on - starts_on >= LONGEST:
        raise ApplicationError(
            "Time off can be at most a year at a time.",
            code="time_off_too_long",
            extra={"field": "ends_on"},
        )
    profile = assistant_profile_ensure(agency=agency, membership=membership, actor=actor)
    today = local_today(profile.time_zone, now)
    if starts_on < today:
        raise ApplicationError(
            f"The first day has passed: it is already {today:%a} {today.day} {today:%b %Y} "
            f"in your time zone ({profile.time_zone}).",
            code="time_off_in_the_past",
            extra={"field": "starts_on"},
        )
    if starts_on - today > FURTHEST_AHEAD:
        raise ApplicationError(
            "Time off can be asked for at most two years ahead.",
            code="time_off_too_far",
            extra={"field": "starts_on"},
        )
    with transaction.atomic():
        profile = _lock_profile(agency=agency, membership=membership)
        clash = _overlapping(
            agency=agency, membership=membership, starts_on=starts_on, ends_on=ends_on
        )
        if clash is not None:
            raise ApplicationError(
                f"These days overlap your time off of {day_range(clash)} "
                f"({clash.get_status_display().lower()}). Cancel that one or choose other days.",
                code="time_off_overlaps",
                extra={"field": "starts_on", "overlaps": clash.pk},
            )
        starts_at, ends_at = span_of(starts_on, ends_on, profile.time_zone)
        time_off = TimeOff.objects.create(
            agency=agency,
            assistant=membership,
            starts_on=starts_on,
            ends_on=ends_on,
            time_zone=profile.time_zone,
            starts_at=starts_at,
            ends_at=ends_at,
            note=note,
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="time_off.requested",
            target=time_off,
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
            time_zone=profile.time_zone,
        )
    return time_off


def _locked(time_off: TimeOff) -> TimeOff:
    return (
        TimeOff.objects.select_for_update(of=("self",))
        .select_related("assistant__user")
        .get(pk=time_off.pk)
    )


def _decidable(time_off: TimeOff, now: dt.datetime) -> None:
    if time_off.status != S.PENDING:
        raise ApplicationError(
            f"This request is already {time_off.get_status_display().lower()}.",
            code="time_off_not_pending",
        )
    if time_off.ends_at <= now:
        raise ApplicationError(
            "This time off is already over: there is nothing left to decide.",
            code="time_off_over",
        )


def check_cover(*, agency, time_off: TimeOff, cover: Membership) -> None:
    """Whoever covers is an active assistant of the agency, not the one away, skilled in
    every category of the work dedicated to them, and not away themselves meanwhile."""
    if cover.pk == time_off.assistant_id:
        raise ApplicationError(
            "Someone on time off cannot cover for themselves.",
            code="time_off_cover_self",
            extra={"field": "cover"},
        )
    profile = AssistantProfile.objects.filter(
        agency=agency, membership=cover, is_active=True
    ).first()
    if (
        cover.agency_id != agency.pk
        or cover.role != Role.ASSISTANT
        or not cover.is_active
        or profile is None
    ):
        raise ApplicationError(
            "Choose an active assistant of the agency to cover.",
            code="time_off_cover_invalid",
            extra={"field": "cover"},
        )
    needed = list(cover_skills_needed(agency=agency, membership=time_off.assistant))
    has = set(profile.assistant_skills.values_list("category_id", flat=True))
    missing = [category.name for category in needed if category.pk not in has]
    if missing:
        raise ApplicationError(
            f"{cover.user} is not skilled in {', '.join(missing)}, which the dedicated work needs.",
            code="time_off_cover_unskilled",
            extra={"field": "cover", "missing": missing},
        )
    away = TimeOff.objects.filter(
        agency=agency,
        assistant=cover,
        status=S.APPROVED,
        starts_at__lt=time_off.ends_at,
        ends_at__gt=time_off.starts_at,
    ).first()
    if away is not None:
        raise ApplicationError(
            f"{cover.user} is away themselves then ({day_range(away)}).",
            code="time_off_cover_away",
            extra={"field": "cover"},
        )


def time_off_approve(
    *,
    agency,
    actor,
    time_off: TimeOff,
    cover: Membership | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> TimeOff:
    """Staff approve a waiting request, naming who covers the assistant's dedicated work
    (see check_cover), or nobody: the skill pool takes it. Approval may come after the
    first day (someone fell ill), not after the last. The clients whose dedicated work
    moves are told who covers and until when, once each."""
    now = now or timezone.now()
    note = _note(note, "decision_note")
    with transaction.atomic():
        time_off = _locked(time_off)
        _decidable(time_off, now)
        if cover is not None:
            check_cover(agency=agency, time_off=time_off, cover=cover)
        time_off.status = S.APPROVED
        time_off.cover = cover
        time_off.decision_note = note
        time_off.decided_at = now
        time_off.decided_by = actor if actor is not None and actor.is_authenticated else None
        time_off.save(
            update_fields=[
                "status",
                "cover",
                "decision_note",
                "decided_at",
                "decided_by",
                "updated_at",
            ]
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="time_off.approved",
            target=time_off,
            cover=cover.pk if cover is not None else None,
            note=note,
        )
        _tell_clients(agency=agency, time_off=time_off, occasion="approved", now=now)
    return time_off


def time_off_decline(
    *, agency, actor, time_off: TimeOff, note: str = "", now: dt.datetime | None = None
) -> TimeOff:
    """Staff decline a waiting request, with a note the assistant reads."""
    now = now or timezone.now()
    note = _note(note, "decision_note")
    with transaction.atomic():
        time_off = _locked(time_off)
        if time_off.status != S.PENDING:
            raise ApplicationError(
                f"This request is already {time_off.get_status_display().lower()}.",
                code="time_off_not_pending",
            )
        time_off.status = S.DECLINED
        time_off.decision_note = note
        time_off.decided_at = now
        time_off.decided_by = actor if actor is not None and actor.is_authenticated else None
        time_off.save(
            update_fields=["status", "decision_note", "decided_at", "decided_by", "updated_at"]
        )
        audit_record(
            agency=agency, actor=actor, action="time_off.declined", target=time_off, note=note
        )
    return time_off


def time_off_cancel(
    *, agency, actor, membership: Membership, time_off: TimeOff, now: dt.datetime | None = None
) -> TimeOff:
    """The assistant withdraws their own request, waiting or approved, before its first
    day begins (on their calendar). Clients told of a cover hear that it is off."""
    now = now or timezone.now()
    with transaction.atomic():
        time_off = _locked(time_off)
        if time_off.assistant_id != membership.pk:
            raise ApplicationError(
                "You can only cancel your own time off.", code="time_off_not_yours"
            )
        if time_off.status not in (S.PENDING, S.APPROVED):
            raise ApplicationError(
                f"This request is already {time_off.get_status_display().lower()}.",
                code="time_off_not_open",
            )
        if time_off.starts_at <= now:
            raise ApplicationError(
                "This time off has already begun; ask your agency to change it.",
                code="time_off_started",
            )
        was_approved = time_off.status == S.APPROVED
        time_off.status = S.CANCELLED
        time_off.cancelled_at = now
        time_off.save(update_fields=["status", "cancelled_at", "updated_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="time_off.cancelled",
            target=time_off,
            was_approved=was_approved,
        )
        if was_approved:
            _tell_clients(agency=agency, time_off=time_off, occasion="cancelled", now=now)
    return time_off


# -- telling the clients ----------------------------------------------------------------------


def clients_dedicated_to(*, agency, membership) -> list[Client]:
    """The active clients with an active contract dedicated to the assistant."""
    return list(
        Client.objects.filter(
            agency=agency,
            status=Client.Status.ACTIVE,
            contracts__status=ContractStatus.ACTIVE,
            contracts__dedicated__membership=membership,
        )
        .distinct()
        .order_by("name")
    )


def _tell_clients(*, agency, time_off: TimeOff, occasion: str, now) -> int:
    """Each member of each client whose dedicated work moves, once per occasion (the
    notification log holds one row per person, request and occasion)."""
    clients = clients_dedicated_to(agency=agency, membership=time_off.assistant)
    if not clients:
        return 0
    away = time_off.assistant.user
    cover = time_off.cover.user if time_off.cover_id else None
    link = reverse("dashboard", kwargs={"agency_slug": agency.slug})
    made = 0
    for people in client_recipients(agency=agency, client_ids=[c.pk for c in clients]).values():
        for person in people:
            back = person.when(time_off.ends_at)
            if occasion == "cancelled":
                title = f"{away} is not away after all"
                body = (
                    f"{away} has cancelled their time off of {day_range(time_off)}: "
                    "they take your work as before."
                )
            elif cover is not None:
                title = f"{cover} covers for {away} until {back}"
                body = (
                    f"{away} is away {day_range(time_off)}. Until {back}, {cover} takes "
                    f"your new requests; {away} takes them again after that. Work already "
                    "under way stays with whoever has it."
                )
            else:
                title = f"Our team covers for {away} until {back}"
                body = (
                    f"{away} is away {day_range(time_off)}. Until {back}, your new requests "
                    f"go to our assistants skilled in the work; {away} takes them again after "
                    "that. Work already under way stays with whoever has it."
                )
            made += (
                notify(
                    agency=agency,
                    recipient=person,
                    kind=NotificationKind.COVER_ARRANGED,
                    target=time_off,
                    occasion=occasion,
                    title=title,
                    body=body,
                    link=link,
                    now=now,
                )
                is not None
            )
    return made
