from django.contrib import messages
from django.shortcuts import redirect
from django.views.generic import TemplateView

from clients import services
from clients.forms import ClientForm
from clients.selectors import client_list
from core.views import ServiceFormView, StaffViewMixin


class ClientListView(StaffViewMixin, TemplateView):
    template_name = "clients/client_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(clients=client_list(agency=self.agency), **kwargs)


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
        return redirect("client_list", agency_slug=self.agency.slug)
