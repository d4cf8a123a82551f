from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.access import AgencyAPIView, StaffAPIMixin
from accounts.api.serializers import (
    AgencySerializer,
    InvitationSerializer,
    MemberSerializer,
    MeSerializer,
)
from accounts.models import Invitation
from accounts.selectors import member_list, memberships_for_user
from core.idempotency import IdempotentPostMixin


class MeView(APIView):
    """The signed-in user and the agencies they may act in."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        me = {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "memberships": memberships_for_user(user),
        }
        return Response(MeSerializer(me).data)


class AgencyDetailView(AgencyAPIView):
    """The agency named in the URL, with the caller's role in it."""

    @extend_schema(responses=AgencySerializer)
    def get(self, request, agency_slug):
        return Response(AgencySerializer(self.agency).data | {"role": self.membership.role})


class MemberListView(StaffAPIMixin, generics.ListAPIView):
    serializer_class = MemberSerializer

    def get_queryset(self):
        return member_list(agency=self.agency)


class InvitationViewSet(
    IdempotentPostMixin,
    StaffAPIMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Pending invitations; creating one e-mails the signed link."""

    serializer_class = InvitationSerializer

    def get_queryset(self):
        return (
            Invitation.objects.filter(agency=self.agency, accepted_at=None, revoked_at=None)
            .select_related("client")
            .order_by("-created_at", "-pk")  # the id keeps pages stable when times tie
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            agency=self.agency, actor=request.user, **serializer.validated_data
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)


class ApiRootView(APIView):
    """Where the API starts: the caller, the schema, the docs, and their agencies' roots."""

    @extend_schema(responses=OpenApiResponse(description="Links to the rest of the API."))
    def get(self, request):
        def absolute(name, **kwargs):
            return request.build_absolute_uri(reverse(name, kwargs=kwargs))

        return Response(
            {
                "me": absolute("api:me"),
                "schema": absolute("api:schema"),
                "docs": absolute("api:docs"),
                "agencies": [
                    absolute("api:agency-detail", agency_slug=m.agency.slug)
                    for m in memberships_for_user(request.user)
                ],
            }
        )
