from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, AgencyAPIView, StaffAPIMixin
from assistants import services
from assistants.api.serializers import AssistantProfileSerializer, OwnAssistantProfileSerializer
from assistants.selectors import assistant_list, assistants_on_shift, clients_workable_by
from clients.api.serializers import ClientManualSerializer
from clients.models import Client
from core.roles import Role

ACTIVE_FILTER = OpenApiParameter(
    "active", bool, description="Only active (true) or inactive (false) assistants."
)


def _flag(value):
    return {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())


@extend_schema_view(list=extend_schema(parameters=[ACTIVE_FILTER]))
class AssistantProfileViewSet(
    StaffAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The agency's assistants. PATCH changes skills, zone, hours, capacity, pay or status."""

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
    """The signed-in assistant's own profile; PATCH changes time zone and working hours."""

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
