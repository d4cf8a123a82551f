"""The timesheets API: an assistant's weeks (submit one), staff's list of every week with
their decision (approve, or return with a note). The rules are tasks.timesheets'."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, StaffAPIMixin
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES, Role
from tasks import timesheets
from tasks.api.serializers import TimeEntrySerializer
from tasks.models import TIMESHEET_NOTE_MAX_CHARS, Timesheet, TimesheetStatus

ASSISTANTS = frozenset({Role.ASSISTANT})


class TimesheetSerializer(serializers.ModelSerializer):
    """A submitted week: `week_start` is its Monday on the assistant's calendar (`zone`);
    `minutes` the whole minutes of finished time that began in it."""

    minutes = serializers.SerializerMethodField()

    class Meta:
        model = Timesheet
        fields = [
            "id",
            "assistant",
            "week_start",
            "zone",
            "status",
            "submitted_at",
            "decided_at",
            "decided_by",
            "note",
            "minutes",
        ]
        read_only_fields = fields

    def get_minutes(self, sheet) -> int:
        return self.context.get("minutes", {}).get(sheet.pk, 0)


class TimesheetFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[c for c in TimesheetStatus.choices if c[0] != TimesheetStatus.DRAFT],
        required=False,
        help_text="Only weeks of this status.",
    )
    assistant = serializers.IntegerField(
        required=False, min_value=1, help_text="Only this assistant's weeks (staff)."
    )


class TimesheetSubmitSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="The Monday of the week to submit.")


class TimesheetNoteSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=TIMESHEET_NOTE_MAX_CHARS, default=""
    )


def visible_sheets(view):
    """Staff see every week; an assistant only their own."""
    sheets = timesheets.timesheet_list(agency=view.agency)
    if view.membership.role not in STAFF_ROLES:
        sheets = sheets.filter(assistant=view.membership)
    return sheets


@extend_schema_view(get=extend_schema(parameters=[TimesheetFilterSerializer]))
class TimesheetListView(IdempotentPostMixin, AgencyAPIMixin, generics.ListCreateAPIView):
    """Weeks submitted for approval, those waiting for a decision first (staff: everyone's,
    an assistant: their own). POST submits the caller's week (201), or submits a returned
    week again (200)."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    write_roles = ASSISTANTS
    serializer_class = TimesheetSerializer

    def get_queryset(self):
        query = TimesheetFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        sheets = visible_sheets(self)
        if query.validated_data.get("status"):
            sheets = sheets.filter(status=query.validated_data["status"])
        if query.validated_data.get("assistant"):
            sheets = sheets.filter(assistant_id=query.validated_data["assistant"])
        return sheets.order_by(*timesheets.LIST_ORDER)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        minutes = timesheets.sheet_minutes(agency=self.agency, sheets=page)
        data = TimesheetSerializer(page, many=True, context={"minutes": minutes}).data
        return self.get_paginated_response(data)

    @extend_schema(request=TimesheetSubmitSerializer, responses={201: TimesheetSerializer})
    def post(self, request, agency_slug):
        body = TimesheetSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        again = Timesheet.objects.filter(
            agency=self.agency,
            assistant=self.membership,
            week_start=body.validated_data["week_start"],
        ).exists()
        sheet = timesheets.timesheet_submit(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            week_start=body.validated_data["week_start"],
        )
        minutes = timesheets.sheet_minutes(agency=self.agency, sheets=[sheet])
        return Response(
            TimesheetSerializer(sheet, context={"minutes": minutes}).data,
            status=status.HTTP_200_OK if again else status.HTTP_201_CREATED,
        )


def _detail(view, sheet) -> dict:
    sheet = visible_sheets(view).get(pk=sheet.pk)
    week = timesheets.week_of(
        agency=view.agency, membership=sheet.assistant, monday=sheet.week_start, sheet=sheet
    )
    data = TimesheetSerializer(sheet, context={"minutes": {sheet.pk: week.minutes}}).data
    data["entries"] = TimeEntrySerializer(week.entries, many=True).data
    return data


class TimesheetDetailView(AgencyAPIMixin, generics.GenericAPIView):
    """One week with its time entries (staff: anyone's, an assistant: their own)."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    serializer_class = TimesheetSerializer

    def get(self, request, agency_slug, pk):
        return Response(_detail(self, get_object_or_404(visible_sheets(self), pk=pk)))


class TimesheetDecideView(StaffAPIMixin, generics.GenericAPIView):
    http_method_names = ["post", "options"]
    serializer_class = TimesheetNoteSerializer
    decide = None

    @extend_schema(request=TimesheetNoteSerializer, responses=TimesheetSerializer)
    def post(self, request, agency_slug, pk):
        sheet = get_object_or_404(visible_sheets(self), pk=pk)
        body = TimesheetNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        self.decide(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            timesheet=sheet,
            note=body.validated_data["note"],
        )
        return Response(_detail(self, sheet))


class TimesheetApproveView(TimesheetDecideView):
    """Approve a submitted week: its time is locked for the assistant, and billing may
    charge the work that waited for it. The assistant is told."""

    decide = staticmethod(timesheets.timesheet_approve)


class TimesheetReturnView(TimesheetDecideView):
    """Return a submitted week with a note saying what to correct (required: 400
    `timesheet_note_required` without one). The assistant is told."""

    decide = staticmethod(timesheets.timesheet_return)
