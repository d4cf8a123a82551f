import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

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
from core.times import local_midnight, local_today


def category_list(*, agency) -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(agency=agency).order_by("name")


def skilled_assistant_exists(*, agency, category_ref: str) -> Exists:
    """Whether an active assistant has the skill (category) at `category_ref`: work of a
    category nobody active has waits in a pool nobody sees. Skills belong to assistants,
    above this app, so they are reached through the category's relation."""
    return Exists(
        ServiceCategory.objects.filter(
            agency=agency,
            pk=OuterRef(category_ref),
            assistant_skills__profile__is_active=True,
            assistant_skills__profile__membership__is_active=True,
        )
    )


def service_list(
    *, agency, active: bool | None = None, staffing: bool = False
) -> QuerySet[Service]:
    """The catalogue; with `staffing`, each service says whether an active assistant has
    its skill (`has_skilled_assistant`), in the same query."""
    services = Service.objects.filter(agency=agency).select_related("category")
    if staffing:
        services = services.annotate(
            has_skilled_assistant=skilled_assistant_exists(
                agency=agency, category_ref="category_id"
            )
        )
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


def with_lines(
    contracts: QuerySet[ServiceContract], *, staffing: bool = False
) -> QuerySet[ServiceContract]:
    """Prefetch each contract's lines, their services and every terms version, and the
    dedicated assistants: a contract page costs the same queries whatever its size. With
    `staffing`, each line knows whether an active assistant has its service's skill and
    each dedicated assistant brings their profile (for `line_has_assistant`)."""
    lines = ContractLine.objects.select_related("service", "service__category")
    dedicated = ContractAssistant.objects.select_related("membership__user")
    if staffing:
        lines = lines.annotate(
            has_skilled_assistant=skilled_assistant_exists(
                agency=OuterRef("agency_id"), category_ref="service__category_id"
            )
        )
        dedicated = dedicated.select_related("membership__assistant_profile")
    return contracts.prefetch_related(
        Prefetch(
            "lines",
            queryset=lines.prefetch_related(
                Prefetch("terms", queryset=ContractTerms.objects.order_by("-effective_from"))
            ).order_by("removed_at", "service__name"),
        ),
        Prefetch("dedicated", queryset=dedicated),
    ).select_related("client")


def line_has_assistant(contract: ServiceContract, line: ContractLine) -> bool:
    """Whether anyone can take this line's work: under a contract that dedicates assistants
    only they may (an active one is enough, whatever their skills); otherwise anyone active
    with the service's skill. The same rule routes the queue (tasks.selectors)."""
    dedicated = contract.dedicated.all()
    if dedicated:
        return any(
            d.membership.is_active
            and getattr(d.membership, "assistant_profile", None) is not None
            and d.membership.assistant_profile.is_active
            for d in dedicated
        )
    return bool(getattr(line, "has_skilled_assistant", True))


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


# -- what a contract means today, on the client's calendar ---------------------------------


def zone_place(zone: str) -> str:
    """A time zone as people name it: "America/New_York" is New York."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def start_in_zones(day: dt.date, client_zone: str, other_zone: str) -> str:
    """When a contract starting on `day` begins: 00:00 on the client's calendar, and the
    same moment on the agency's clock where that is another time."""
    start = local_midnight(day, client_zone)
    text = f"Starts 00:00 in {zone_place(client_zone)}"
    there = start.astimezone(ZoneInfo(other_zone))
    if there.replace(tzinfo=None) != start.replace(tzinfo=None):
        when = f"{there:%H:%M}" if there.date() == day else f"{there:%H:%M} on {there:%-d %b}"
        text += f" ({when} in {zone_place(other_zone)})"
    return text


@dataclass(frozen=True)
class Standing:
    """What a contract means now: `requestable` is true exactly when its client may request
    its services (tasks.selectors.live_lines_for_client asks the same of each line)."""

    code: str
    label: str
    note: str = ""

    @property
    def requestable(self) -> bool:
        return self.code == "in_force"


def contract_standing(contract: ServiceContract, now: dt.datetime | None = None) -> Standing:
    """Active means the client can request work now: an active contract whose dates (days
    on the client's calendar) have not begun or have passed says so instead. Uses the
    contract's client (select it with the contract) and, when present, its `line_count`."""
    if contract.status != ContractStatus.ACTIVE:
        return Standing(contract.status, contract.get_status_display())
    zone = contract.client.time_zone
    today = local_today(zone, now)
    if contract.starts_on > today:
        return Standing(
            "not_started",
            "Starts later",
            f"Active from {contract.starts_on:%-d %b %Y} on the client's calendar "
            f"(it is {today:%-d %b} in {zone_place(zone)}): the client cannot request "
            "work until then.",
        )
    if contract.ends_on is not None and contract.ends_on < today:
        return Standing(
            "past_end",
            "Past its end",
            f"Its end date, {contract.ends_on:%-d %b %Y}, has passed on the client's "
            "calendar: the client cannot request work under it.",
        )
    if getattr(contract, "line_count", None) == 0:
        return Standing(
            "no_lines", "No services", "No services on it: the client has nothing to request."
        )
    return Standing("in_force", contract.get_status_display())
