from datetime import datetime

from django.db.models import Q, QuerySet

from assistants.models import AssistantProfile
from assistants.schedule import is_on_shift
from clients.models import Client
from contracts.models import ContractStatus, ServiceCategory, ServiceContract
from core.roles import Role


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
