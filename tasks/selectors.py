from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, Q, QuerySet
from django.utils import timezone

from assistants.models import AssistantSkill
from assistants.selectors import dedicated_takers, time_off_in_force
from contracts.models import (
    ContractAssistant,
    ContractLine,
    ContractStatus,
    ContractTerms,
    Service,
)
from core.errors import ApplicationError
from core.pagination import COUNT_LIMIT, BoundedCount, bounded_count
from core.roles import STAFF_ROLES, Role
from tasks.models import ACTIVE_STATUSES, OPEN_STATUSES, Task, TaskStatus


def live_lines_for_client(*, agency, client, at=None) -> QuerySet[ContractLine]:
    """The services a client may request now: lines of their active contract, in force
    today. Paused, draft and ended contracts offer nothing."""
    at = at or timezone.now()
    today = at.astimezone(ZoneInfo(client.time_zone)).date()
    return (
        ContractLine.objects.filter(
            agency=agency,
            contract__client=client,
            contract__status=ContractStatus.ACTIVE,
            contract__starts_on__lte=today,
            removed_at=None,
            service__is_active=True,
        )
        .filter(Q(contract__ends_on__isnull=True) | Q(contract__ends_on__gte=today))
        .select_related("service", "service__category", "contract")
        .order_by("service__name")
    )


def _not_contracted() -> ApplicationError:
    # One answer for unknown, another agency's and uncontracted services: which ids exist
    # in the agency is none of the client's business.
    return ApplicationError(
        "That service is not in your active contract.",
        code="task_service_not_contracted",
        extra={"field": "service"},
    )


def contracted_line(*, agency, client, service) -> ContractLine:
    """The client's line for `service` that may be requested now, or the refusal."""
    line = live_lines_for_client(agency=agency, client=client).filter(service=service).first()
    if line is None:
        raise _not_contracted()
    return line


def requestable_service(*, agency, service_id) -> Service:
    """The agency's service a request names by id (contracted_line then checks the client
    may ask for it), or the same refusal as for an uncontracted one."""
    service = Service.objects.filter(agency=agency, pk=service_id).first()
    if service is None:
        raise _not_contracted()
    return service


def pool_for(*, agency, membership) -> QuerySet[Task]:
    """Queued tasks an assistant may take: of a category they are skilled in, under a
    contract that dedicates nobody, or any category under a contract that dedicates them.
    Most urgent first: earliest due, then highest priority."""
    eligible = _eligible(agency=agency, membership=membership)
    if eligible is None:
        return Task.objects.none()
    return (
        Task.objects.filter(agency=agency, status=TaskStatus.QUEUED)
        .filter(eligible)
        .order_by("due_at", "-priority", "pk")
    )


def _eligible(*, agency, membership) -> Q | None:
    """The condition on a task row that makes it the assistant's to take (None: nothing
    is, e.g. no active profile). Subqueries are on the small contract and skill tables."""
    profile = getattr(membership, "assistant_profile", None)
    if profile is None or not profile.is_active:
        return None
    # Who serves each dedicated contract now: the dedicated assistant, or while they are
    # on time off their cover (or, with none named, the skill pool). Someone on time off
    # themselves may take nothing.
    now = timezone.now()
    takers = dedicated_takers(agency=agency, at=now)
    mine = takers.contracts_of(membership)
    served = takers.served()
    away = time_off_in_force(agency=agency, at=now).filter(assistant=membership)
    skills = profile.assistant_skills.values("category")
    return (Q(contract__in=mine) | (Q(category__in=skills) & ~Q(contract__in=served))) & ~Q(
        Exists(away)
    )


def active_tasks_of(*, agency, membership) -> QuerySet[Task]:
    return Task.objects.filter(
        agency=agency, assignee=membership, status__in=ACTIVE_STATUSES
    ).order_by("due_at", "-priority", "pk")


def tasks_visible_to(*, agency, membership) -> QuerySet[Task]:
    """Every task a member may open: staff all; a client member their client's; an
    assistant what is assigned to them or in their pool."""
    tasks = Task.objects.filter(agency=agency)
    if membership.role in STAFF_ROLES:
        return tasks
    if membership.role == Role.CLIENT:
        return tasks.filter(client_id=membership.client_id)
    # The pool's conditions inline rather than "pk IN (pool)", which made the database scan
    # every task of the agency.
    eligible = _eligible(agency=agency, membership=membership)
    mine = Q(assignee=membership)
    if eligible is None:
        return tasks.filter(mine)
    return tasks.filter(mine | (Q(status=TaskStatus.QUEUED) & eligible))


def with_list_data(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """What a task list row shows, in a fixed number of queries: the client and service
    joined (two small tables: cheap to plan), the assignee and their user fetched by id
    after the page's rows, as a join of five tables costs more to plan than a page of
    rows costs to read."""
    return tasks.select_related("client", "service").prefetch_related("assignee__user")


# The tabs of a client's list, in the client's words. "Open" is everything not finished,
# so a task waiting on the client is both open and waiting on them.
REQUEST_GROUPS = {
    "open": ("Open", Q(status__in=OPEN_STATUSES)),
    "waiting": ("Waiting on you", Q(status=TaskStatus.WAITING_ON_CLIENT)),
    "approval": (
        "Awaiting your approval",
        Q(status=TaskStatus.COMPLETED, approved_at__isnull=True),
    ),
    "done": ("Done", Q(status=TaskStatus.COMPLETED, approved_at__isnull=False)),
    "cancelled": ("Cancelled", Q(status=TaskStatus.CANCELLED)),
}


def request_counts(*, agency, client_id) -> dict[str, int]:
    """How many of a client's tasks fall in each tab, in one query (for the dashboards;
    the request list itself counts with `request_tab_counts`)."""
    return Task.objects.filter(agency=agency, client_id=client_id).aggregate(
        all=Count("pk"),
        **{key: Count("pk", filter=condition) for key, (_, condition) in REQUEST_GROUPS.items()},
    )


# The tabs whose count the client's list shows: the work that asks something of them. The
# rest (everything, done, cancelled) is history that only grows; its size is no call to act.
COUNTED_GROUPS = ("open", "waiting", "approval")


def request_tab_counts(*, agency, client_id, limit: int = COUNT_LIMIT) -> dict[str, BoundedCount]:
    """How many of a client's tasks are in each tab of COUNTED_GROUPS, each count bounded
    at `limit`. One small query per tab, each answered by an index alone (the client's
    status index, and task_client_to_approve), without reading a task row."""
    tasks = Task.objects.filter(agency=agency, client_id=client_id)
    return {
        key: bounded_count(tasks.filter(REQUEST_GROUPS[key][1]), limit, column="client_id")
        for key in COUNTED_GROUPS
    }


def attachment_download(attachment):
    """The stored file as a download under its original name (404 if the file is gone).
    Callers have already checked that the viewer may see the attachment's task."""
    from django.http import FileResponse, Http404

    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )


def tasks_nobody_can_take(*, agency) -> QuerySet[Task]:
    """Queued work no active assistant may take (the pool's rule in `_eligible`): of a
    category no active assistant is skilled in, under a contract that dedicates nobody; or
    under a contract whose dedicated assistants are none of them active. Oldest due first."""
    skilled = AssistantSkill.objects.filter(
        agency=agency, profile__is_active=True, profile__membership__is_active=True
    ).values("category")
    dedicated = ContractAssistant.objects.filter(agency=agency).values("contract")
    dedicated_able = ContractAssistant.objects.filter(
        agency=agency,
        membership__is_active=True,
        membership__assistant_profile__is_active=True,
    ).values("contract")
    return (
        Task.objects.filter(agency=agency, status=TaskStatus.QUEUED, assignee__isnull=True)
        .filter(
            (~Q(contract__in=dedicated) & ~Q(category__in=skilled))
            | (Q(contract__in=dedicated) & ~Q(contract__in=dedicated_able))
        )
        .select_related("client", "service", "category")
        .order_by("due_at", "pk")
    )


@dataclass
class TaskRowsData:
    """What a page of task rows shares, read once for the page: each service's request
    form (by service id) and each contract line's versions of its terms, newest first (by
    line id; empty unless prices were asked for)."""

    request_templates: dict[int, list] = field(default_factory=dict)
    terms: dict[int, list[ContractTerms]] = field(default_factory=dict)


def task_rows_data(*, agency_id: int, tasks: list[Task], prices: bool) -> TaskRowsData:
    """The request forms and (when `prices`) the terms of a page of tasks: two queries on
    the small catalogue and terms tables by id, whatever the page's size. Read straight by
    the rows' ids rather than prefetched through each row's line, whose per-row querysets
    cost more than the page's queries."""
    data = TaskRowsData()
    if not tasks:
        return data
    data.request_templates = dict(
        Service.objects.filter(
            agency_id=agency_id, pk__in={task.service_id for task in tasks}
        ).values_list("pk", "request_template")
    )
    if prices:
        versions = defaultdict(list)
        for version in ContractTerms.objects.filter(
            agency_id=agency_id, line_id__in={task.contract_line_id for task in tasks}
        ).order_by("-effective_from"):
            versions[version.line_id].append(version)
        data.terms = dict(versions)
    return data
