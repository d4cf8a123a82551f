from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, AgencyAPIView, StaffAPIMixin
from assistants import samples, services, time_off
from assistants.api.serializers import (
    AssistantProfileSerializer,
    OwnAssistantProfileSerializer,
    TimeOffApproveSerializer,
    TimeOffDeclineSerializer,
    TimeOffRequestSerializer,
    TimeOffSerializer,
    WorkSampleCreateSerializer,
    WorkSampleSerializer,
)
from assistants.models import TimeOffStatus
from assistants.selectors import (
    assistant_list,
    assistant_profile_get,
    assistants_on_shift,
    clients_workable_by,
    time_off_get,
    time_off_list,
    time_off_of,
)
from clients.api.serializers import ClientManualSerializer
from clients.models import Client
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES, Role

ACTIVE_FILTER = OpenApiParameter(
    "active", bool, description="Only active (true) or inactive (false) assistants."
)


def _flag(value):
    return {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())


@extend_schema_view(list=extend_schema(parameters=[ACTIVE_FILTER]))
class AssistantProfileViewSet(
    StaffAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The agency's assistants. PATCH changes skills, zone, hours, capacity, pay, status,
    bio, languages or specialisations. `rating_count` and `rating_average` sum up clients'
    ratings of approved work."""

    serializer_class = AssistantProfileSerializer

    def get_queryset(self):
        active = _flag(self.request.query_params.get("active"))
        return assistant_list(agency=self.agency, active=active)

    def partial_update(self, request, *args, **kwargs):
        profile = self.get_object()
        serializer = self.get_serializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.assistant_profile_update(
            agency=self.agency, actor=request.user, profile=profile, **serializer.validated_data
        )
        return Response(self.get_serializer(profile).data)


class AssistantOnShiftListView(StaffAPIMixin, generics.ListAPIView):
    """Active assistants whose working hours, in their own zone, include this moment."""

    serializer_class = AssistantProfileSerializer

    @cached_property
    def at(self):
        return timezone.now()  # one instant for the filter and every row's local time

    def get_queryset(self):
        return assistants_on_shift(agency=self.agency, at=self.at)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "at": self.at}


class MyAssistantProfileView(AgencyAPIView):
    """The signed-in assistant's own profile; PATCH changes time zone, working hours, bio,
    languages and specialisations."""

    allowed_roles = frozenset({Role.ASSISTANT})
    http_method_names = ["get", "patch", "head", "options"]

    def _profile(self, request):
        profile = services.assistant_profile_ensure(
            agency=self.agency, membership=self.membership, actor=request.user
        )
        profile.membership = self.membership
        return profile

    def _data(self, profile):
        return OwnAssistantProfileSerializer(profile, context=self.get_serializer_context()).data

    @extend_schema(responses=OwnAssistantProfileSerializer)
    def get(self, request, agency_slug):
        return Response(self._data(self._profile(request)))

    @extend_schema(request=OwnAssistantProfileSerializer, responses=OwnAssistantProfileSerializer)
    def patch(self, request, agency_slug):
        profile = self._profile(request)
        serializer = OwnAssistantProfileSerializer(
            profile, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        services.assistant_profile_update_own(
            agency=self.agency, actor=request.user, profile=profile, **serializer.validated_data
        )
        return Response(self._data(profile))

    def get_serializer_context(self):
        return {"request": self.request, "view": self, "agency": self.agency}


class ClientManualViewSet(
    AgencyAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Client manuals for an assistant: those of the clients whose work they may take."""

    allowed_roles = frozenset({Role.ASSISTANT})
    serializer_class = ClientManualSerializer
    queryset = Client.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return clients_workable_by(agency=self.agency, membership=self.membership)


# -- time off ---------------------------------------------------------------------------

ASSISTANTS = frozenset({Role.ASSISTANT})


class TimeOffFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=TimeOffStatus.choices, required=False, help_text="Only requests of this status."
    )


@extend_schema_view(list=extend_schema(parameters=[TimeOffFilterSerializer]))
class TimeOffViewSet(
    StaffAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The agency's time off requests for staff, those waiting for a decision first."""

    serializer_class = TimeOffSerializer

    def get_queryset(self):
        status_wanted = None
        if self.action == "list":
            query = TimeOffFilterSerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            status_wanted = query.validated_data.get("status")
        return time_off_list(agency=self.agency, status=status_wanted)

    def get_serializer_class(self):
        return {
            "approve": TimeOffApproveSerializer,
            "decline": TimeOffDeclineSerializer,
        }.get(self.action, TimeOffSerializer)

    def _decide(self, request, decide):
        asked = self.get_object()
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = decide(asked, **body.validated_data)
        return Response(TimeOffSerializer(time_off_get(agency=self.agency, pk=decided.pk)).data)

    @extend_schema(request=TimeOffApproveSerializer, responses=TimeOffSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, agency_slug, pk):
        """Approve a waiting request, naming who covers the dedicated work (or nobody: the
        skill pool). The clients whose dedicated work moves are told."""
        return self._decide(
            request,
            lambda asked, cover=None, note="": time_off.time_off_approve(
                agency=self.agency, actor=request.user, time_off=asked, cover=cover, note=note
            ),
        )

    @extend_schema(request=TimeOffDeclineSerializer, responses=TimeOffSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, agency_slug, pk):
        """Decline a waiting request, with a note for the assistant."""
        return self._decide(
            request,
            lambda asked, note="": time_off.time_off_decline(
                agency=self.agency, actor=request.user, time_off=asked, note=note
            ),
        )


class MyTimeOffListView(IdempotentPostMixin, AgencyAPIMixin, generics.ListCreateAPIView):
    """The signed-in assistant's time off, latest first; POST asks for days off on their
    own calendar (201)."""

    allowed_roles = ASSISTANTS
    serializer_class = TimeOffSerializer

    def get_queryset(self):
        return time_off_of(agency=self.agency, membership=self.membership)

    @extend_schema(request=TimeOffRequestSerializer, responses={201: TimeOffSerializer})
    def post(self, request, agency_slug):
        body = TimeOffRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        asked = time_off.time_off_request(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            **body.validated_data,
        )
        return Response(
            TimeOffSerializer(time_off_get(agency=self.agency, pk=asked.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class MyTimeOffCancelView(AgencyAPIMixin, generics.GenericAPIView):
    """The signed-in assistant cancels a request of theirs that has not begun."""

    allowed_roles = ASSISTANTS
    http_method_names = ["post", "options"]
    serializer_class = NoBodySerializer

    @extend_schema(request=NoBodySerializer, responses=TimeOffSerializer)
    def post(self, request, agency_slug, pk):
        asked = get_object_or_404(
            time_off_of(agency=self.agency, membership=self.membership), pk=pk
        )
        time_off.time_off_cancel(
            agency=self.agency, actor=request.user, membership=self.membership, time_off=asked
        )
        return Response(TimeOffSerializer(time_off_get(agency=self.agency, pk=asked.pk)).data)


class WorkSampleListView(IdempotentPostMixin, AgencyAPIMixin, generics.ListCreateAPIView):
    """An assistant's work samples, for staff and the assistant themself (404 to anyone
    else). POST adds one: a title with a `url` (JSON or form) or a `file` (multipart)."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    serializer_class = WorkSampleSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @cached_property
    def profile(self):
        profile = assistant_profile_get(agency=self.agency, pk=self.kwargs["pk"])
        if profile is None or not samples.may_edit_profile(
            membership=self.membership, profile=profile
        ):
            raise Http404("No such assistant.")
        return profile

    def get_queryset(self):
        return samples.work_samples_of(agency=self.agency, profile=self.profile)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "agency": self.agency}

    @extend_schema(request=WorkSampleCreateSerializer, responses={201: WorkSampleSerializer})
    def post(self, request, agency_slug, pk):
        profile = self.profile
        body = WorkSampleCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sample = samples.work_sample_add(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            profile=profile,
            title=body.validated_data["title"],
            url=body.validated_data["url"],
            upload=body.validated_data["file"],
        )
        return Response(self.get_serializer(sample).data, status=status.HTTP_201_CREATED)


class WorkSampleDetailView(AgencyAPIMixin, generics.GenericAPIView):
    """One work sample; DELETE removes it (the assistant's own, or staff)."""

    allowed_roles = STAFF_ROLES | ASSISTANTS
    http_method_names = ["get", "delete", "head", "options"]
    serializer_class = WorkSampleSerializer

    @cached_property
    def sample(self):
        sample = samples.work_sample_get(agency=self.agency, pk=self.kwargs["pk"])
        if sample is None or not samples.may_edit_profile(
            membership=self.membership, profile=sample.profile
        ):
            raise Http404("No such sample.")
        return sample

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "agency": self.agency}

    def get(self, request, agency_slug, pk):
        return Response(self.get_serializer(self.sample).data)

    @extend_schema(responses={204: None})
    def delete(self, request, agency_slug, pk):
        samples.work_sample_delete(
            agency=self.agency, actor=request.user, membership=self.membership, sample=self.sample
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
