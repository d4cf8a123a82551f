from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404

from accounts.models import Membership
from core.roles import Role
from core.tenancy import scopes_disabled


def memberships_for_user(user) -> list[Membership]:
    """The agencies a user may enter, for the switcher and the home redirect.

    Looks across agencies on purpose: it is filtered by the user, never by "no agency".
    """
    if not user.is_authenticated:
        return []
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, is_active=True)
            .select_related("agency", "client")
            .order_by("agency__name")
        )


def membership_for(*, user, agency_slug: str) -> Membership:
    """Resolve the tenant of a request: the user's active membership in the agency at `slug`.

    An unknown slug and an agency the user does not belong to raise the same Http404.
    """
    with scopes_disabled():
        try:
            return Membership.objects.select_related("agency", "client").get(
                agency__slug=agency_slug, user=user, is_active=True
            )
        except Membership.DoesNotExist:
            raise Http404("No such agency.") from None


def member_list(*, agency) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(agency=agency)
        .select_related("user", "client")
        .annotate(role_rank=ROLE_RANK)
        .order_by("role_rank", "user__email")
    )


# Owners first, then admins, assistants and clients: the order people read a team in.
ROLE_RANK = Case(
    *(When(role=role, then=Value(rank)) for rank, role in enumerate(Role)),
    output_field=IntegerField(),
)
