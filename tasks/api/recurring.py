"""Recurring requests in the API, as a client's people have them on their pages: list and
read them, set one up, pause and resume it. They act for the client of the caller's
membership, never for a client named in the request, so no id reaches another client's."""

from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from clients.permissions import ClientMayMixin, ClientRight
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin
from core.roles import Role
from tasks import recurring as recurring_services
from tasks.models import TITLE_MAX_CHARS, Priority, RecurringRequest
from tasks.selectors import requestable_service

CLIENTS = frozenset({Role.CLIENT})
ID = {"min_value": 1, "max_value": 2**63 - 1}


class RecurringRequestSerializer(serializers.ModelSerializer):
    """A recurring request. `time_of_day` is on the client's clock; `weekday` counts from
    0 (Monday) for a weekly one, `day_of_month` (1 to 28) is for a monthly one;
    `next_run_at` (UTC) is when the next task will be requested."""

    service_name = serializers.CharField(source="service.name", read_only=True)
    schedule = serializers.SerializerMethodField()

    class Meta:
        model = RecurringRequest
        fields = [
            "id",
            "client",
            "service",
            "service_name",
            "title",
            "details",
            "template_data",
            "priority",
            "frequency",
            "weekday",
            "day_of_month",
            "time_of_day",
            "schedule",
            "next_run_at",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields

    def get_schedule(self, recurring) -> str:
        return recurring_services.schedule_label(recurring)


class RecurringRequestWriteSerializer(serializers.Serializer):
    """Set up a recurring request. The rules of a single request hold (a contracted
    service, a title, its request-form fields in `template_data`)."""

    service = serializers.IntegerField(help_text="A service of one of your contract's lines.", **ID)
    title = serializers.CharField(max_length=TITLE_MAX_CHARS, allow_blank=True)
    details = serializers.CharField(required=False, allow_blank=True, default="")
    template_data = serializers.DictField(required=False, default=dict)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    frequency = serializers.ChoiceField(choices=RecurringRequest.Frequency.choices)
    weekday = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=6,
        help_text="0 = Monday; for a weekly request.",
    )
    day_of_month = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=28,
        help_text="For a monthly request (every month has days 1 to 28).",
    )
    time_of_day = serializers.TimeField(help_text="On the client's clock, e.g. 09:00.")


class RecurringAPIMixin(ClientMayMixin, AgencyAPIMixin):
    allowed_roles = CLIENTS
    client_write_right = ClientRight.REQUEST
    queryset = RecurringRequest.objects.none()  # names the model for the schema only

    @cached_property
    def client(self):
        return self.membership.client

    def own_recurring(self):
        return (
            RecurringRequest.objects.filter(agency=self.agency, client_id=self.membership.client_id)
            .select_related("service", "client")
            .order_by("-is_active", "next_run_at", "pk")
        )


@extend_schema_view(
    create=extend_schema(
        request=RecurringRequestWriteSerializer, responses={201: RecurringRequestSerializer}
    )
)
class RecurringRequestViewSet(
    IdempotentPostMixin,
    RecurringAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The client's recurring requests, active ones first, the next to run first."""

    serializer_class = RecurringRequestSerializer

    def get_queryset(self):
        return self.own_recurring()

    def create(self, request, *args, **kwargs):
        """Set up work to be requested every week or month."""
        body = RecurringRequestWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        service = requestable_service(agency=self.agency, service_id=data.pop("service"))
        recurring = recurring_services.recurring_create(
            agency=self.agency, actor=request.user, client=self.client, service=service, **data
        )
        fresh = self.own_recurring().get(pk=recurring.pk)
        return Response(RecurringRequestSerializer(fresh).data, status=status.HTTP_201_CREATED)


class RecurringSetActiveView(RecurringAPIMixin, generics.GenericAPIView):
    """Pause a recurring request, or resume it (its next run is the next occurrence after
    now; a service no longer contracted cannot resume). Doing it twice changes nothing."""

    http_method_names = ["post", "options"]
    serializer_class = NoBodySerializer
    active = True

    @extend_schema(request=NoBodySerializer, responses=RecurringRequestSerializer)
    def post(self, request, agency_slug, pk):
        recurring = get_object_or_404(self.own_recurring(), pk=pk)
        parsed = self.get_serializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        recurring_services.recurring_set_active(
            agency=self.agency, actor=request.user, recurring=recurring, active=self.active
        )
        return Response(RecurringRequestSerializer(self.own_recurring().get(pk=pk)).data)


class RecurringPauseView(RecurringSetActiveView):
    active = False


class RecurringResumeView(RecurringSetActiveView):
    active = True
