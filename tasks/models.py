import uuid

from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import TenantModel


class TaskStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    QUEUED = "queued", "Queued"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CLIENT = "waiting_on_client", "Waiting on client"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (
    TaskStatus.REQUESTED,
    TaskStatus.QUEUED,
    TaskStatus.ASSIGNED,
    TaskStatus.IN_PROGRESS,
    TaskStatus.WAITING_ON_CLIENT,
)
# What counts against an assistant's capacity.
ACTIVE_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.WAITING_ON_CLIENT)
# How long what people write on a task may be: a title; a comment, question, answer,
# handover note, summary or reason; a time entry's note. Longer text is refused, never cut.
TITLE_MAX_CHARS = 200
MESSAGE_MAX_CHARS = 10_000
TIME_NOTE_MAX_CHARS = 500


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class Task(TenantModel):
    """A piece of work a client requested under one line of their contract.

    `contract`, `service` and `category` are copied from the contract line when the task is
    made, so the queue filters on the task row alone (indexed) instead of joining through
    contracts for every one of thousands of tasks.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="tasks")
    contract_line = models.ForeignKey(
        "contracts.ContractLine", on_delete=models.PROTECT, related_name="tasks"
    )
    contract = models.ForeignKey(
        "contracts.ServiceContract", on_delete=models.PROTECT, related_name="tasks"
    )
    service = models.ForeignKey("contracts.Service", on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(
        "contracts.ServiceCategory", on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(max_length=TITLE_MAX_CHARS)
    details = models.TextField(blank=True)
    template_data = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField()
    max_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minor units of the contract's currency."
    )
    # The client said yes, when asking, to going over the line's monthly budget cap: the
    # charge is then billed as it comes instead of being held for their approval.
    over_cap_approved = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    assignee = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    requested_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recurrence = models.ForeignKey(
        "tasks.RecurringRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the task last entered the pool (requested, or handed back): how long it waits.
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_summary = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    # The sum of the task's finished time entries, kept with them in one transaction so
    # lists show time spent without summing entries per row.
    minutes_logged = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # the pool: queued work of a category, most urgent first
            models.Index(fields=["agency", "status", "category", "due_at"]),
            # The staff and API lists page by keyset in (due_at, -priority, id) order
            # (tasks.queries.TASK_LIST_ORDER): each index ends in exactly those columns,
            # so a page deep in the list starts its scan at its position.
            models.Index(
                fields=["agency", "status", "due_at", "-priority", "id"],
                name="task_status_by_due",
            ),
            # every status, by due time
            models.Index(fields=["agency", "due_at", "-priority", "id"], name="task_by_due"),
            # open work by due time: the lists people look at most, a small share of rows
            models.Index(
                fields=["agency", "due_at", "-priority", "id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="task_open_by_due",
            ),
            # the dashboard's open and at-risk counts (tasks.queries.work_counts): every
            # column they test, so the count reads the index alone, not the open rows
            models.Index(
                fields=["agency", "status", "due_at", "queued_at", "assignee"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="task_open_counts",
            ),
            # the API's list by creation time
            models.Index(fields=["agency", "created_at", "id"], name="task_by_created"),
            # an assistant's own work
            models.Index(fields=["agency", "assignee", "status", "due_at"]),
            # what each assistant holds now (the assign form's load): active work only,
            # so the count never reads the finished work that is most of the table
            models.Index(
                fields=["agency", "assignee"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="task_active_by_assignee",
            ),
            # a client's list, newest first, by keyset in (-created_at, -id)
            # a client's tab (and its count: the index alone answers it)
            models.Index(
                fields=["agency", "client", "status", "-created_at", "-id"],
                name="task_client_status_newest",
            ),
            models.Index(
                fields=["agency", "client", "-created_at", "-id"], name="task_client_newest"
            ),
            # the client's "awaiting your approval" tab and its count: a few rows among
            # thousands of finished ones
            models.Index(
                fields=["agency", "client", "-created_at", "-id"],
                condition=models.Q(status="completed", approved_at__isnull=True),
                name="task_client_to_approve",
            ),
            models.Index(fields=["agency", "service", "status"]),
            # beat's reminder sweeps across agencies (tasks.reminders): open work by due
            # time, and queued work by how long it has waited
            models.Index(
                fields=["due_at"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="task_open_due_sweep",
            ),
            models.Index(
                fields=["queued_at"],
                condition=models.Q(status="queued"),
                name="task_queued_sweep",
            ),
            # reports and the dashboard: work finished in a date range (on-time rates)
            models.Index(
                fields=["agency", "completed_at"],
                condition=models.Q(status="completed"),
                name="task_completed_by_time",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status__in=ACTIVE_STATUSES) | models.Q(assignee__isnull=False),
                name="task_active_has_assignee",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Comment(TenantModel):
    """A message on a task. Internal ones (handover notes, staff remarks) are never shown
    to the client."""

    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        QUESTION = "question", "Question to the client"
        ANSWER = "answer", "Answer from the client"
        HANDOVER = "handover", "Handover note"
        SEND_BACK = "send_back", "Sent back by the client"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMMENT)
    body = models.TextField()
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "task", "created_at"])]
        ordering = ["created_at", "pk"]


def attachment_path(attachment, filename: str) -> str:
    # Never the uploader's file name on disk: a random name under the agency's folder.
    return f"attachments/{attachment.agency_id}/{uuid.uuid4().hex}"


class Attachment(TenantModel):
    """A file on a task, stored privately and served only through a permission check."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "task", "created_at"])]
        ordering = ["created_at", "pk"]


class TimeEntry(TenantModel):
    """Time an assistant spent on a task: a running timer (no end yet) or a finished span,
    or a manual entry of minutes with a note. One running timer per assistant.

    `seconds` is how long the work took, exactly; pay and billing start from it, and only
    a contract's terms round it. `minutes` is the same time in whole minutes for lists and
    reports: the task's logged minutes shared out over its entries, so that they add up to
    the task's total. An entry recorded in whole minutes only (`seconds` empty) counts its
    minutes."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="time_entries")
    assistant = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="time_entries"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    minutes = models.PositiveIntegerField(default=0)
    seconds = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=TIME_NOTE_MAX_CHARS, blank=True)
    manual = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "assistant"],
                condition=models.Q(ended_at__isnull=True),
                name="one_running_timer_per_assistant",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "task", "started_at"]),
            models.Index(fields=["agency", "assistant", "started_at"]),
            # reports: the agency's time in a date range
            models.Index(fields=["agency", "started_at"]),
        ]
        ordering = ["started_at", "pk"]
        verbose_name_plural = "time entries"

    @property
    def duration_seconds(self) -> int:
        return self.seconds if self.seconds is not None else self.minutes * 60


def entry_seconds() -> Coalesce:
    """A finished entry's exact duration in SQL: its seconds, or its whole minutes when
    that is all it was recorded in."""
    return Coalesce(F("seconds"), F("minutes") * 60)


class RecurringRequest(TenantModel):
    """A request a client wants made again on a schedule, e.g. every Monday 09:00 in the
    client's time zone. Beat creates each task when `next_run_at` passes."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        MONTHLY = "monthly", "Every month"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="recurring_requests"
    )
    service = models.ForeignKey("contracts.Service", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    template_data = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 = Monday")
    day_of_month = models.PositiveSmallIntegerField(null=True, blank=True)
    time_of_day = models.TimeField(help_text="In the client's time zone.")
    next_run_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["is_active", "next_run_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(frequency="weekly") & models.Q(weekday__lte=6))
                | (
                    models.Q(frequency="monthly")
                    & models.Q(day_of_month__gte=1, day_of_month__lte=28)
                ),
                name="recurring_schedule_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TimesheetStatus(models.TextChoices):
    # A week with no row yet is a draft: the row is made when the assistant submits it.
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    RETURNED = "returned", "Returned"


TIMESHEET_NOTE_MAX_CHARS = 1000


class Timesheet(TenantModel):
    """An assistant's week of time (Monday to Sunday on their own calendar), put to staff
    for approval. `zone` is the calendar the week was submitted on, so its bounds never
    move when the assistant later changes zone. The rules live in tasks.timesheets."""

    assistant = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="timesheets"
    )
    week_start = models.DateField(help_text="The Monday of the week, on the assistant's calendar.")
    zone = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=TimesheetStatus.choices, default=TimesheetStatus.DRAFT
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=TIMESHEET_NOTE_MAX_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "assistant", "week_start"], name="timesheet_one_per_week"
            ),
        ]
        indexes = [
            # staff's list: by status, newest week first (keyset on week_start, id)
            models.Index(
                fields=["agency", "status", "-week_start", "-id"], name="timesheet_by_status"
            ),
            # an assistant's own weeks, and the lock check on a correction
            models.Index(fields=["agency", "assistant", "week_start"], name="timesheet_by_week"),
        ]

    def __str__(self) -> str:
        return f"{self.assistant_id} · week of {self.week_start}"


# Inbound mail's models live beside its code; imported here so the app registers them.
from tasks.inbound.models import ClientIntake, InboundMessage  # noqa: E402, F401
from tasks.ratings import TaskRating  # noqa: E402, F401
