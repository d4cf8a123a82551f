import datetime as dt

from django.db.models import Count, Prefetch, Q, QuerySet

from contracts.models import (
    ContractAssistant,
    ContractLine,
    ContractStatus,
    ContractTerms,
    Service,
    ServiceCategory,
    ServiceContract,
)
from core.errors import ApplicationError


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


def version_at(versions, at: dt.datetime) -> ContractTerms | None:
    """The version (of versions newest first) that applies at a moment, if any."""
    return next((version for version in versions if version.effective_from <= at), None)


def terms_in_force(line: ContractLine, at: dt.datetime) -> ContractTerms | None:
    """The version of a line's terms that applies at a moment (from prefetched terms when
    the line came through `with_lines`)."""
    return version_at(line.terms.all(), at)  # newest first


def terms_at(versions: list[ContractTerms], at: dt.datetime) -> ContractTerms:
    """The version a piece of work done at `at` is priced under (versions newest first).
    Work finished before the line's first terms took effect can only have been done under
    those first terms."""
    if not versions:
        raise ApplicationError("This service has no terms to bill by.", code="charge_no_terms")
    return version_at(versions, at) or versions[-1]


def terms_scheduled(line: ContractLine, at: dt.datetime) -> list[ContractTerms]:
    """Versions that start after `at`, soonest first."""
    return sorted(
        (v for v in line.terms.all() if v.effective_from > at), key=lambda v: v.effective_from
    )
