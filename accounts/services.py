import datetime as dt

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import hooks
from accounts.models import Agency, ApiToken, Invitation, Membership
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error, unique_or_error
from core.jobs import queue_job
from core.roles import Role
from core.tenancy import agency_scope

INVITATION_SALT = "accounts.invitation"
INVITATION_MAX_AGE = 60 * 60 * 24 * 14  # a link works for two weeks


def agency_create(*, owner, name: str, slug: str = "", time_zone: str, default_currency: str):
    """Create an agency and make its creator the owner, in one transaction."""
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ApplicationError(
            "Choose a name with letters or digits.",
            code="agency_slug_invalid",
            extra={"field": "slug"},
        )
    agency = Agency(
        name=name, slug=slug, time_zone=time_zone, default_currency=default_currency.upper()
    )
    clean_or_error(agency)
    taken = f"The address “{slug}” is taken; choose another."
    with unique_or_error(taken, code="agency_slug_taken", field="slug"):
        agency.save()
        with agency_scope(agency):
            Membership.objects.create(agency=agency, user=owner, role=Role.OWNER)
            hooks.agency_created(agency=agency, actor=owner)
            audit_record(agency=agency, actor=owner, action="agency.created", target=agency)
    return agency


AGENCY_DETAILS = (
    "name",
    "time_zone",
    "default_currency",
    "billing_address",
    "tax_id",
    "bill_approved_time_only",
)


def agency_update(*, agency, actor, **details) -> Agency:
    """Change what the agency says of itself (audited with what changed). Its address in
    links (the slug) never changes: bookmarks, e-mails and webhooks point at it."""
    unknown = set(details) - set(AGENCY_DETAILS)
    if unknown:
        raise ApplicationError(
            f"Not an agency detail: {', '.join(sorted(unknown))}.", code="agency_field_unknown"
        )
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        changed = {name: value for name, value in details.items() if getattr(agency, name) != value}
        for name, value in changed.items():
            setattr(agency, name, value)
        clean_or_error(agency)
        if changed:
            agency.save(update_fields=list(changed))
            audit_record(
                agency=agency,
                actor=actor,
                action="agency.updated",
                target=agency,
                changed=sorted(changed),
            )
    return agency


def invitation_create(*, agency, actor, email: str, role: str, client=None) -> Invitation:
    """Invite someone by e-mail. One pending invitation per address; members are not re-invited.

    A client invitation names the client; other roles never do. The e-mail is sent by a job
    queued once the invitation is committed.
    """
    email = email.strip().lower()
    if role == Role.CLIENT and client is None:
        raise ApplicationError(
            "Choose which client this person belongs to.",
            code="invitation_client_required",
            extra={"field": "client"},
        )
    if role != Role.CLIENT:
        client = None
    if client is not None and client.agency_id != agency.pk:
        raise ApplicationError(
            "Unknown client.", code="invitation_client_invalid", extra={"field": "client"}
        )
    if Membership.objects.filter(agency=agency, user__email__iexact=email, is_active=True).exists():
        raise ApplicationError(
            f"{email} is already a member of this agency.",
            code="invitation_already_member",
            extra={"field": "email"},
        )
    pending = f"{email} already has a pending invitation; resend it instead."
    with unique_or_error(pending, code="invitation_pending", field="email"):
        invitation = Invitation.objects.create(
            agency=agency, email=email, role=role, client=client, invited_by=actor
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="invitation.created",
            target=invitation,
            email=email,
            role=role,
        )
    transaction.on_commit(
        lambda: queue_job(
            "accounts.jobs.send_invitation", agency_id=agency.pk, invitation_id=invitation.pk
        )
    )
    return invitation


def invitation_resend(*, agency, actor, invitation: Invitation) -> None:
    if not invitation.is_pending:
        raise ApplicationError("This invitation is no longer pending.", code="invitation_closed")
    audit_record(agency=agency, actor=actor, action="invitation.resent", target=invitation)
    transaction.on_commit(
        lambda: queue_job(
            "accounts.jobs.send_invitation", agency_id=agency.pk, invitation_id=invitation.pk
        )
    )


def invitation_revoke(*, agency, actor, invitation: Invitation) -> None:
    if not invitation.is_pending:
        raise ApplicationError("This invitation is no longer pending.", code="invitation_closed")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(agency=agency, actor=actor, action="invitation.revoked", target=invitation)


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(
        {"agency": invitation.agency_id, "invitation": invitation.pk}, salt=INVITATION_SALT
    )


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a signed link points to, or a clear error."""
    try:
        payload = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise ApplicationError(
            "This invitation link has expired. Ask the agency to send a new one.",
            code="invitation_expired",
        ) from None
    except signing.BadSignature:
        raise ApplicationError(
            "This invitation link is not valid.", code="invitation_invalid"
        ) from None
    agency = Agency.objects.filter(pk=payload["agency"]).first()
    if agency is None:
        raise ApplicationError("This invitation link is not valid.", code="invitation_invalid")
    with agency_scope(agency):
        invitation = (
            Invitation.objects.select_related("agency", "client")
            .filter(pk=payload["invitation"])
            .first()
        )
    if invitation is None or invitation.revoked_at is not None:
        raise ApplicationError(
            "This invitation was withdrawn. Ask the agency to send a new one.",
            code="invitation_revoked",
        )
    if invitation.accepted_at is not None:
        raise ApplicationError("This invitation has already been used.", code="invitation_used")
    return invitation


def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Turn a pending invitation into a membership for the user it was sent to.

    The signed-in user's e-mail must be the invited address, so a forwarded link grants
    nothing. A deactivated membership comes back with the invited role.
    """
    if user.email.lower() != invitation.email.lower():
        raise ApplicationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
            code="invitation_wrong_user",
        )
    agency = invitation.agency
    with agency_scope(agency), transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_pending:
            raise ApplicationError("This invitation has already been used.", code="invitation_used")
        membership, _ = Membership.objects.update_or_create(
            agency=agency,
            user=user,
            defaults={"role": locked.role, "client": locked.client, "is_active": True},
        )
        hooks.member_joined(agency=agency, membership=membership, actor=user)
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            agency=agency,
            actor=user,
            action="invitation.accepted",
            target=locked,
            membership=membership.pk,
        )
    return membership


def membership_deactivate(*, agency, actor, membership: Membership) -> None:
    """Remove someone from the agency. Only an owner may remove an owner (an admin cannot
    make one either), and the last active owner cannot be removed."""
    if membership.role == Role.OWNER:
        acting = Membership.objects.filter(agency=agency, user=actor, is_active=True).first()
        if acting is None or acting.role != Role.OWNER:
            raise ApplicationError(
                "Only an owner can remove an owner.", code="membership_owner_only"
            )
        owners = Membership.objects.filter(agency=agency, role=Role.OWNER, is_active=True)
        if owners.count() <= 1:
            raise ApplicationError(
                "An agency needs at least one owner.", code="membership_last_owner"
            )
    with transaction.atomic():
        hooks.member_leaving(agency=agency, membership=membership, actor=actor)
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        audit_record(agency=agency, actor=actor, action="membership.deactivated", target=membership)


# How long a new API token lasts, as its owner chooses (None: until revoked).
TOKEN_LIFETIMES = {"30": 30, "90": 90, "365": 365, "never": None}
TOKENS_PER_USER = 20


def api_token_create(*, user, name: str, lifetime: str) -> tuple[ApiToken, str]:
    """A new named API token for the user, and the token itself: only its hash is kept, so
    this is the one time it can be shown."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError(
            "Name the token after what will use it, e.g. “Zapier” or “Reporting script”.",
            code="token_name_required",
            extra={"field": "name"},
        )
    if len(name) > 80:
        raise ApplicationError(
            f"A token's name has at most 80 characters; this one has {len(name)}.",
            code="token_name_too_long",
            extra={"field": "name"},
        )
    if lifetime not in TOKEN_LIFETIMES:
        raise ApplicationError(
            "Choose how long the token lasts.",
            code="token_lifetime_invalid",
            extra={"field": "lifetime"},
        )
    if ApiToken.objects.filter(user=user).count() >= TOKENS_PER_USER:
        raise ApplicationError(
            f"You have {TOKENS_PER_USER} tokens, the most one person may hold: revoke one you "
            "no longer use first.",
            code="token_limit_reached",
        )
    days = TOKEN_LIFETIMES[lifetime]
    expiry = dt.timedelta(days=days) if days is not None else None
    return ApiToken.objects.create(user=user, expiry=expiry, name=name)


def api_token_revoke(*, user, token_key: str) -> int:
    """Revoke the user's token(s) with that visible key (never another user's): any call
    made with it from now on is refused. Returns how many were revoked."""
    revoked, _ = ApiToken.objects.filter(user=user, token_key=token_key).delete()
    return revoked
