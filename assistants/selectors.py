from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import Membership
from assistants.models import AssistantProfile, TimeOff, TimeOffStatus
from assistants.schedule import is_on_shift
from clients.models import Client
from contracts.models import (
    ContractAssistant,
    ContractLine,
    ContractStatus,
    ServiceCategory,
    ServiceContract,
)
from core.roles import Role
from core.widgets import search_rows

# What a search field looks for in an assistant, and what names exactly one.
ASSISTANT_SEARCH_FIELDS = ("user__full_name", "user__email")
ASSISTANT_EXACT_FIELDS = ("user__email", "user__full_name")


def assistant_list(*, agency, active: bool | None = None) -> QuerySet[AssistantProfile]:
    """The agency's assistants who still belong to it, by name; `active` filters the flag.

    A profile outlives a removed membership (so a returning assistant keeps it) but is not
    listed while the membership is inactive or no longer an assistant's.
    """
    profiles = (
        AssistantProfile.objects.filter(
            agency=agency, membership__is_active=True, membership__role=Role.ASSISTANT
        )
        .select_related("membership__user")
        .prefetch_related("skills")
        .order_by("membership__user__full_name", "membership__user__email", "pk")
    )
    if active is not None:
        profiles = profiles.filter(is_active=active)
    return profiles


def assistant_choices(*, agency, active_only: bool = False) -> QuerySet[Membership]:
    """The agency's assistants' memberships by name, with their users: what a form may
    choose from. A filter may name a former assistant, whose work it still reads."""
    memberships = Membership.objects.filter(agency=agency, role=Role.ASSISTANT)
    if active_only:
        memberships = memberships.filter(is_active=True)
    return memberships.select_related("user").order_by("user__full_name", "user__email", "pk")


def assistant_search(*, agency, term: str, active_only: bool = False) -> list[Membership]:
    """At most a screenful of the agency's assistants whose name or e-mail contains
    `term`, those that start with it first (only current ones with `active_only`)."""
    return search_rows(
        assistant_choices(agency=agency, active_only=active_only),
        fields=ASSISTANT_SEARCH_FIELDS,
        term=term,
    )


def assistant_profile_get(*, agency, pk: int) -> AssistantProfile | None:
    return assistant_list(agency=agency).filter(pk=pk).first()


def assistants_on_shift(*, agency, at: datetime) -> list[AssistantProfile]:
    """Active assistants whose own working hours include `at`.

    Being on shift depends on each assistant's zone, its DST rules and their weekday, which
    SQL cannot evaluate portably from JSON intervals; an agency has tens to a few hundred
    assistants, so its active profiles are loaded (two queries, however many there are)
    and filtered in Python. Revisit with a precomputed UTC schedule if that ever changes.
    """
    away = time_off_in_force(agency=agency, at=at).values("assistant")
    return [
        profile
        for profile in assistant_list(agency=agency, active=True).exclude(membership__in=away)
        if is_on_shift(profile, at)
    ]


def assistants_with_skill(*, agency, category) -> QuerySet[AssistantProfile]:
    """Active assistants who may do work of this service category, for routing."""
    return assistant_list(agency=agency, active=True).filter(
        assistant_skills__agency=agency, assistant_skills__category=category
    )


def clients_workable_by(*, agency, membership) -> QuerySet[Client]:
    """The clients an assistant may work for: those with an active contract that dedicates
    them, or that dedicates nobody and names a service in a category they are skilled in.

    Tasks route by the same rule (`dedicated_takers`), so someone covering for a dedicated
    assistant on time off reads the manual of the clients they cover, and a contract whose
    dedicated assistants are all away with nobody named is open to skill meanwhile. The
    dedicated assistant keeps their clients' manuals while away.
    """
    takers = dedicated_takers(agency=agency, at=timezone.now())
    active = ServiceContract.objects.filter(agency=agency, status=ContractStatus.ACTIVE)
    skills = ServiceCategory.objects.filter(
        agency=agency,
        assistant_profiles__membership=membership,
        assistant_profiles__is_active=True,
    )
    dedicated_to_them = active.filter(
        Q(dedicated__membership=membership) | Q(pk__in=takers.contracts_of(membership))
    )
    open_to_skill = active.filter(
        lines__removed_at=None, lines__service__category__in=skills
    ).exclude(pk__in=takers.served())
    return (
        Client.objects.filter(agency=agency, status=Client.Status.ACTIVE)
        .filter(
            Q(pk__in=dedicated_to_them.values("client")) | Q(pk__in=open_to_skill.values("client"))
        )
        .order_by("name")
    )


# -- time off ------------------------------------------------------------------------------


def time_off_in_force(*, agency, at: datetime) -> QuerySet[TimeOff]:
    """Approved time off that includes the moment `at` (index time_off_in_force)."""
    return TimeOff.objects.filter(
        agency=agency, status=TimeOffStatus.APPROVED, starts_at__lte=at, ends_at__gt=at
    )


@dataclass(frozen=True)
class DedicatedTakers:
    """Who may take a dedicated contract's work at the moment `at` (see dedicated_takers).

    Each answer is a subquery on the small contract and time-off tables, none correlated
    with the rows it filters, so callers add conditions to their one query, not queries.
    """

    agency: object
    at: datetime

    def _away(self) -> QuerySet[TimeOff]:
        return time_off_in_force(agency=self.agency, at=self.at)

    def contracts_of(self, membership) -> QuerySet:
        """The contracts whose work `membership` may take: those dedicated to them, and
        those dedicated to someone away whose time off names them as cover. (Someone away
        themselves takes nothing; callers refuse them on their own.)"""
        covered = self._away().filter(cover=membership).values("assistant")
        return (
            ContractAssistant.objects.filter(agency=self.agency)
            .filter(Q(membership=membership) | Q(membership__in=covered))
            .values("contract")
        )

    def served(self) -> QuerySet:
        """The dedicated contracts that someone serves now, closed to the skill pool: all
        but those whose every dedicated assistant is away with no cover named."""
        unserved = self._away().filter(cover__isnull=True).values("assistant")
        return (
            ContractAssistant.objects.filter(agency=self.agency)
            .exclude(membership__in=unserved)
            .values("contract")
        )

    def takers_of(self, contract_id) -> Q:
        """On an assistant profile: one who serves this contract now (its dedicated
        assistants, and the covers of those of them who are away). Callers also leave out
        whoever is away themselves."""
        dedicated = ContractAssistant.objects.filter(
            agency=self.agency, contract_id=contract_id
        ).values("membership")
        covers = self._away().filter(assistant__in=dedicated, cover__isnull=False)
        return Q(membership__in=dedicated) | Q(membership__in=covers.values("cover"))

    def served_contract(self, contract_id) -> QuerySet:
        """Nonempty when someone serves this contract now (it is closed to the pool)."""
        return self.served().filter(contract_id=contract_id)


def dedicated_takers(*, agency, at: datetime) -> DedicatedTakers:
    """Who may take a dedicated contract's work at the moment `at`.

    The rule: the assistants it dedicates; while one of them is on approved time off, the
    cover named on it instead, or when none is named, nobody. A contract someone serves
    is theirs alone; a contract whose every dedicated assistant is away with no cover is
    open to the skill pool for that time, as a contract that dedicates nobody is. When
    the time off ends the work goes back by itself (tasks already assigned stay where they
    are). The queue, take-next, the assign form and the manuals all ask this.
    """
    return DedicatedTakers(agency=agency, at=at)


def time_off_of(*, agency, membership) -> QuerySet[TimeOff]:
    """An assistant's own requests, latest first, with whoever covers and decided."""
    return (
        TimeOff.objects.filter(agency=agency, assistant=membership)
        .select_related("cover__user", "decided_by")
        .order_by("-starts_on", "-pk")
    )


def time_off_list(*, agency, status: str | None = None) -> QuerySet[TimeOff]:
    """Every request of the agency for staff: those waiting for a decision first (soonest
    first), then the rest, latest first."""
    requests = TimeOff.objects.filter(agency=agency)
    if status:
        requests = requests.filter(status=status)
    pending = Q(status=TimeOffStatus.PENDING)
    return (
        requests.select_related("assistant__user", "cover__user", "decided_by")
        .annotate(
            waiting=Case(
                When(pending, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            waiting_from=Case(When(pending, then=F("starts_on"))),
        )
        .order_by("waiting", "waiting_from", "-starts_on", "pk")
    )


def time_off_get(*, agency, pk: int) -> TimeOff | None:
    return time_off_list(agency=agency).filter(pk=pk).first()


def cover_skills_needed(*, agency, membership) -> QuerySet[ServiceCategory]:
    """The service categories of the live lines of the active contracts dedicated to an
    assistant: what whoever covers for them must be skilled in."""
    lines = ContractLine.objects.filter(
        agency=agency,
        removed_at=None,
        contract__status=ContractStatus.ACTIVE,
        contract__dedicated__membership=membership,
    )
    return ServiceCategory.objects.filter(
        agency=agency, pk__in=lines.values("service__category")
    ).order_by("name")


def cover_candidates(*, agency, time_off: TimeOff) -> QuerySet[AssistantProfile]:
    """Active assistants who may cover `time_off`: anyone but its assistant who is
    skilled in every category the dedicated work needs and is not away themselves at any
    time of it. Two queries (the categories, then the people)."""
    needed = list(
        cover_skills_needed(agency=agency, membership=time_off.assistant).values_list(
            "pk", flat=True
        )
    )
    away_then = TimeOff.objects.filter(
        agency=agency,
        status=TimeOffStatus.APPROVED,
        starts_at__lt=time_off.ends_at,
        ends_at__gt=time_off.starts_at,
    ).values("assistant")
    people = assistant_list(agency=agency, active=True).exclude(
        Q(membership=time_off.assistant_id) | Q(membership__in=away_then)
    )
    if needed:
        people = people.annotate(
            skilled=Count(
                "assistant_skills",
                filter=Q(assistant_skills__category__in=needed),
                distinct=True,
            )
        ).filter(skilled=len(needed))
    return people
