import datetime as dt

from django.db.models import Count, Prefetch, Q, QuerySet

from billing.models import (
    Charge,
    ContractAssistant,
    ContractLine,
    ContractStatus,
    ContractTerms,
    Invoice,
    InvoiceStatus,
    Service,
    ServiceCategory,
    ServiceContract,
)


def category_list(*, agency) -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(agency=agency).order_by("name")


def service_list(*, agency, active: bool | None = None) -> QuerySet[Service]:
    services = Service.objects.filter(agency=agency).select_related("category")
    if active is not None:
        services = services.filter(is_active=active)
    return services.order_by("name")


def contract_list(
    *, agency, client=None, status: str | None = None, include_drafts: bool = True
) -> QuerySet[ServiceContract]:
    contracts = (
        ServiceContract.objects.filter(agency=agency)
        .select_related("client")
        .annotate(line_count=Count("lines", filter=Q(lines__removed_at=None)))
    )
    if client is not None:
        contracts = contracts.filter(client=client)
    if status:
        contracts = contracts.filter(status=status)
    if not include_drafts:
        contracts = contracts.exclude(status=ContractStatus.DRAFT)
    return contracts.order_by("-starts_on", "-pk")


def with_lines(contracts: QuerySet[ServiceContract]) -> QuerySet[ServiceContract]:
    """Prefetch each contract's lines, their services and every terms version, and the
    dedicated assistants: a contract page costs the same queries whatever its size."""
    return contracts.prefetch_related(
        Prefetch(
            "lines",
            queryset=ContractLine.objects.select_related("service", "service__category")
            .prefetch_related(
                Prefetch("terms", queryset=ContractTerms.objects.order_by("-effective_from"))
            )
            .order_by("removed_at", "service__name"),
        ),
        Prefetch(
            "dedicated",
            queryset=ContractAssistant.objects.select_related("membership__user"),
        ),
    ).select_related("client")


def terms_in_force(line: ContractLine, at: dt.datetime) -> ContractTerms | None:
    """The version of a line's terms that applies at a moment (from prefetched terms when
    the line came through `with_lines`)."""
    for version in line.terms.all():  # newest first
        if version.effective_from <= at:
            return version
    return None


def terms_scheduled(line: ContractLine, at: dt.datetime) -> list[ContractTerms]:
    """Versions that start after `at`, soonest first."""
    return sorted(
        (v for v in line.terms.all() if v.effective_from > at), key=lambda v: v.effective_from
    )


def invoice_list(
    *, agency, client=None, status: str | None = None, include_drafts: bool = True
) -> QuerySet[Invoice]:
    """Invoices newest first, with their client and their lines (the charges, with task,
    service and terms) loaded alongside: a list or an invoice page costs the same queries
    whatever its size. Drafts are the agency's work in progress; clients never see them."""
    invoices = (
        Invoice.objects.filter(agency=agency)
        .select_related("client", "contract")
        .prefetch_related(
            Prefetch(
                "charges",
                queryset=Charge.objects.select_related(
                    "task", "contract_line__service", "terms"
                ).order_by("created_at", "pk"),
            )
        )
    )
    if client is not None:
        invoices = invoices.filter(client=client)
    if status:
        invoices = invoices.filter(status=status)
    if not include_drafts:
        invoices = invoices.exclude(status=InvoiceStatus.DRAFT)
    return invoices.order_by("-created_at", "-pk")
