"""The tasks API: the list every role reads, a client's request, and one endpoint per move
of the task's life. Each endpoint names the roles that may use it (the isolation matrix
checks them); which task a caller may act on is `tasks_visible_to`; whether the move is
allowed is the service's decision."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from clients.permissions import ClientMayMixin, ClientRight
from contracts.models import ContractTerms
from core.api.pagination import KeysetPagination
from core.api.serializers import ErrorSerializer, NoBodySerializer
from core.errors import ApplicationError
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES, Role
from tasks import services
from tasks.api.serializers import (
    OPEN,
    AnswerSerializer,
    AssignSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentSerializer,
    CommentWriteSerializer,
    NoteSerializer,
    QuestionSerializer,
    ReasonSerializer,
    SummarySerializer,
    TaskFilterSerializer,
    TaskRequestSerializer,
    TaskSerializer,
    TimeEntrySerializer,
    TimeEntryUpdateSerializer,
    TimeEntryWriteSerializer,
    TimerSerializer,
    TimerStartSerializer,
)
from tasks.models import OPEN_STATUSES, Attachment, Task, TimeEntry
from tasks.queries import TASK_LIST_ORDER
from tasks.ratings import RATING_COMMENT_MAX_CHARS, RATING_MAX, RATING_MIN
from tasks.selectors import attachment_download, requestable_service, tasks_visible_to

ASSISTANTS = frozenset({Role.ASSISTANT})
CLIENTS = frozenset({Role.CLIENT})
# Each `ordering` of the list as the keyset it pages by: due time as on the staff list (most
# urgent first among equal times), and each ending on the id, so that every row has one
# place; the indexes task_by_due and task_by_created end in these columns.
LIST_ORDERINGS = {
    "due_at": TASK_LIST_ORDER,
    "-due_at": ("-due_at", "priority", "-pk"),
    "created_at": ("created_at", "pk"),
    "-created_at": ("-created_at", "-pk"),
}


class TaskAPIMixin(AgencyAPIMixin):
    """What every tasks endpoint shares: the tasks the caller may see, and a task rendered
    the way the caller may see it (assistants never see prices)."""

    queryset = Task.objects.none()  # names the model for the schema only

    @property
    def sees_prices(self) -> bool:
        return self.membership.role != Role.ASSISTANT

    def visible_tasks(self):
        return tasks_visible_to(agency=self.agency, membership=self.membership)

    def with_row_data(self, tasks):
        # Rows carry ids only, so no joins: a join under ORDER BY ... LIMIT makes the
        # database join every task of the agency before it sorts (measured in bench/).
        # The services come in one more query: their request forms label `request_fields`.
        tasks = tasks.prefetch_related("service")
        if self.sees_prices:  # each row's line and every version of its terms: two queries
            tasks = tasks.prefetch_related(
                Prefetch(
                    "contract_line__terms",
                    queryset=ContractTerms.objects.order_by("-effective_from"),
                )
            )
        return tasks

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "hide_prices": not self.sees_prices}

    def task_data(self, task: Task) -> dict:
        # Read back after the move: the caller may no longer see it (a released task that
        # is not in their pool), but they may see what they just did.
        fresh = self.with_row_data(Task.objects.filter(agency=self.agency)).get(pk=task.pk)
        return TaskSerializer(fresh, context=self.get_serializer_context()).data


class OneTaskMixin(TaskAPIMixin):
    """An endpoint under tasks/<pk>/: the task must be one the caller may see, else 404."""

    @cached_property
    def task(self) -> Task:
        return get_object_or_404(
            self.visible_tasks().select_related("agency"), pk=self.kwargs["pk"]
        )


@extend_schema_view(list=extend_schema(parameters=[TaskFilterSerializer]))
class TaskViewSet(
    ClientMayMixin,
    IdempotentPostMixin,
    TaskAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Tasks the caller may see: staff all, a client member their client's, an assistant
    their own and their pool. Clients request new work here."""

    write_roles = CLIENTS
    client_write_right = ClientRight.REQUEST
    serializer_class = TaskSerializer
    pagination_class = KeysetPagination

    def get_queryset(self):
        tasks = self.visible_tasks().order_by(*LIST_ORDERINGS["due_at"])
        # A page of the list reads what its rows share itself (TaskListSerializer).
        return tasks if self.action == "list" else self.with_row_data(tasks)

    def filter_queryset(self, tasks):
        if self.action != "list":
            return tasks
        query = TaskFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        if wanted.get("status") == OPEN:
            tasks = tasks.filter(status__in=OPEN_STATUSES)
        elif wanted.get("status"):
            tasks = tasks.filter(status=wanted["status"])
        for name in ("client", "assignee", "service"):
            if name in wanted:
                tasks = tasks.filter(**{f"{name}_id": wanted[name]})
        return tasks.order_by(*LIST_ORDERINGS[wanted["ordering"]])

    @extend_schema(request=TaskRequestSerializer, responses={201: TaskSerializer})
    def create(self, request, *args, **kwargs):
        """Request work under one of the client's contracted services."""
        client = self.membership.client
        body = TaskRequestSerializer(data=request.data, context={"client": client})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        service = requestable_service(agency=self.agency, service_id=data.pop("service"))
        task = services.task_request(
            agency=self.agency, actor=request.user, client=client, service=service, **data
        )
        return Response(self.task_data(task), status=status.HTTP_201_CREATED)


class TakeNextView(IdempotentPostMixin, TaskAPIMixin, generics.GenericAPIView):
    """Claim the most urgent task of the caller's pool: 201 with it, 204 when the pool is
    empty."""

    allowed_roles = ASSISTANTS
    serializer_class = NoBodySerializer

    @extend_schema(
        request=NoBodySerializer,
        responses={201: TaskSerializer, 204: OpenApiResponse(description="The pool is empty.")},
    )
    def post(self, request, agency_slug):
        task = services.task_take_next(
            agency=self.agency, actor=request.user, membership=self.membership
        )
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.task_data(task), status=status.HTTP_201_CREATED)


class TakeView(IdempotentPostMixin, OneTaskMixin, generics.GenericAPIView):
    """Claim this task of the caller's pool, the one they are looking at, within their
    capacity: 201 with it."""

    allowed_roles = ASSISTANTS
    http_method_names = ["post", "options"]
    serializer_class = NoBodySerializer

    @extend_schema(request=NoBodySerializer, responses={201: TaskSerializer})
    def post(self, request, agency_slug, pk):
        task = services.task_take(
            agency=self.agency, actor=request.user, membership=self.membership, task=self.task
        )
        return Response(self.task_data(task), status=status.HTTP_201_CREATED)


class TaskMoveView(OneTaskMixin, generics.GenericAPIView):
    """A move of one task's life: parse the body, call the service, answer with the task.
    The body serializer is the view's serializer, so OPTIONS and the schema describe it."""

    http_method_names = ["post", "options"]
    body_serializer = NoBodySerializer

    def get_serializer_class(self):
        return self.body_serializer

    def post(self, request, agency_slug, pk):
        task = self.task  # 404 before anything is said about the body
        parsed = self.get_serializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        return Response(self.task_data(self.move(task, **parsed.validated_data)))

    def move(self, task: Task, **body) -> Task:
        raise NotImplementedError

    def actor(self) -> dict:
        return {"agency": self.agency, "actor": self.request.user}


def documented(body_serializer, description: str):
    return extend_schema_view(
        post=extend_schema(
            request=body_serializer, responses=TaskSerializer, description=description
        )
    )


@documented(NoBodySerializer, "The assignee starts work.")
class StartView(TaskMoveView):
    allowed_roles = ASSISTANTS

    def move(self, task):
        return services.task_start(**self.actor(), membership=self.membership, task=task)


@documented(QuestionSerializer, "The assignee asks the client; the task waits for them.")
class AskView(TaskMoveView):
    allowed_roles = ASSISTANTS
    body_serializer = QuestionSerializer

    def move(self, task, question):
        return services.task_ask_client(
            **self.actor(), membership=self.membership, task=task, question=question
        )


@documented(AnswerSerializer, "The client answers; the task goes back to its assistant.")
class AnswerView(TaskMoveView):
    allowed_roles = CLIENTS
    body_serializer = AnswerSerializer

    def move(self, task, answer):
        return services.task_answer(**self.actor(), task=task, answer=answer)


@documented(SummarySerializer, "The assignee finishes, with a summary for the client.")
class CompleteView(TaskMoveView):
    allowed_roles = ASSISTANTS
    body_serializer = SummarySerializer

    def move(self, task, summary):
        return services.task_complete(
            **self.actor(), membership=self.membership, task=task, summary=summary
        )


class ApprovalSerializer(serializers.Serializer):
    """Approval with an optional rating of the work; a comment needs a rating with it."""

    rating = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=RATING_MIN,
        max_value=RATING_MAX,
        help_text="How good the work was, 1 (poor) to 5 (excellent). Optional.",
    )
    rating_comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=RATING_COMMENT_MAX_CHARS,
        help_text="A word on the work, with a rating. Optional.",
    )


@documented(
    ApprovalSerializer,
    "The client accepts the finished work, optionally rating it 1 to 5 with a comment. A "
    "task sent back and approved again may be rated again: the latest rating replaces the "
    "earlier one.",
)
class ApproveView(ClientMayMixin, TaskMoveView):
    allowed_roles = CLIENTS
    client_right = ClientRight.APPROVE
    body_serializer = ApprovalSerializer

    def move(self, task, rating=None, rating_comment=""):
        return services.task_approve(
            **self.actor(), task=task, rating=rating, rating_comment=rating_comment
        )


@documented(ReasonSerializer, "The client sends finished work back, saying what is missing.")
class SendBackView(ClientMayMixin, TaskMoveView):
    allowed_roles = CLIENTS
    client_right = ClientRight.APPROVE
    body_serializer = ReasonSerializer

    def move(self, task, reason):
        return services.task_send_back(**self.actor(), task=task, reason=reason)


@documented(NoteSerializer, "The assignee hands the task back to the pool.")
class ReleaseView(TaskMoveView):
    allowed_roles = ASSISTANTS
    body_serializer = NoteSerializer

    def move(self, task, note):
        return services.task_release(
            **self.actor(), membership=self.membership, task=task, note=note
        )


@documented(AssignSerializer, "Staff give the task to an assistant, with a handover note.")
class AssignView(TaskMoveView):
    allowed_roles = STAFF_ROLES
    body_serializer = AssignSerializer

    def move(self, task, assignee, note):
        return services.task_assign(**self.actor(), task=task, assignee=assignee, note=note)


@documented(
    ReasonSerializer,
    "Cancel open work: a client until someone has it, staff whenever it is open.",
)
class CancelView(TaskMoveView):
    allowed_roles = STAFF_ROLES | CLIENTS
    body_serializer = ReasonSerializer

    def move(self, task, reason):
        return services.task_cancel(
            **self.actor(), membership=self.membership, task=task, reason=reason
        )


class CommentListView(IdempotentPostMixin, OneTaskMixin, generics.ListCreateAPIView):
    """The task's conversation, oldest first. A client never sees internal comments, and
    a client's comment on a task waiting for them is their answer."""

    serializer_class = CommentSerializer

    def get_queryset(self):
        comments = self.task.comments.select_related("author").order_by("created_at", "pk")
        if self.membership.role == Role.CLIENT:
            comments = comments.filter(internal=False)
        return comments

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def post(self, request, agency_slug, pk):
        task = self.task
        body = CommentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        comment = services.comment_add(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            task=task,
            body=body.validated_data["body"],
            internal=body.validated_data["internal"] and self.membership.role != Role.CLIENT,
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class AttachmentListView(IdempotentPostMixin, OneTaskMixin, generics.ListCreateAPIView):
    """The task's files. Upload one as multipart form data in the field `file`."""

    serializer_class = AttachmentSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return self.task.attachments.order_by("created_at", "pk")

    @extend_schema(request=AttachmentUploadSerializer, responses={201: AttachmentSerializer})
    def post(self, request, agency_slug, pk):
        task = self.task
        body = AttachmentUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        attachment = services.attachment_add(
            agency=self.agency, actor=request.user, task=task, upload=body.validated_data["file"]
        )
        return Response(
            self.get_serializer(attachment).data,
            status=status.HTTP_201_CREATED,
        )


class AttachmentDownloadView(OneTaskMixin, generics.GenericAPIView):
    """The file itself, streamed, to someone who may see its task."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, agency_slug, pk, file_pk):
        attachment = get_object_or_404(Attachment, agency=self.agency, task=self.task, pk=file_pk)
        return attachment_download(attachment)


class TimeEntryListView(IdempotentPostMixin, OneTaskMixin, generics.ListCreateAPIView):
    """Time worked on the task, for the agency's people; the assignee logs time by hand
    here (minutes and a note, on the day it was done, optionally from a start time)."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    write_roles = ASSISTANTS
    serializer_class = TimeEntrySerializer

    def get_queryset(self):
        return self.task.time_entries.order_by("started_at", "pk")

    @extend_schema(request=TimeEntryWriteSerializer, responses={201: TimeEntrySerializer})
    def post(self, request, agency_slug, pk):
        task = self.task
        body = TimeEntryWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = services.time_entry_add(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            task=task,
            **body.validated_data,
        )
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimeEntryDetailView(OneTaskMixin, generics.GenericAPIView):
    """One time entry of the task. Its assistant may correct (PATCH) or delete it, and
    staff anyone's, until the task's time is billed (then 400, code `time_entry_billed`);
    a running timer is stopped, not changed (400, `time_entry_running`). Every change is
    audited with the values before and after."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    http_method_names = ["get", "patch", "delete", "options"]
    serializer_class = TimeEntrySerializer
    queryset = TimeEntry.objects.none()  # names the model for the schema only

    def get_object(self) -> TimeEntry:
        return get_object_or_404(
            TimeEntry.objects.filter(agency=self.agency, task=self.task),
            pk=self.kwargs["entry_pk"],
        )

    def get(self, request, agency_slug, pk, entry_pk):
        return Response(TimeEntrySerializer(self.get_object()).data)

    @extend_schema(request=TimeEntryUpdateSerializer, responses={200: TimeEntrySerializer})
    def patch(self, request, agency_slug, pk, entry_pk):
        entry = self.get_object()
        body = TimeEntryUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = services.time_entry_update(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            entry=entry,
            **body.validated_data,
        )
        return Response(TimeEntrySerializer(entry).data)

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted; its time is off the task."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Refused with the reason: billed, a running timer, or not yours.",
            ),
        },
    )
    def delete(self, request, agency_slug, pk, entry_pk):
        services.time_entry_delete(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            entry=self.get_object(),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TimerView(TaskAPIMixin, generics.GenericAPIView):
    """The caller's timer: `entry` is the running one, or null when none runs."""

    allowed_roles = ASSISTANTS
    serializer_class = TimerSerializer
    queryset = TimeEntry.objects.none()  # names the model for the schema only

    def get(self, request, agency_slug):
        entry = TimeEntry.objects.filter(
            agency=self.agency, assistant=self.membership, ended_at__isnull=True
        ).first()
        return Response(TimerSerializer({"entry": entry}).data)


class TimerStartView(IdempotentPostMixin, TaskAPIMixin, generics.GenericAPIView):
    """Start the clock on one of the caller's tasks; a timer running elsewhere stops."""

    allowed_roles = ASSISTANTS
    serializer_class = TimerStartSerializer
    queryset = TimeEntry.objects.none()  # names the model for the schema only

    @extend_schema(request=TimerStartSerializer, responses={201: TimeEntrySerializer})
    def post(self, request, agency_slug):
        body = TimerStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = self.visible_tasks().filter(pk=body.validated_data["task"]).first()
        if task is None:
            raise ApplicationError(
                "There is no such task.", code="task_unknown", extra={"field": "task"}
            )
        entry = services.timer_start(
            agency=self.agency, actor=request.user, membership=self.membership, task=task
        )
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimerStopView(TaskAPIMixin, generics.GenericAPIView):
    """Stop the caller's running timer, if any, adding its minutes to the task: `entry` is
    the one stopped, or null when none ran."""

    allowed_roles = ASSISTANTS
    serializer_class = NoBodySerializer
    queryset = TimeEntry.objects.none()  # names the model for the schema only

    @extend_schema(request=NoBodySerializer, responses=TimerSerializer)
    def post(self, request, agency_slug):
        entry = services.timer_stop(
            agency=self.agency, actor=request.user, membership=self.membership
        )
        return Response(TimerSerializer({"entry": entry}).data)
