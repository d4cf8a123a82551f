from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Membership
from assistants.models import AssistantProfile
from assistants.schedule import is_on_shift
from clients.models import Client
from contracts.models import ContractStatus, ServiceCategory, ServiceContract
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


def assistant_search(*, agency, term: str) -> list[Membership]:
    """At most a screenful of the agency's assistants whose name or e-mail contains
    `term`, those that start with it first."""
    return search_rows(assistant_choices(agency=agency), fields=ASSISTANT_SEARCH_FIELDS, term=term)


def assistant_profile_get(*, agency, pk: int) -> AssistantProfile | None:
    return assistant_list(agency=agency).filter(pk=pk).first()


def assistants_on_shift(*, agency, at: datetime) -> list[AssistantProfile]:
    """Active assistants whose own working hours include `at`.

    Being on shift depends on each assistant's zone, its DST rules and their weekday, which
    SQL cannot evaluate portably from JSON intervals; an agency has tens to a few hundred
    assistants, so its active profiles are loaded (two queries, however many there are)
    and filtered in Python. Revisit with a precomputed UTC schedule if that ever changes.
    """
    return [
        profile
        for profile in assistant_list(agency=agency, active=True)
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

    Tasks route by the same rule; here it decides whose client manual they may read.
    """
    active = ServiceContract.objects.filter(agency=agency, status=ContractStatus.ACTIVE)
    skills = ServiceCategory.objects.filter(
        agency=agency,
        assistant_profiles__membership=membership,
        assistant_profiles__is_active=True,
    )
    dedicated_to_them = active.filter(dedicated__membership=membership)
    open_to_skill = active.filter(
        dedicated__isnull=True, lines__removed_at=None, lines__service__category__in=skills
    )
    return (
        Client.objects.filter(agency=agency, status=Client.Status.ACTIVE)
        .filter(
            Q(pk__in=dedicated_to_them.values("client")) | Q(pk__in=open_to_skill.values("client"))
        )
        .order_by("name")
    )
