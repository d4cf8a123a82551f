from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from accounts import services
from accounts.access import StaffViewMixin
from accounts.forms import AgencyDetailsForm, AgencyForm, InvitationForm
from accounts.models import ApiToken, Invitation, Membership
from accounts.selectors import member_list, memberships_for_user
from core.errors import ApplicationError
from core.pagination import KeysetPaginator
from core.roles import Role
from core.views import ServiceFormView


def home(request):
    """Send people where they work: their last agency, their only agency, or the picker."""
    if not request.user.is_authenticated:
        return render(request, "home.html")
    memberships = memberships_for_user(request.user)
    slugs = [m.agency.slug for m in memberships]
    last = request.session.get("agency_slug")
    if last in slugs:
        return redirect("dashboard", agency_slug=last)
    if len(slugs) == 1:
        return redirect("dashboard", agency_slug=slugs[0])
    return redirect("agency_list")


class AgencyListView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/agency_list.html"


class AgencyCreateView(LoginRequiredMixin, ServiceFormView):
    """SaaS onboarding: anyone signed in may start an agency and becomes its owner."""

    form_class = AgencyForm
    title = "Start your agency"
    intro = "You become its owner. You can invite admins, assistants and clients next."
    submit_label = "Create agency"

    def perform(self, data):
        return services.agency_create(owner=self.request.user, **data)

    def succeeded(self, agency):
        messages.success(self.request, f"{agency.name} is ready. Invite your team next.")
        return redirect("dashboard", agency_slug=agency.slug)


class AgencyDetailsView(StaffViewMixin, ServiceFormView):
    """The agency's name, zone, currency, and what its invoices say of it."""

    form_class = AgencyDetailsForm
    title = "Agency details"
    intro = "Your name, address and tax id appear on every invoice your clients receive."

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.agency}

    def perform(self, data):
        return services.agency_update(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, agency):
        messages.success(self.request, "Agency details saved.")
        return redirect("agency_settings", agency_slug=agency.slug)


TEAM_PER_PAGE = 50


class TeamView(StaffViewMixin, TemplateView):
    template_name = "accounts/team.html"

    def get_context_data(self, **kwargs):
        # Two lists on one page, each with its own cursor: an agency with a thousand
        # clients has thousands of client members and many invitations out.
        members = KeysetPaginator(
            member_list(agency=self.agency).filter(is_active=True),
            ordering=("role_rank", "user__email", "pk"),
            per_page=TEAM_PER_PAGE,
        ).page_for(self.request)
        invitations = KeysetPaginator(
            Invitation.objects.filter(
                agency=self.agency, accepted_at=None, revoked_at=None
            ).select_related("client", "invited_by"),
            ordering=("-created_at", "-pk"),
            per_page=TEAM_PER_PAGE,
            cursor_param="invitations",
        ).page_for(self.request)
        return super().get_context_data(members=members, invitations=invitations, **kwargs)


class InvitationCreateView(StaffViewMixin, ServiceFormView):
    form_class = InvitationForm
    title = "Invite someone"
    intro = "They receive an e-mail with a link that works for two weeks."
    submit_label = "Send invitation"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency}

    def get_initial(self):
        initial = {"role": self.request.GET.get("role", Role.ASSISTANT)}
        # "Invite someone" on a client's page pre-selects that client; the form's choices
        # are this agency's clients only, so a foreign or unknown id selects nothing.
        client = self.request.GET.get("client", "")
        if client.isdigit():
            initial["client"] = int(client)
        return initial

    def perform(self, data):
        return services.invitation_create(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, invitation):
        messages.success(self.request, f"Invitation sent to {invitation.email}.")
        return redirect("team", agency_slug=self.agency.slug)


class InvitationActionView(StaffViewMixin, View):
    """POST-only buttons on the team page: resend or withdraw a pending invitation."""

    action = ""
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        invitation = get_object_or_404(Invitation, agency=self.agency, pk=pk)
        service = {"resend": services.invitation_resend, "revoke": services.invitation_revoke}
        try:
            service[self.action](agency=self.agency, actor=request.user, invitation=invitation)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            verb = "sent again" if self.action == "resend" else "withdrawn"
            messages.success(request, f"Invitation to {invitation.email} {verb}.")
        return redirect("team", agency_slug=agency_slug)


class MemberRemoveView(StaffViewMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        membership = get_object_or_404(Membership, agency=self.agency, pk=pk, is_active=True)
        if membership.role == Role.OWNER and self.membership.role != Role.OWNER:
            raise PermissionDenied(
                "Only an owner can remove an owner. As an admin you can remove admins, "
                "assistants and clients."
            )
        try:
            services.membership_deactivate(
                agency=self.agency, actor=request.user, membership=membership
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{membership.user} no longer has access.")
        return redirect("team", agency_slug=agency_slug)


class InvitationAcceptView(View):
    """The page behind an invitation link.

    Signed out: offers sign-up (the address is trusted, since the link reached it) or
    sign-in, then comes back here. Signed in as the invited address: one button accepts.
    """

    template_name = "accounts/invitation_accept.html"

    def get(self, request, token):
        try:
            invitation = services.invitation_from_token(token)
        except ApplicationError as error:
            return render(request, self.template_name, {"error": error.message}, status=400)
        context = {"invitation": invitation, "agency": invitation.agency}
        if not request.user.is_authenticated:
            get_adapter(request).stash_verified_email(request, invitation.email)
            back = {"next": request.path}
            context["signup_url"] = (
                reverse("account_signup") + "?" + urlencode({**back, "email": invitation.email})
            )
            context["login_url"] = reverse("account_login") + "?" + urlencode(back)
        return render(request, self.template_name, context)

    def post(self, request, token):
        if not request.user.is_authenticated:
            return redirect(request.path)
        try:
            invitation = services.invitation_from_token(token)
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except ApplicationError as error:
            return render(request, self.template_name, {"error": error.message}, status=400)
        messages.success(request, f"Welcome to {membership.agency.name}.")
        return redirect("dashboard", agency_slug=membership.agency.slug)


@login_required
def api_token(request):
    """The caller's API tokens: make a named one (shown in full once, right after it is
    made: only its hash is kept), see when each was made and expires, revoke any."""
    created, form_error, status = None, None, 200
    if request.method == "POST":
        if "revoke" in request.POST:
            if services.api_token_revoke(user=request.user, token_key=request.POST["revoke"]):
                messages.success(request, "Token revoked: calls made with it are refused.")
            return redirect("api_token")
        try:
            _, created = services.api_token_create(
                user=request.user,
                name=request.POST.get("name", ""),
                lifetime=request.POST.get("lifetime", ""),
            )
        except ApplicationError as error:
            form_error, status = error, 400
    context = {
        "created": created,
        "error": form_error,
        "typed": request.POST if form_error else {},
        "tokens": ApiToken.objects.filter(user=request.user),
        "lifetimes": [
            ("30", "30 days"),
            ("90", "90 days"),
            ("365", "A year"),
            ("never", "Until revoked"),
        ],
    }
    response = render(request, "accounts/api_token.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may show a token in full
    return response
