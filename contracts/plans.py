"""Plans: contract templates an agency offers on its public page and starts contracts from.

A plan is what a contract would be without a client: a name, how it is billed, and lines
of services with their terms. Its terms follow the contract line's rules (the same check
in contracts.services), so a contract started from a plan is one the contract services
would have accepted anyway. A plan never bills anything itself; archiving it leaves the
contracts made from it as they are.
"""

from django.db import models, transaction

from clients.models import Client
from contracts import services as contract_services
from contracts.models import (
    BillingCadence,
    CapBehaviour,
    CollectionMethod,
    PricingModel,
    Service,
    ServiceContract,
)
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error, text_within, unique_or_error
from core.models import TenantModel
from core.validators import validate_billing_currency

DESCRIPTION_MAX = 1000
# The largest amount or duration a term holds (a PostgreSQL integer column).
LARGEST_VALUE = contract_services.LARGEST_TERMS_VALUE


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Plan(TenantModel):
    """A contract template: its header (billing cadence, collection) and its lines."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX)
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    currency = models.CharField(max_length=3, validators=[validate_billing_currency])
    billing_cadence = models.CharField(
        max_length=16, choices=BillingCadence.choices, default=BillingCadence.MONTHLY
    )
    collection_method = models.CharField(
        max_length=24, choices=CollectionMethod.choices, default=CollectionMethod.SEND_INVOICE
    )
    days_until_due = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "contracts"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "name"],
                condition=~models.Q(status="archived"),
                name="plan_name_unique_unless_archived",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(collection_method=CollectionMethod.SEND_INVOICE)
                    & models.Q(days_until_due__isnull=False)
                )
                | (
                    models.Q(collection_method=CollectionMethod.CHARGE_AUTOMATICALLY)
                    & models.Q(days_until_due__isnull=True)
                ),
                name="plan_due_days_iff_sending_invoices",
            ),
        ]
        indexes = [models.Index(fields=["agency", "status", "name"])]
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class PlanLine(TenantModel):
    """One service of a plan with the terms a contract line made from it starts with."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="lines")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    pricing_model = models.CharField(max_length=16, choices=PricingModel.choices)
    flat_fee = models.PositiveIntegerField(null=True, blank=True)
    hourly_rate = models.PositiveIntegerField(null=True, blank=True)
    rounding_increment_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    minimum_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    retainer_fee = models.PositiveIntegerField(null=True, blank=True)
    included_minutes = models.PositiveIntegerField(null=True, blank=True)
    rollover_cap_minutes = models.PositiveIntegerField(null=True, blank=True)
    overage_rate = models.PositiveIntegerField(null=True, blank=True)
    banked_hours_expire_after_months = models.PositiveSmallIntegerField(null=True, blank=True)
    top_up_rate = models.PositiveIntegerField(null=True, blank=True)
    monthly_budget_cap = models.PositiveIntegerField(null=True, blank=True)
    cap_behaviour = models.CharField(
        max_length=8, choices=CapBehaviour.choices, default=CapBehaviour.BLOCK
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "contracts"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "plan", "service"], name="plan_line_one_per_service"
            ),
        ]
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.plan} · {self.service}"

    def terms(self) -> dict:
        return {field: getattr(self, field) for field in contract_services.ALL_TERMS_FIELDS} | {
            "pricing_model": self.pricing_model
        }


# -- selectors ----------------------------------------------------------------------------


def plan_list(*, agency, status: str | None = None):
    """The agency's plans with their lines and services (three queries, however many)."""
    plans = Plan.objects.filter(agency=agency).prefetch_related(
        models.Prefetch(
            "lines",
            queryset=PlanLine.objects.filter(agency=agency).select_related("service__category"),
        )
    )
    if status is not None:
        plans = plans.filter(status=status)
    return plans


def plan_monthly_fee(plan: Plan) -> int:
    """What the plan costs each month before any work: the sum of its retainers' fees.
    Reads the prefetched lines."""
    return sum(line.retainer_fee or 0 for line in plan.lines.all() if line.retainer_fee)


# -- services -----------------------------------------------------------------------------

HEADER_FIELDS = ("name", "description", "billing_cadence", "collection_method", "days_until_due")


def plan_create(*, agency, actor, currency: str | None = None, **header) -> Plan:
    """Draft a plan in the agency's currency (or another it bills in). Names are unique
    among the plans not archived."""
    plan = Plan(agency=agency, currency=(currency or agency.default_currency).upper())
    with transaction.atomic():
        _plan_header_save(plan, header)
        audit_record(agency=agency, actor=actor, action="plan.created", target=plan)
    return plan


def plan_update(*, agency, actor, plan: Plan, **header) -> Plan:
    """Change a plan's header. An archived plan is history and does not change."""
    _require_not_archived(plan)
    with transaction.atomic():
        _plan_header_save(plan, header)
        audit_record(
            agency=agency, actor=actor, action="plan.updated", target=plan, fields=sorted(header)
        )
    return plan


def _plan_header_save(plan: Plan, header: dict) -> None:
    unknown = set(header) - set(HEADER_FIELDS)
    if unknown:
        raise TypeError(f"unknown plan fields: {sorted(unknown)}")
    for name, value in header.items():
        setattr(plan, name, value)
    plan.name = (plan.name or "").strip()
    plan.description = text_within(
        plan.description, limit=DESCRIPTION_MAX, field="description", label="A description"
    )
    if not plan.name:
        raise ApplicationError(
            "Give the plan a name.", code="plan_name_required", extra={"field": "name"}
        )
    contract_services.due_days_check(plan, code_prefix="plan")
    clean_or_error(plan)
    taken = f"There is already a plan called “{plan.name}”."
    with unique_or_error(taken, code="plan_name_taken", field="name"):
        plan.save()


def plan_publish(*, agency, actor, plan: Plan) -> Plan:
    """Show a plan on the public page. It needs at least one service first."""
    _require_not_archived(plan)
    with transaction.atomic():
        if not PlanLine.objects.filter(plan=plan).exists():
            raise ApplicationError(
                "Add at least one service before publishing the plan.", code="plan_has_no_lines"
            )
        return _plan_status_set(agency, actor, plan, PlanStatus.PUBLISHED)


def plan_unpublish(*, agency, actor, plan: Plan) -> Plan:
    """Take a plan off the public page; it stays usable by staff as a draft."""
    _require_not_archived(plan)
    return _plan_status_set(agency, actor, plan, PlanStatus.DRAFT)


def plan_archive(*, agency, actor, plan: Plan) -> Plan:
    """Retire a plan: off the public page and out of staff's choices. Contracts started
    from it are their own and do not change. Archiving frees its name."""
    if plan.status == PlanStatus.ARCHIVED:
        return plan
    return _plan_status_set(agency, actor, plan, PlanStatus.ARCHIVED)


def _plan_status_set(agency, actor, plan: Plan, status: str) -> Plan:
    previous = plan.status
    with transaction.atomic():
        plan.status = status
        plan.save(update_fields=["status", "updated_at"])
        audit_record(
            agency=agency, actor=actor, action=f"plan.{status}", target=plan, previous=previous
        )
    return plan


def _require_not_archived(plan: Plan) -> None:
    if plan.status == PlanStatus.ARCHIVED:
        raise ApplicationError("An archived plan cannot change.", code="plan_archived")


def plan_line_add(*, agency, actor, plan: Plan, service: Service, **terms) -> PlanLine:
    """Add a service to a plan with its terms, checked as a contract line's are. The
    service must be an active one of the agency's catalogue and not already on the plan."""
    _require_not_archived(plan)
    if service.agency_id != agency.pk or not service.is_active:
        raise ApplicationError(
            "Choose a service from the catalogue.",
            code="plan_line_service_invalid",
            extra={"field": "service"},
        )
    values = _terms(terms)
    already = f"“{service.name}” is already in this plan; change its terms instead."
    line = PlanLine(agency=agency, plan=plan, service=service, **values)
    clean_or_error(line, exclude=("plan", "service"))
    with unique_or_error(already, code="plan_line_duplicate", field="service"):
        line.save()
        plan.save(update_fields=["updated_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="plan_line.added",
            target=line,
            plan=plan.pk,
            service=service.pk,
        )
    return line


def plan_line_update(*, agency, actor, line: PlanLine, **terms) -> PlanLine:
    """New terms for a plan's service. Contracts already made from the plan keep theirs."""
    _require_not_archived(line.plan)
    values = _terms(terms)
    with transaction.atomic():
        for name, value in values.items():
            setattr(line, name, value)
        clean_or_error(line, exclude=("plan", "service"))
        line.save()
        line.plan.save(update_fields=["updated_at"])
        audit_record(agency=agency, actor=actor, action="plan_line.updated", target=line)
    return line


def plan_line_remove(*, agency, actor, line: PlanLine) -> None:
    """Take a service out of a plan. A published plan keeps at least one."""
    plan = line.plan
    _require_not_archived(plan)
    with transaction.atomic():
        if (
            plan.status == PlanStatus.PUBLISHED
            and PlanLine.objects.filter(plan=plan).exclude(pk=line.pk).count() == 0
        ):
            raise ApplicationError(
                "A published plan keeps at least one service; unpublish it first.",
                code="plan_needs_a_line",
            )
        audit_record(agency=agency, actor=actor, action="plan_line.removed", target=line)
        line.delete()
        plan.save(update_fields=["updated_at"])


def _terms(terms: dict) -> dict:
    """The contract line's own check, so a plan never offers terms a contract refuses."""
    terms = dict(terms)
    terms.pop("effective_from", None)
    pricing_model = terms.pop("pricing_model", None)
    return contract_services._terms_values(pricing_model, terms)


def contract_from_plan(
    *, agency, actor, plan: Plan, client: Client, name: str = "", starts_on=None, ends_on=None
) -> ServiceContract:
    """Draft a contract for an existing client from a plan: the plan's header and a line
    per service with the plan's terms, all through the contract services so their rules
    hold (an active client of the agency, catalogue services still offered). The client
    must pay in the plan's currency. Nothing is made unless all of it is."""
    if plan.status == PlanStatus.ARCHIVED:
        raise ApplicationError(
            "This plan is archived; choose another.", code="plan_archived", extra={"field": "plan"}
        )
    if client.agency_id != agency.pk:
        raise ApplicationError(
            "Unknown client.", code="contract_client_invalid", extra={"field": "client"}
        )
    if client.currency != plan.currency:
        raise ApplicationError(
            f"This plan is priced in {plan.currency} and {client.name} pays in {client.currency}.",
            code="plan_currency_mismatch",
            extra={"field": "client"},
        )
    lines = list(PlanLine.objects.filter(plan=plan).select_related("service").order_by("pk"))
    if not lines:
        raise ApplicationError(
            "This plan has no services yet.", code="plan_has_no_lines", extra={"field": "plan"}
        )
    with transaction.atomic():
        contract = contract_services.contract_create(
            agency=agency,
            actor=actor,
            client=client,
            name=(name or "").strip() or plan.name,
            starts_on=starts_on,
            ends_on=ends_on,
            billing_cadence=plan.billing_cadence,
            collection_method=plan.collection_method,
            days_until_due=plan.days_until_due,
        )
        for line in lines:
            contract_services.contract_line_add(
                agency=agency, actor=actor, contract=contract, service=line.service, **line.terms()
            )
        audit_record(
            agency=agency,
            actor=actor,
            action="contract.from_plan",
            target=contract,
            plan=plan.pk,
        )
    return contract
