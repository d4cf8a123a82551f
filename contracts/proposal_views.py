"""Pages of quotes and proposals: the client asks and answers; staff send, follow and
withdraw (contracts.proposals holds the rules)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from contracts import proposals
from contracts.models import ContractStatus, ProposalStatus, QuoteRequestStatus, ServiceContract
from contracts.proposal_forms import ProposalDeclineForm, ProposalSendForm, QuoteRequestForm
from core.errors import ApplicationError
from core.forms import add_application_error
from core.pagination import KeysetPaginator
from core.roles import Role
from core.views import ServiceFormView

PER_PAGE = 50


def _offer_context(proposal) -> dict:
    return {
        "proposal": proposal,
        "offered": proposals.offered_contract(proposal),
        "lines": proposals.offered_lines(proposal),
        "state": proposals.proposal_state(proposal),
        "expired": proposals.proposal_expired(proposal),
    }


# -- the client ---------------------------------------------------------------------------------


class ClientOnlyMixin(AgencyViewMixin):
    allowed_roles = frozenset({Role.CLIENT})


class QuoteRequestCreateView(ClientOnlyMixin, ServiceFormView):
    form_class = QuoteRequestForm
    title = "Ask for a quote"
    intro = "Describe the work you would like the agency to take on; they answer with a proposal."
    submit_label = "Send the request"

    def perform(self, data):
        return proposals.quote_request_create(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            details=data["details"],
        )

    def succeeded(self, quote):
        messages.success(
            self.request, "Your request is with the agency: they will send a proposal."
        )
        return redirect("our_contracts", agency_slug=self.agency.slug)


class OurProposalMixin(ClientOnlyMixin):
    def get_proposal(self):
        return get_object_or_404(
            proposals.proposal_list(agency=self.agency, client=self.membership.client),
            pk=self.kwargs["pk"],
        )


class OurProposalDetailView(OurProposalMixin, TemplateView):
    template_name = "contracts/our_proposal.html"

    def get_context_data(self, **kwargs):
        proposal = self.get_proposal()
        kwargs.setdefault("decline_form", ProposalDeclineForm())
        return super().get_context_data(**_offer_context(proposal), **kwargs)


class OurProposalAnswerView(OurProposalDetailView):
    """Accept, or decline with a reason (a decline without one shows the page again, 400)."""

    http_method_names = ["post"]
    answer = ""

    def post(self, request, agency_slug, pk):
        proposal = self.get_proposal()
        form = ProposalDeclineForm(request.POST)
        try:
            if self.answer == "accept":
                proposals.proposal_accept(
                    agency=self.agency,
                    actor=request.user,
                    membership=self.membership,
                    proposal=proposal,
                )
                messages.success(request, f"Accepted: “{proposal.offer['name']}” is now active.")
                return redirect("our_contracts", agency_slug=self.agency.slug)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(decline_form=form), status=400)
            proposals.proposal_decline(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                proposal=proposal,
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, "Declined: the agency has your reason.")
        except ApplicationError as error:
            if self.answer == "decline" and error.extra.get("field") == "reason":
                add_application_error(form, error)
                return self.render_to_response(self.get_context_data(decline_form=form), status=400)
            messages.error(request, error.message)
        return redirect("our_proposal_detail", agency_slug=self.agency.slug, pk=proposal.pk)


# -- staff --------------------------------------------------------------------------------------


class ProposalListView(StaffViewMixin, TemplateView):
    """Quote requests waiting for an answer, then every proposal newest first (by cursor:
    each page one query)."""

    template_name = "contracts/proposal_list.html"

    def get_context_data(self, **kwargs):
        waiting = list(
            proposals.quote_request_list(agency=self.agency, status=QuoteRequestStatus.OPEN)[
                : PER_PAGE + 1
            ]
        )
        page = KeysetPaginator(
            proposals.proposal_list(agency=self.agency),
            ordering=("-sent_at", "-pk"),
            per_page=PER_PAGE,
        ).page_for(self.request)
        for proposal in page:
            proposal.state = proposals.proposal_state(proposal)
        return super().get_context_data(
            quotes=waiting[:PER_PAGE],
            more_quotes=len(waiting) > PER_PAGE,
            proposals=page,
            page=page,
            **kwargs,
        )


class QuoteRequestMixin(StaffViewMixin):
    def get_quote(self):
        return get_object_or_404(
            proposals.quote_request_list(agency=self.agency), pk=self.kwargs["pk"]
        )


class QuoteRequestDetailView(QuoteRequestMixin, TemplateView):
    template_name = "contracts/quote_request.html"

    def get_context_data(self, **kwargs):
        quote = self.get_quote()
        answers = list(quote.proposals.select_related("contract").order_by("-sent_at", "-pk"))
        drafts = list(
            ServiceContract.objects.filter(
                agency=self.agency, client=quote.client, status=ContractStatus.DRAFT
            ).order_by("-pk")[:20]
        )
        return super().get_context_data(quote=quote, answers=answers, drafts=drafts, **kwargs)


class QuoteRequestCloseView(QuoteRequestMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        quote = proposals.quote_request_close(
            agency=self.agency, actor=request.user, quote=self.get_quote()
        )
        messages.success(request, "The quote request is closed.")
        return redirect("quote_request_detail", agency_slug=self.agency.slug, pk=quote.pk)


class ProposalMixin(StaffViewMixin):
    def get_proposal(self):
        return get_object_or_404(proposals.proposal_list(agency=self.agency), pk=self.kwargs["pk"])


class ProposalDetailView(ProposalMixin, TemplateView):
    template_name = "contracts/proposal_detail.html"

    def get_context_data(self, **kwargs):
        proposal = self.get_proposal()
        changed = (
            proposal.status == ProposalStatus.SENT
            and proposal.contract.status == ContractStatus.DRAFT
            and proposals.offer_of(proposal.contract) != proposal.offer
        )
        return super().get_context_data(**_offer_context(proposal), changed=changed, **kwargs)


class ProposalWithdrawView(ProposalMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        proposal = self.get_proposal()
        try:
            proposals.proposal_withdraw(agency=self.agency, actor=request.user, proposal=proposal)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "The proposal is withdrawn.")
        return redirect("proposal_detail", agency_slug=self.agency.slug, pk=proposal.pk)


class ProposalSendView(StaffViewMixin, ServiceFormView):
    """Send a draft contract to its client as a proposal (the next version)."""

    form_class = ProposalSendForm
    title = "Send as a proposal"
    submit_label = "Send to the client"

    def get_contract(self) -> ServiceContract:
        if not hasattr(self, "_contract"):
            self._contract = get_object_or_404(
                ServiceContract.objects.filter(agency=self.agency).select_related("client"),
                pk=self.kwargs["pk"],
            )
            if self._contract.status != ContractStatus.DRAFT:
                raise Http404("Only a draft contract is proposed.")
        return self._contract

    def get_form_kwargs(self):
        kwargs = {**super().get_form_kwargs(), "contract": self.get_contract()}
        quote = self.request.GET.get("quote")
        if quote and quote.isdigit():
            kwargs.setdefault("initial", {})["quote_request"] = int(quote)
        return kwargs

    def get_context_data(self, **kwargs):
        contract = self.get_contract()
        kwargs.setdefault(
            "intro",
            f"{contract.client.name} will be told and can accept “{contract.name}” online "
            "until the end of the day you choose; accepting activates the contract.",
        )
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return proposals.proposal_send(
            agency=self.agency,
            actor=self.request.user,
            contract=self.get_contract(),
            expires_at=data["expires_at"],
            note=data["note"],
            quote=data.get("quote_request"),
        )

    def succeeded(self, proposal):
        messages.success(self.request, f"Version {proposal.version} sent to the client.")
        return redirect("proposal_detail", agency_slug=self.agency.slug, pk=proposal.pk)


urlpatterns = [
    path(
        "our-contracts/ask-for-a-quote/",
        QuoteRequestCreateView.as_view(),
        name="quote_request_create",
    ),
    path("our-proposals/<int:pk>/", OurProposalDetailView.as_view(), name="our_proposal_detail"),
    path(
        "our-proposals/<int:pk>/accept/",
        OurProposalAnswerView.as_view(answer="accept"),
        name="our_proposal_accept",
    ),
    path(
        "our-proposals/<int:pk>/decline/",
        OurProposalAnswerView.as_view(answer="decline"),
        name="our_proposal_decline",
    ),
    path("proposals/", ProposalListView.as_view(), name="proposal_list"),
    path("proposals/<int:pk>/", ProposalDetailView.as_view(), name="proposal_detail"),
    path("proposals/<int:pk>/withdraw/", ProposalWithdrawView.as_view(), name="proposal_withdraw"),
    path("quotes/<int:pk>/", QuoteRequestDetailView.as_view(), name="quote_request_detail"),
    path("quotes/<int:pk>/close/", QuoteRequestCloseView.as_view(), name="quote_request_close"),
    path("contracts/<int:pk>/propose/", ProposalSendView.as_view(), name="proposal_send"),
]
