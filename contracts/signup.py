"""A business signs up from the agency's public page on one of its published plans.

The visitor's account is allauth's (its sign-up form, its e-mail confirmation); what they
asked for waits in a PlanSignup row until their address is confirmed. Then, in one
transaction, the client is made, its first person becomes a client member (and, through
the member-joined hook, the client's owner), and a contract is drafted from the plan:
activated at once, or left as a draft for staff to approve, as the agency's public page
settings say. Staff are told either way.

Completing is idempotent: the row is locked and completed once, so a second click on the
confirmation link, or two requests racing, make one client. A double submit of the form
carries the same key (unique per agency) and finds the row the first one made.
"""

import logging
import uuid

from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from accounts import hooks
from accounts.models import Membership
from clients import services as client_services
from clients.models import Client
from contracts import services as contract_services
from contracts.models import CollectionMethod, ContractStatus, ServiceContract
from contracts.plans import Plan, PlanStatus, contract_from_plan
from contracts.public_page import public_page_get
from core.audit import audit_record
from core.errors import ApplicationError
from core.models import TenantModel
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import NotificationKind
from notifications.selectors import staff_recipients
from notifications.services import notify

logger = logging.getLogger(__name__)


class PlanSignup(TenantModel):
    """What a visitor asked for on the sign-up page, until (and after) it is carried out."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # From the form: the same form sent twice carries the same key.
    key = models.UUIDField(default=uuid.uuid4)
    company_name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contract = models.ForeignKey(
        ServiceContract, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "contracts"
        constraints = [
            models.UniqueConstraint(fields=["agency", "key"], name="plan_signup_key_once"),
        ]
        indexes = [models.Index(fields=["agency", "user", "completed_at"])]

    def __str__(self) -> str:
        return f"sign-up of {self.company_name}"

    @property
    def needs_card(self) -> bool:
        return self.plan.collection_method == CollectionMethod.CHARGE_AUTOMATICALLY


def signup_refusal(*, agency, user) -> ApplicationError | None:
    """Why this signed-in user may not sign a company up here: agency staff and assistants
    work for the agency, and a client's person already has their company."""
    membership = Membership.objects.filter(agency=agency, user=user, is_active=True).first()
    if membership is None:
        return None
    if membership.role == Role.CLIENT:
        return ApplicationError(
            f"You already work with {agency.name} for a company; ask them to add this plan.",
            code="signup_already_client",
        )
    return ApplicationError(
        f"You are on {agency.name}'s team; sign-up is for new clients.",
        code="signup_staff",
    )


def plan_signup_create(
    *, agency, user, plan: Plan, key, company_name: str, time_zone: str, currency: str
) -> PlanSignup:
    """Record what was asked for. The plan must be published and the currency the plan's
    own (a contract bills in its client's currency). The same key twice is the same
    sign-up: the form sent again finds the first one."""
    if plan.agency_id != agency.pk or plan.status != PlanStatus.PUBLISHED:
        raise ApplicationError("This plan is not offered.", code="signup_plan_unavailable")
    if currency != plan.currency:
        raise ApplicationError(
            f"This plan is priced in {plan.currency}; choose {plan.currency}.",
            code="signup_currency_invalid",
            extra={"field": "currency"},
        )
    company_name = (company_name or "").strip()
    if not company_name:
        raise ApplicationError(
            "Give your company's name.", code="signup_company_required", extra={"field": "name"}
        )
    existing = PlanSignup.objects.filter(agency=agency, key=key).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise ApplicationError("Reload the page and try again.", code="signup_key_taken")
        return existing
    refusal = signup_refusal(agency=agency, user=user)
    if refusal is not None:
        raise refusal
    try:
        with transaction.atomic():
            signup = PlanSignup.objects.create(
                agency=agency,
                plan=plan,
                user=user,
                key=key,
                company_name=company_name,
                time_zone=time_zone,
                currency=currency,
            )
            audit_record(agency=agency, actor=user, action="plan_signup.created", target=signup)
    except IntegrityError:
        # the same form, sent twice at the same moment: the other request made it
        return PlanSignup.objects.get(agency=agency, key=key, user=user)
    return signup


def _free_name(agency, name: str, email: str) -> str:
    # Client names are unique in an agency; a stranger is not told another client's name.
    if not Client.objects.filter(agency=agency, name__iexact=name).exists():
        return name
    return f"{name} ({email})"[:200]


def plan_signup_complete(*, signup: PlanSignup) -> PlanSignup:
    """Carry a sign-up out once its person's e-mail is confirmed: client, membership (the
    client's owner), contract from the plan (active, or a draft when the agency approves
    sign-ups first), and a notification to staff. Done once: a completed one is returned
    as it is."""
    agency = signup.agency
    user = signup.user
    if not EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
        raise ApplicationError(
            "Confirm your e-mail address first: we sent you a link.",
            code="signup_email_unconfirmed",
        )
    with agency_scope(agency), transaction.atomic():
        locked = (
            PlanSignup.objects.select_for_update(of=("self",))
            .select_related("plan")
            .get(agency=agency, pk=signup.pk)
        )
        if locked.completed_at is not None:
            return locked
        refusal = signup_refusal(agency=agency, user=user)
        if refusal is not None:
            raise refusal
        client = client_services.client_create(
            agency=agency,
            actor=user,
            name=_free_name(agency, locked.company_name, user.email),
            billing_email=user.email,
            time_zone=locked.time_zone,
            currency=locked.currency,
        )
        membership, _ = Membership.objects.update_or_create(
            agency=agency,
            user=user,
            defaults={"role": Role.CLIENT, "client": client, "is_active": True},
        )
        hooks.member_joined(agency=agency, membership=membership, actor=user)
        contract = contract_from_plan(agency=agency, actor=user, plan=locked.plan, client=client)
        approve_first = public_page_get(agency=agency).signups_need_approval
        if not approve_first:
            contract = contract_services.contract_transition(
                agency=agency, actor=user, contract=contract, to=ContractStatus.ACTIVE
            )
        locked.client, locked.contract, locked.completed_at = client, contract, timezone.now()
        locked.save(update_fields=["client", "contract", "completed_at"])
        audit_record(
            agency=agency,
            actor=user,
            action="plan_signup.completed",
            target=locked,
            client=client.pk,
            contract=contract.pk,
        )
        waiting = " It waits for your approval." if approve_first else ""
        for recipient in staff_recipients(agency=agency):
            notify(
                agency=agency,
                recipient=recipient,
                kind=NotificationKind.CLIENT_SIGNED_UP,
                target=locked,
                occasion="completed",
                title=f"{client.name} signed up for {locked.plan.name}",
                body=f"{user.email} signed {client.name} up online.{waiting}",
                link=reverse(
                    "contract_detail", kwargs={"agency_slug": agency.slug, "pk": contract.pk}
                ),
            )
    return locked


def plan_signup_waiting(*, agency, user) -> list[PlanSignup]:
    return list(
        PlanSignup.objects.filter(agency=agency, user=user, completed_at=None).select_related(
            "agency", "plan", "user"
        )
    )


@receiver(email_confirmed, dispatch_uid="contracts.plan_signups_on_confirmation")
def _complete_on_confirmation(sender, request, email_address, **kwargs):
    """A confirmed address carries out its person's waiting sign-ups, wherever the link was
    opened (the page they are sent to afterwards completes them too, if this could not)."""
    user = email_address.user
    with scopes_disabled():  # the person's own rows, in whichever agencies they signed up
        waiting = list(
            PlanSignup.objects.filter(user=user, completed_at=None).select_related(
                "agency", "plan", "user"
            )
        )
    for signup in waiting:
        try:
            plan_signup_complete(signup=signup)
        except ApplicationError as error:
            # shown on the page the person lands on, which tries again
            logger.info("sign-up %s not completed: %s", signup.pk, error.code)
