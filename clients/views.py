from django.contrib import messages
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from accounts.access import StaffViewMixin
from clients import services
from clients.forms import ClientFilterForm, ClientForm, ClientManualForm, ClientUpdateForm
from clients.selectors import (
    client_contracts,
    client_detail,
    client_list,
    client_pending_invitations,
    client_search,
)
from core.pagination import KeysetPaginator
from core.rich_text import render_markdown
from core.views import ServiceFormView
from core.widgets import search_options_response, search_term

CLIENTS_PER_PAGE = 50


class ClientListView(StaffViewMixin, TemplateView):
    template_name = "clients/client_list.html"

    def get_context_data(self, **kwargs):
        filter_form = ClientFilterForm(self.request.GET)
        filters = filter_form.filters()
        # A cursor, not page numbers: the agency index (agency, status, name) serves every
        # page at the same cost, and the page needs no count of all the clients.
        page = KeysetPaginator(
            client_list(agency=self.agency, **filters),
            ordering=("name", "pk"),
            per_page=CLIENTS_PER_PAGE,
        ).page_for(self.request)
        return super().get_context_data(
            clients=page,
            page=page,
            filter_form=filter_form,
            filtered=filters != ClientFilterForm.DEFAULT_FILTERS,
            **kwargs,
        )


class ClientCreateView(StaffViewMixin, ServiceFormView):
    form_class = ClientForm
    title = "Add a client"
    submit_label = "Add client"

    def get_initial(self):
        return {"time_zone": self.agency.time_zone, "currency": self.agency.default_currency}

    def perform(self, data):
        return services.client_create(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, client):
        messages.success(self.request, f"{client.name} added.")
        return redirect("client_detail", agency_slug=self.agency.slug, pk=client.pk)


class ClientMixin:
    """The client named by the URL's pk, inside the current agency (404 otherwise)."""

    @cached_property
    def client(self):
        return client_detail(agency=self.agency, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        kwargs.setdefault("client", self.client)
        return super().get_context_data(**kwargs)


class ClientDetailView(StaffViewMixin, ClientMixin, TemplateView):
    template_name = "clients/client_detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            invitations=client_pending_invitations(agency=self.agency, client=self.client),
            contracts=client_contracts(self.client),
            manual_html=render_markdown(self.client.manual),
            # Staff read times in the agency's zone: it is the clock the agency runs on.
            viewer_time_zone=self.agency.time_zone,
            **kwargs,
        )


class ClientUpdateView(StaffViewMixin, ClientMixin, ServiceFormView):
    form_class = ClientUpdateForm
    submit_label = "Save changes"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", f"Edit {self.client.name}")
        return super().get_context_data(**kwargs)

    def get_initial(self):
        return {field: getattr(self.client, field) for field in services.UPDATABLE_FIELDS}

    def perform(self, data):
        return services.client_update(
            agency=self.agency, actor=self.request.user, client=self.client, **data
        )

    def succeeded(self, client):
        messages.success(self.request, f"{client.name} saved.")
        return redirect("client_detail", agency_slug=self.agency.slug, pk=client.pk)


class ClientManualUpdateView(StaffViewMixin, ClientMixin, ServiceFormView):
    form_class = ClientManualForm
    template_name = "clients/manual_form.html"
    submit_label = "Save manual"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", f"Client manual for {self.client.name}")
        return super().get_context_data(**kwargs)

    def get_initial(self):
        return {"manual": self.client.manual}

    def perform(self, data):
        return services.client_manual_update(
            agency=self.agency, actor=self.request.user, client=self.client, manual=data["manual"]
        )

    def succeeded(self, client):
        messages.success(self.request, f"Client manual for {client.name} saved.")
        return redirect("client_detail", agency_slug=self.agency.slug, pk=client.pk)


class ClientSearchView(StaffViewMixin, View):
    """The clients whose name or billing e-mail contains what was typed, as the options of
    a search field (core.widgets). Staff only: client members never see other clients."""

    def get(self, request, agency_slug):
        return search_options_response(
            request,
            client_search(agency=self.agency, term=search_term(request)),
            label=lambda client: client.name,
            hint=lambda client: "" if client.status == client.Status.ACTIVE else "inactive",
            noun="client",
        )
