"""What the tasks API reads and writes. Output serializers describe rows; input serializers
only parse a body: every rule about what may happen is the services'."""

from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Membership
from contracts.pricing import task_estimate
from contracts.request_templates import field_rows
from contracts.selectors import terms_in_force, version_at
from core.api.fields import AgencyScopedPrimaryKey
from tasks.models import (
    MESSAGE_MAX_CHARS,
    TIME_NOTE_MAX_CHARS,
    TITLE_MAX_CHARS,
    Attachment,
    Comment,
    Priority,
    Task,
    TaskStatus,
    TimeEntry,
)
from tasks.selectors import TaskRowsData, task_rows_data

OPEN = "open"
# Ids are checked against the database's range here, so an absurd number is a 400, not an
# overflow inside the database driver.
ID = {"min_value": 1, "max_value": 2**63 - 1}
STATUS_FILTER_CHOICES = [(OPEN, "Any open status"), *TaskStatus.choices]
ORDERING_CHOICES = ["due_at", "-due_at", "created_at", "-created_at"]


@extend_schema_field({"type": "integer", "nullable": True})
class EstimateField(serializers.Field):
    """What the task costs at its contract line's terms with the time logged so far, in minor
    units of the task's currency; null when a retainer's monthly bank decides it. Terms are
    the version in force at completion (or now, for open work)."""

    def __init__(self, **kwargs):
        # Not read-only only so that the schema can leave it out of `required`: assistants
        # never receive it. Nothing ever writes through this serializer.
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, task):
        at = task.completed_at or self.parent.now
        page = self.parent.rows_data
        if page is None:
            terms = terms_in_force(task.contract_line, at)
        else:
            terms = version_at(page.terms.get(task.contract_line_id, ()), at)
        return task_estimate(terms, task.minutes_logged) if terms else None


class RequestFieldSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The key in `template_data`.")
    label = serializers.CharField(help_text="The field's own label on the request form.")
    value = serializers.CharField()


class TaskListSerializer(serializers.ListSerializer):
    """A page of tasks: the services' request forms and the lines' terms the rows share
    are read once for the page (tasks.selectors.task_rows_data)."""

    def to_representation(self, data):
        tasks = list(data.all() if hasattr(data, "all") else data)
        self.child.rows_data = task_rows_data(
            agency_id=tasks[0].agency_id if tasks else 0,
            tasks=tasks,
            prices=not self.context.get("hide_prices"),
        )
        try:
            return [self.child.to_representation(task) for task in tasks]
        finally:
            self.child.rows_data = None


class TaskSerializer(serializers.ModelSerializer):
    """A task. `max_budget` and `estimate` are minor units of `currency`; times are UTC.
    `estimate` is given to clients and staff only, never to assistants. `request_fields`
    are the answers of `template_data` with each field's label, in the form's order."""

    estimate = EstimateField()
    request_fields = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "client",
            "service",
            "contract_line",
            "title",
            "details",
            "template_data",
            "request_fields",
            "priority",
            "due_at",
            "max_budget",
            "currency",
            "status",
            "assignee",
            "minutes_logged",
            "created_at",
            "started_at",
            "completed_at",
            "completion_summary",
            "approved_at",
            "estimate",
        ]
        read_only_fields = [f for f in fields if f != "estimate"]
        list_serializer_class = TaskListSerializer

    # A page's shared reads (TaskListSerializer); None for one task, read through its
    # relations.
    rows_data: TaskRowsData | None = None

    @extend_schema_field(RequestFieldSerializer(many=True))
    def get_request_fields(self, task) -> list[dict]:
        page = self.rows_data
        template = (
            page.request_templates.get(task.service_id, [])
            if page is not None
            else task.service.request_template
        )
        return field_rows(template, task.template_data)

    def get_fields(self):
        fields = super().get_fields()
        if self.context.get("hide_prices"):
            del fields["estimate"]
        return fields

    @property
    def now(self):
        # One instant for every row of a response.
        return self.root.context.setdefault("now", timezone.now())

    def to_representation(self, task):
        """The row as DRF's own fields write it, with the plain columns and the times read
        straight off the task: DRF's generic machinery for each of a page's cells cost
        more than the whole page's queries. The remaining fields (the request form's
        answers, the estimate) go through their fields as usual."""
        fields = self.fields  # the estimate is gone when the caller may not see prices
        zone = timezone.get_current_timezone()
        row = {}
        for name, field in fields.items():
            if name in _TASK_TIMES:
                row[name] = _iso_datetime(getattr(task, name), zone)
            elif name in _TASK_COLUMNS:
                row[name] = getattr(task, _TASK_COLUMNS[name])
            else:
                row[name] = field.to_representation(field.get_attribute(task))
        return row


# TaskSerializer's fields whose JSON value is the model's own value (a relation: its id).
_TASK_COLUMNS = {
    "id": "id",
    "client": "client_id",
    "service": "service_id",
    "contract_line": "contract_line_id",
    "title": "title",
    "details": "details",
    "template_data": "template_data",
    "priority": "priority",
    "max_budget": "max_budget",
    "currency": "currency",
    "status": "status",
    "assignee": "assignee_id",
    "minutes_logged": "minutes_logged",
    "completion_summary": "completion_summary",
}
_TASK_TIMES = frozenset({"due_at", "created_at", "started_at", "completed_at", "approved_at"})


def _iso_datetime(value, zone) -> str | None:
    """A time as DRF's DateTimeField writes it by default: ISO 8601 in the current zone,
    with "Z" for UTC."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TaskRequestSerializer(serializers.Serializer):
    """A client's request. `due_at` without an offset is read in the client's time zone;
    without a due time the service's turnaround applies. `template_data` holds the
    service's request-form fields."""

    service = serializers.IntegerField(help_text="A service of one of your contract's lines.", **ID)
    title = serializers.CharField(max_length=TITLE_MAX_CHARS, allow_blank=True)
    details = serializers.CharField(required=False, allow_blank=True, default="")
    due_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    max_budget = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        max_value=2**31 - 1,
        help_text="Minor units of the contract's currency.",
    )
    template_data = serializers.DictField(required=False, default=dict)
    over_cap_approved = serializers.BooleanField(
        default=False,
        help_text="Approve passing the line's monthly budget cap when its terms ask for it.",
    )

    def get_fields(self):
        fields = super().get_fields()
        client = self.context.get("client")
        if client is not None:
            fields["due_at"].timezone = ZoneInfo(client.time_zone)
        return fields


class TaskFilterSerializer(serializers.Serializer):
    """The list's query parameters."""

    status = serializers.ChoiceField(choices=STATUS_FILTER_CHOICES, required=False)
    client = serializers.IntegerField(required=False, **ID)
    assignee = serializers.IntegerField(required=False, help_text="A membership id.", **ID)
    service = serializers.IntegerField(required=False, **ID)
    ordering = serializers.ChoiceField(
        choices=ORDERING_CHOICES,
        default="due_at",
        help_text="By due time (equal times: higher priority first) or by creation time; "
        "pages follow with `cursor` from the `next` and `previous` links.",
    )


class QuestionSerializer(serializers.Serializer):
    question = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_CHARS
    )


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_CHARS
    )


class SummarySerializer(serializers.Serializer):
    summary = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_CHARS
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_CHARS
    )


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MESSAGE_MAX_CHARS,
        help_text="A handover note (internal).",
    )


class AssignSerializer(NoteSerializer):
    assignee = AgencyScopedPrimaryKey(model=Membership, help_text="An assistant's membership id.")


class CommentSerializer(serializers.ModelSerializer):
    """A message on a task. Internal ones never reach the client."""

    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "author", "author_name", "kind", "body", "internal", "created_at"]
        read_only_fields = fields

    def get_author_name(self, comment) -> str:
        return str(comment.author) if comment.author else ""


class CommentWriteSerializer(serializers.Serializer):
    body = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MESSAGE_MAX_CHARS
    )
    internal = serializers.BooleanField(
        default=False, help_text="Only the agency's people see it; ignored for clients."
    )


class AttachmentSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "uploaded_by", "created_at", "download"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download(self, attachment) -> str:
        path = reverse(
            "api:task-file-download",
            kwargs={
                "agency_slug": self.context["agency"].slug,
                "pk": attachment.task_id,
                "file_pk": attachment.pk,
            },
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class TimeEntrySerializer(serializers.ModelSerializer):
    """Time on a task: a running timer has no `ended_at` yet. `seconds` is the time worked,
    exactly (null while the timer runs); `minutes` is the same time in whole minutes as
    lists and reports count it: the task's logged minutes shared out over its entries."""

    seconds = serializers.SerializerMethodField()

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "task",
            "assistant",
            "started_at",
            "ended_at",
            "seconds",
            "minutes",
            "note",
            "manual",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_seconds(self, entry) -> int | None:
        return entry.duration_seconds if entry.ended_at is not None else None


class TimerSerializer(serializers.Serializer):
    entry = TimeEntrySerializer(allow_null=True, help_text="The timer's entry, or null.")


class TimeEntryWriteSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(help_text="Between 1 and 720.")
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TIME_NOTE_MAX_CHARS
    )
    worked_on = serializers.DateField(
        required=False,
        help_text="The day the work was done, on the assistant's calendar (their time zone); "
        "today if left out. Not in the future, not before the task was requested.",
    )
    start_time = serializers.TimeField(
        required=False,
        help_text="When on that day the work began (assistant's time zone), optional; the "
        "work may not end after now.",
    )


class TimeEntryUpdateSerializer(serializers.Serializer):
    """A correction: only the fields given change. The duration is given as `seconds` or as
    `minutes`, not both."""

    seconds = serializers.IntegerField(
        required=False, min_value=1, max_value=12 * 60 * 60, help_text="Between 1 and 43200."
    )
    minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=12 * 60, help_text="Between 1 and 720."
    )
    worked_on = serializers.DateField(
        required=False, help_text="Move the entry to this day (assistant's time zone)."
    )
    start_time = serializers.TimeField(
        required=False, help_text="When on its day the work began (assistant's time zone)."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=TIME_NOTE_MAX_CHARS)

    def validate(self, data):
        if "seconds" in data and "minutes" in data:
            raise serializers.ValidationError(
                {"minutes": "Give the duration as seconds or as minutes, not both."}
            )
        if "minutes" in data:
            data["seconds"] = data.pop("minutes") * 60
        return data


class TimerStartSerializer(serializers.Serializer):
    task = serializers.IntegerField(help_text="One of your tasks.", **ID)
