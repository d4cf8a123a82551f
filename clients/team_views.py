"""Our team: a client's people see who is on their company's team; its owners invite
colleagues, set what each may do, withdraw invitations and remove people. Staff set the
same rights (and who owns the client) from the client's page.

The client is always the signed-in member's own, never one named in the URL."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from clients import team
from clients.forms import ColleagueInviteForm, MemberRightsForm
from clients.permissions import ClientMayMixin, ClientRight, client_may, client_require
from clients.selectors import client_detail
from core.errors import ApplicationError
from core.pagination import KeysetPaginator
from core.roles import Role
from core.views import ServiceFormView

CLIENT_ONLY = frozenset({Role.CLIENT})
TEAM_PER_PAGE = 50


class OurTeamMixin(AgencyViewMixin):
    allowed_roles = CLIENT_ONLY

    @cached_property
    def client(self):
        return self.membership.client

    def acting(self) -> dict:
        return {
            "agency": self.agency,
            "actor": self.request.user,
            "membership": self.membership,
            "client": self.client,
        }

    def back(self):
        return redirect("our_team", agency_slug=self.agency.slug)


class OurTeamView(OurTeamMixin, TemplateView):
    template_name = "clients/our_team.html"

    def get_context_data(self, **kwargs):
        members = KeysetPaginator(
            team.client_team(agency=self.agency, client=self.client),
            ordering=("user__email", "pk"),
            per_page=TEAM_PER_PAGE,
        ).page_for(self.request)
        for member in members:
            member.rights = team.rights_of(getattr(member, "client_rights", None))
        invitations = KeysetPaginator(
            team.client_team_invitations(agency=self.agency, client=self.client),
            ordering=("-created_at", "-pk"),
            per_page=TEAM_PER_PAGE,
            cursor_param="invitations",
        ).page_for(self.request)
        for invitation in invitations:
            invitation.rights = team.rights_offered(getattr(invitation, "client_rights", None))
        return super().get_context_data(
            client=self.client,
            members=members,
            invitations=invitations,
            manages_team=client_may(self.membership, ClientRight.TEAM),
            **kwargs,
        )


class OurTeamInviteView(ClientMayMixin, OurTeamMixin, ServiceFormView):
    client_right = ClientRight.TEAM
    form_class = ColleagueInviteForm
    title = "Invite a colleague"
    intro = "They receive an e-mail with a link that works for two weeks."
    submit_label = "Send invitation"

    def perform(self, data):
        return team.client_colleague_invite(**self.acting(), **data)

    def succeeded(self, invitation):
        messages.success(self.request, f"Invitation sent to {invitation.email}.")
        return self.back()


class OurTeamInvitationRevokeView(ClientMayMixin, OurTeamMixin, View):
    client_right = ClientRight.TEAM
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        invitation = get_object_or_404(
            team.client_team_invitations(agency=self.agency, client=self.client), pk=pk
        )
        try:
            team.client_invitation_revoke(**self.acting(), invitation=invitation)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Invitation to {invitation.email} withdrawn.")
        return self.back()


class MemberRightsFormMixin:
    """A form page for one member's rights, for the client's owners and for staff."""

    form_class = MemberRightsForm
    submit_label = "Save"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", f"What {self.member.user} may do")
        return super().get_context_data(**kwargs)

    def get_initial(self):
        row = getattr(self.member, "client_rights", None)
        return {"is_owner": bool(row and row.is_owner), **team.rights_of(row)}

    def perform(self, data):
        return team.client_member_rights_set(**self.acting(), member=self.member, **data)

    def succeeded(self, row):
        messages.success(self.request, f"Saved what {self.member.user} may do.")
        return self.back()


class OurTeamMemberView(ClientMayMixin, MemberRightsFormMixin, OurTeamMixin, ServiceFormView):
    client_write_right = ClientRight.TEAM

    @cached_property
    def member(self):
        return get_object_or_404(
            team.client_team(agency=self.agency, client=self.client), pk=self.kwargs["pk"]
        )

    def get(self, request, *args, **kwargs):
        # An id that is no colleague's is a 404 for anyone; the form is the owners'.
        self.member  # noqa: B018
        client_require(self.membership, ClientRight.TEAM)
        return super().get(request, *args, **kwargs)


class OurTeamMemberRemoveView(ClientMayMixin, OurTeamMixin, View):
    client_right = ClientRight.TEAM
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        member = get_object_or_404(team.client_team(agency=self.agency, client=self.client), pk=pk)
        try:
            team.client_member_remove(**self.acting(), member=member)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{member.user} is no longer on the team.")
        if member.pk == self.membership.pk and not member.is_active:
            return redirect("home")  # they removed themselves: nothing here is theirs now
        return self.back()


class ClientMemberRightsView(MemberRightsFormMixin, StaffViewMixin, ServiceFormView):
    """Staff set what one of a client's people may do, and who owns the client."""

    @cached_property
    def client(self):
        return client_detail(agency=self.agency, pk=self.kwargs["pk"])

    @cached_property
    def member(self):
        return get_object_or_404(
            team.client_team(agency=self.agency, client=self.client), pk=self.kwargs["member_pk"]
        )

    def acting(self) -> dict:
        return {
            "agency": self.agency,
            "actor": self.request.user,
            "membership": self.membership,
            "client": self.client,
        }

    def back(self):
        return redirect("client_detail", agency_slug=self.agency.slug, pk=self.client.pk)
