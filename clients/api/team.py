"""Our team over the API: a client member lists their company's people and pending
invitations; its owners invite colleagues (with the rights they will hold), change what
each may do, withdraw invitations and remove people. The client is always the caller's own."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from accounts.models import Invitation, Membership
from clients import team
from clients.permissions import ClientMayMixin, ClientRight
from core.api.pagination import KeysetPagination
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin
from core.roles import Role


class RightsFields(serializers.Serializer):
    may_request = serializers.SerializerMethodField()
    may_approve = serializers.SerializerMethodField()
    may_see_invoices = serializers.SerializerMethodField()

    def _rights(self, row) -> dict:
        rights_row = getattr(row, "client_rights", None)
        if isinstance(row, Invitation):
            return team.rights_offered(rights_row)
        if getattr(rights_row, "is_owner", False):
            return dict.fromkeys(team.RIGHT_NAMES, True)  # owners hold every right
        return team.rights_of(rights_row)

    def get_may_request(self, row) -> bool:
        return self._rights(row)["may_request"]

    def get_may_approve(self, row) -> bool:
        return self._rights(row)["may_approve"]

    def get_may_see_invoices(self, row) -> bool:
        return self._rights(row)["may_see_invoices"]


class TeamMemberSerializer(RightsFields, serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    is_owner = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = [
            "id",
            "email",
            "full_name",
            "is_owner",
            "may_request",
            "may_approve",
            "may_see_invoices",
            "created_at",
        ]

    def get_is_owner(self, member) -> bool:
        return bool(getattr(getattr(member, "client_rights", None), "is_owner", False))


class MemberRightsSerializer(serializers.Serializer):
    """Any of the four; what is left out keeps its value."""

    is_owner = serializers.BooleanField(required=False)
    may_request = serializers.BooleanField(required=False)
    may_approve = serializers.BooleanField(required=False)
    may_see_invoices = serializers.BooleanField(required=False)


class TeamInvitationSerializer(RightsFields, serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "may_request",
            "may_approve",
            "may_see_invoices",
            "created_at",
            "sent_at",
        ]


class ColleagueInviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    may_request = serializers.BooleanField(default=team.DEFAULT_RIGHTS["may_request"])
    may_approve = serializers.BooleanField(default=team.DEFAULT_RIGHTS["may_approve"])
    may_see_invoices = serializers.BooleanField(default=team.DEFAULT_RIGHTS["may_see_invoices"])


class OurTeamAPIMixin(ClientMayMixin, AgencyAPIMixin):
    allowed_roles = frozenset({Role.CLIENT})
    client_write_right = ClientRight.TEAM
    pagination_class = KeysetPagination

    def acting(self) -> dict:
        return {
            "agency": self.agency,
            "actor": self.request.user,
            "membership": self.membership,
            "client": self.membership.client,
        }


class OurTeamMemberViewSet(
    OurTeamAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The people of the caller's company. Owners change what each may do (PATCH) and
    remove people (DELETE: the membership is deactivated, its history kept)."""

    serializer_class = TeamMemberSerializer
    queryset = Membership.objects.none()  # names the model for the schema only
    http_method_names = ["get", "patch", "delete", "options", "head"]

    def get_queryset(self):
        return team.client_team(agency=self.agency, client=self.membership.client)

    @extend_schema(request=MemberRightsSerializer, responses=TeamMemberSerializer)
    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        body = MemberRightsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team.client_member_rights_set(**self.acting(), member=member, **body.validated_data)
        return Response(TeamMemberSerializer(self.get_queryset().get(pk=member.pk)).data)

    def destroy(self, request, *args, **kwargs):
        member = self.get_object()
        team.client_member_remove(**self.acting(), member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OurTeamInvitationViewSet(
    IdempotentPostMixin,
    OurTeamAPIMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Invitations to the caller's company that wait for an answer. Owners invite a
    colleague by e-mail, with what they will be allowed to do, and withdraw invitations."""

    serializer_class = TeamInvitationSerializer
    queryset = Invitation.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return team.client_team_invitations(agency=self.agency, client=self.membership.client)

    @extend_schema(request=ColleagueInviteSerializer, responses={201: TeamInvitationSerializer})
    def create(self, request, *args, **kwargs):
        body = ColleagueInviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invitation = team.client_colleague_invite(**self.acting(), **body.validated_data)
        fresh = self.get_queryset().get(pk=invitation.pk)
        return Response(TeamInvitationSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=NoBodySerializer, responses=TeamInvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, **kwargs):
        """Withdraw the invitation: its link stops working."""
        invitation = get_object_or_404(self.get_queryset(), pk=kwargs["pk"])
        team.client_invitation_revoke(**self.acting(), invitation=invitation)
        invitation.refresh_from_db()
        return Response(TeamInvitationSerializer(invitation).data)
