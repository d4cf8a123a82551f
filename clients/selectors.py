from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.models import Invitation, Membership
from clients.models import Client
from core.widgets import search_rows


def _with_member_count(queryset: QuerySet[Client]) -> QuerySet[Client]:
    return queryset.annotate(member_count=Count("members", filter=Q(members__is_active=True)))


def client_list(
    *, agency, status: str | None = None, search: str | None = None
) -> QuerySet[Client]:
    """The agency's clients by name, with their active member count and how many of their
    invitations wait for an answer, in one query.

    `status` narrows to one status; `search` matches part of the name or billing e-mail.
    """
    clients = Client.objects.filter(agency=agency)
    if status:
        clients = clients.filter(status=status)
    if search and search.strip():
        term = search.strip()
        clients = clients.filter(Q(name__icontains=term) | Q(billing_email__icontains=term))
    pending = (
        Invitation.objects.filter(client=OuterRef("pk"), accepted_at=None, revoked_at=None)
        .order_by()
        .values("client")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        _with_member_count(clients)
        .annotate(pending_invitations=Coalesce(Subquery(pending), 0))
        .order_by("name", "pk")
    )


# What a search field looks for in a client, and what it accepts as exactly one client.
CLIENT_SEARCH_FIELDS = ("name", "billing_email")


def client_choices(*, agency) -> QuerySet[Client]:
    """Every client of the agency, any status, by name: what a form may choose from (a
    filter may name a former client, whose history it still reads)."""
    return Client.objects.filter(agency=agency).order_by("name", "pk")


def client_search(*, agency, term: str) -> list[Client]:
    """At most a screenful of the agency's clients whose name or billing e-mail contains
    `term`, names that start with it first."""
    return search_rows(client_choices(agency=agency), fields=CLIENT_SEARCH_FIELDS, term=term)


def client_detail(*, agency, pk: int) -> Client:
    """One client with its active members (and their users) prefetched; 404 if not ours."""
    members = (
        Membership.objects.filter(agency=agency, is_active=True)
        .select_related("user", "client_rights")
        .order_by("user__email")
    )
    clients = (
        _with_member_count(Client.objects.filter(agency=agency))
        .select_related("manual_updated_by")
        .prefetch_related(Prefetch("members", queryset=members, to_attr="active_members"))
    )
    return get_object_or_404(clients, pk=pk)


def client_pending_invitations(*, agency, client: Client) -> QuerySet[Invitation]:
    """Invitations sent to people of this client that nobody has accepted or withdrawn."""
    return (
        Invitation.objects.filter(agency=agency, client=client, accepted_at=None, revoked_at=None)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def client_contracts(client: Client):
    """The client's contracts, newest first, each with how many services it names.

    Contracts sit above clients, so this reads them through the relation they declare
    (ServiceContract.client, related_name "contracts") rather than importing them."""
    return client.contracts.annotate(
        line_count=Count("lines", filter=Q(lines__removed_at=None))
    ).order_by("-starts_on", "-pk")
