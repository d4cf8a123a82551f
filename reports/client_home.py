"""A client member's home in the agency: what needs their answer, their open requests,
what happened lately, and what they owe. A fixed number of queries whatever the number of
tasks, events or invoices: every list is cut to a few rows and counted in one query."""

from dataclasses import dataclass, field

from django.db.models import CharField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Cast

from billing.models import Invoice, InvoiceStatus
from core.models import AuditEvent
from tasks.history import history_entries
from tasks.models import OPEN_STATUSES, Comment, Task, TaskStatus

# How many rows each part shows before "all ..." links take over.
SHOWN = 5
# What a client reads in their recent activity: what happened to their work, not how the
# agency arranged it (assignments, hand-backs and time stay with the agency's people).
CLIENT_EVENTS = (
    "task.requested",
    "task.taken",
    "task.started",
    "task.waiting_on_client",
    "task.answered",
    "task.completed",
    "task.approved",
    "task.sent_back",
    "task.cancelled",
    "task.commented",
    "task.file_attached",
)


@dataclass
class ClientHome:
    waiting: list = field(default_factory=list)  # tasks with a question for them
    to_approve: list = field(default_factory=list)  # finished work to approve
    open_requests: list = field(default_factory=list)
    activity: list = field(default_factory=list)  # (task, history entry), newest first
    invoices: list = field(default_factory=list)  # open invoices, oldest due first
    owed: list = field(default_factory=list)  # (currency, amount) still to pay
    counts: dict = field(default_factory=dict)


def client_home(*, agency, client_id: int, counts: dict) -> ClientHome:
    """`counts` are the client's request counts (tasks.selectors.request_counts)."""
    home = ClientHome(counts=counts)
    tasks = Task.objects.filter(agency=agency, client_id=client_id).select_related(
        "service", "assignee__user"
    )
    latest_question = (
        Comment.objects.filter(task=OuterRef("pk"), kind=Comment.Kind.QUESTION)
        .order_by("-created_at", "-pk")
        .values("body")[:1]
    )
    if counts.get("waiting"):
        home.waiting = list(
            tasks.filter(status=TaskStatus.WAITING_ON_CLIENT)
            .annotate(question=Subquery(latest_question))
            .order_by("due_at", "pk")[:SHOWN]
        )
    if counts.get("approval"):
        home.to_approve = list(
            tasks.filter(status=TaskStatus.COMPLETED, approved_at__isnull=True).order_by(
                "completed_at", "pk"
            )[:SHOWN]
        )
    if counts.get("open"):
        home.open_requests = list(
            tasks.filter(status__in=OPEN_STATUSES).order_by("-created_at", "-pk")[:SHOWN]
        )
    if counts.get("all"):
        home.activity = _activity(agency, client_id)
    owed = (
        Invoice.objects.filter(agency=agency, client_id=client_id, status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(amount=Sum(F("amount_due") - F("amount_paid")))
        .order_by("currency")
    )
    home.owed = [(row["currency"], row["amount"]) for row in owed if row["amount"]]
    if home.owed:
        home.invoices = list(
            Invoice.objects.filter(agency=agency, client_id=client_id, status=InvoiceStatus.OPEN)
            .annotate(remaining=F("amount_due") - F("amount_paid"))
            .order_by(F("due_date").asc(nulls_last=True), "pk")[:SHOWN]
        )
    return home


def _activity(agency, client_id: int) -> list:
    """The latest events on the client's tasks, in sentences, without internal notes."""
    task_ids = (
        Task.objects.filter(agency=agency, client_id=client_id)
        .annotate(key=Cast("pk", CharField()))
        .values("key")
    )
    events = list(
        AuditEvent.objects.filter(
            agency=agency,
            target_type="tasks.task",
            target_id__in=task_ids,
            action__in=CLIENT_EVENTS,
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")[: SHOWN * 3]
    )
    comment_ids = [e.details.get("comment") for e in events if e.action == "task.commented"]
    internal = set(
        Comment.objects.filter(agency=agency, pk__in=comment_ids, internal=True).values_list(
            "pk", flat=True
        )
        if comment_ids
        else []
    )
    events = [e for e in events if e.details.get("comment") not in internal][:SHOWN]
    by_pk = {
        t.pk: t
        for t in Task.objects.filter(
            agency=agency, pk__in={int(e.target_id) for e in events}
        ).select_related("client")
    }
    events = [e for e in events if int(e.target_id) in by_pk]
    entries = history_entries(agency=agency, events=events, tasks=by_pk)
    return [
        (by_pk[int(event.target_id)], entry) for event, entry in zip(events, entries, strict=True)
    ]
