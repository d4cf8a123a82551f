"""A client's own team: its owners invite colleagues, decide what each may do, and remove
people; the agency's staff may do the same from the client's page.

The rules held here: a client keeps at least one owner while it has people (the last
owner can be neither removed nor unmade); an owner invites only into their own client and
only with the client role; removing someone deactivates their membership and keeps their
history. Invitations and sign-up are accounts' own; this module adds the rights they carry.
"""

from django.db import transaction
from django.db.models import QuerySet

from accounts import services as account_services
from accounts.models import Invitation, Membership
from clients.models import Client, ClientInvitationRights, ClientMemberRights
from clients.permissions import ClientRight, client_may
from core.audit import audit_record
from core.errors import ApplicationError
from core.roles import Role

# A new colleague may request and approve work but not see the invoices until an owner
# says so: money is the owners' to share.
DEFAULT_RIGHTS = {"may_request": True, "may_approve": True, "may_see_invoices": False}
RIGHT_NAMES = tuple(DEFAULT_RIGHTS)


# -- reads ---------------------------------------------------------------------------------


def client_team(*, agency, client: Client) -> QuerySet[Membership]:
    """The client's active people with their rights, by e-mail."""
    return (
        Membership.objects.filter(agency=agency, client=client, role=Role.CLIENT, is_active=True)
        .select_related("user", "client_rights")
        .order_by("user__email", "pk")
    )


def client_team_invitations(*, agency, client: Client) -> QuerySet[Invitation]:
    """Invitations to the client's team that nobody has accepted or withdrawn, newest first."""
    return (
        Invitation.objects.filter(
            agency=agency, client=client, role=Role.CLIENT, accepted_at=None, revoked_at=None
        )
        .select_related("invited_by", "client_rights")
        .order_by("-created_at", "-pk")
    )


def rights_of(row) -> dict[str, bool]:
    """The three rights a member's rights row holds; without one, a member from before
    rights existed holds every right."""
    if row is None:
        return dict.fromkeys(RIGHT_NAMES, True)
    return {name: getattr(row, name) for name in RIGHT_NAMES}


def rights_offered(row) -> dict[str, bool]:
    """The three rights an invitation offers; one sent without any (by staff, from the
    agency's team page) offers the defaults."""
    if row is None:
        return dict(DEFAULT_RIGHTS)
    return {name: getattr(row, name) for name in RIGHT_NAMES}


def _owners(*, agency, client: Client) -> QuerySet[ClientMemberRights]:
    return ClientMemberRights.objects.filter(
        agency=agency,
        is_owner=True,
        membership__client=client,
        membership__role=Role.CLIENT,
        membership__is_active=True,
    )


def _lock_team(*, agency, client: Client) -> None:
    """Hold the client's row while its owners change: two owners unmaking each other at
    once must not leave the client with none."""
    Client.objects.select_for_update().filter(agency=agency, pk=client.pk).first()


def _refuse_if_last_owner(*, agency, client: Client, member: Membership, doing: str) -> None:
    others = _owners(agency=agency, client=client).exclude(membership=member)
    if others.exists():
        return
    colleagues = Membership.objects.filter(
        agency=agency, client=client, role=Role.CLIENT, is_active=True
    ).exclude(pk=member.pk)
    if doing == "remove" and not colleagues.exists():
        return  # the last of the client's people: no team is left to own
    raise ApplicationError(
        f"{member.user} is the last owner of {client.name}: make someone else an owner first.",
        code="client_last_owner",
        extra={"field": "is_owner"},
    )


def _require_manager(membership, client: Client) -> None:
    """Staff manage any client's team; a client's people only their own, and only owners."""
    if membership.role in (Role.OWNER, Role.ADMIN):
        return
    if membership.role != Role.CLIENT or membership.client_id != client.pk:
        raise ApplicationError("Unknown client.", code="client_invalid")
    if not client_may(membership, ClientRight.TEAM):
        raise ApplicationError(
            "Only your company's owners can change who is on its team.",
            code="client_team_owner_only",
        )


# -- writes --------------------------------------------------------------------------------


def client_colleague_invite(
    *,
    agency,
    actor,
    membership,
    client: Client,
    email: str,
    may_request: bool = DEFAULT_RIGHTS["may_request"],
    may_approve: bool = DEFAULT_RIGHTS["may_approve"],
    may_see_invoices: bool = DEFAULT_RIGHTS["may_see_invoices"],
) -> Invitation:
    """Invite someone to the client's team with the rights they will hold. The role is
    always client and the client the inviter's own (staff name it); accounts sends the
    e-mail and turns the accepted link into a membership."""
    _require_manager(membership, client)
    with transaction.atomic():
        invitation = account_services.invitation_create(
            agency=agency, actor=actor, email=email, role=Role.CLIENT, client=client
        )
        rights = {
            "may_request": may_request,
            "may_approve": may_approve,
            "may_see_invoices": may_see_invoices,
        }
        ClientInvitationRights.objects.create(agency=agency, invitation=invitation, **rights)
        audit_record(
            agency=agency,
            actor=actor,
            action="client.colleague_invited",
            target=invitation,
            client=client.pk,
            **rights,
        )
    return invitation


def client_invitation_revoke(*, agency, actor, membership, client: Client, invitation) -> None:
    """Withdraw a pending invitation to the client's team (audited by accounts)."""
    _require_manager(membership, client)
    if invitation.client_id != client.pk:
        raise ApplicationError("Not an invitation to this team.", code="invitation_invalid")
    account_services.invitation_revoke(agency=agency, actor=actor, invitation=invitation)


def client_member_rights_set(
    *,
    agency,
    actor,
    membership,
    client: Client,
    member: Membership,
    is_owner: bool | None = None,
    may_request: bool | None = None,
    may_approve: bool | None = None,
    may_see_invoices: bool | None = None,
) -> ClientMemberRights:
    """Change what one of the client's people may do; None keeps a value. Owners hold every
    right whatever their flags say; the last owner stays an owner."""
    _require_manager(membership, client)
    if member.client_id != client.pk or member.role != Role.CLIENT or not member.is_active:
        raise ApplicationError("Not one of this client's people.", code="client_member_invalid")
    proposed = {
        "is_owner": is_owner,
        "may_request": may_request,
        "may_approve": may_approve,
        "may_see_invoices": may_see_invoices,
    }
    with transaction.atomic():
        _lock_team(agency=agency, client=client)
        row = ClientMemberRights.objects.select_for_update().filter(membership=member).first()
        if row is None:
            # A member from before rights existed held every right: start from that.
            row = ClientMemberRights(
                agency=agency, membership=member, **dict.fromkeys(RIGHT_NAMES, True)
            )
        changes = {
            name: [getattr(row, name), value]
            for name, value in proposed.items()
            if value is not None and value != getattr(row, name)
        }
        if row.is_owner and changes.get("is_owner") == [True, False]:
            _refuse_if_last_owner(agency=agency, client=client, member=member, doing="unmake")
        for name, (_, value) in changes.items():
            setattr(row, name, value)
        if changes or row.pk is None:
            row.save()
            audit_record(
                agency=agency,
                actor=actor,
                action="client.member_rights_changed",
                target=member,
                client=client.pk,
                changes=changes,
            )
    member.client_rights = row
    return row


def client_member_remove(*, agency, actor, membership, client: Client, member: Membership) -> None:
    """Take someone off the client's team: their membership is deactivated, their requests,
    comments and approvals stay. The last owner of a team with others on it stays."""
    _require_manager(membership, client)
    if member.client_id != client.pk or member.role != Role.CLIENT or not member.is_active:
        raise ApplicationError("Not one of this client's people.", code="client_member_invalid")
    account_services.membership_deactivate(agency=agency, actor=actor, membership=member)


# -- accounts' hooks -----------------------------------------------------------------------


def client_member_joined(*, agency, membership, actor) -> None:
    """Someone accepted an invitation to a client: they hold the rights it offered (or the
    defaults), and become the owner if the client has none."""
    if membership.role != Role.CLIENT:
        return
    client = membership.client
    offered = (
        ClientInvitationRights.objects.filter(
            agency=agency,
            invitation__email__iexact=membership.user.email,
            invitation__accepted_at=None,
            invitation__revoked_at=None,
        )
        .order_by("-pk")
        .first()
    )
    rights = rights_offered(offered)
    _lock_team(agency=agency, client=client)
    has_owner = _owners(agency=agency, client=client).exclude(membership=membership).exists()
    row, _ = ClientMemberRights.objects.update_or_create(
        agency=agency, membership=membership, defaults={"is_owner": not has_owner, **rights}
    )
    membership.client_rights = row
    audit_record(
        agency=agency,
        actor=actor,
        action="client.member_rights_changed",
        target=membership,
        client=client.pk,
        joined=True,
        is_owner=row.is_owner,
        **rights,
    )


def client_member_leaving(*, agency, membership, actor) -> None:
    """Refuse to deactivate the last owner of a client while others remain on its team,
    wherever the removal comes from (the agency's team page too)."""
    if membership.role != Role.CLIENT or membership.client_id is None:
        return
    client = membership.client
    _lock_team(agency=agency, client=client)
    if _owners(agency=agency, client=client).filter(membership=membership).exists():
        _refuse_if_last_owner(agency=agency, client=client, member=membership, doing="remove")
