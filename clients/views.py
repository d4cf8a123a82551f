from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.generic import FormView, TemplateView

from clients import services
from clients.forms import ClientForm
from clients.selectors import client_list
from core.errors import ApplicationError
from core.forms import add_application_error
from core.views import StaffViewMixin


class ClientListView(StaffViewMixin, TemplateView):
    template_name = "clients/client_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(clients=client_list(agency=self.agency), **kwargs)


class ClientCreateView(StaffViewMixin, FormView):
    template_name = "clients/client_form.html"
    form_class = ClientForm

    def get_initial(self):
        return {"time_zone": self.agency.time_zone, "currency": self.agency.default_currency}

    def form_valid(self, form):
        try:
            client = services.client_create(
                agency=self.agency, actor=self.request.user, **form.cleaned_data
            )
        except ApplicationError as error:
            add_application_error(form, error)
            return self.form_invalid(form)
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"{client.name} added.")
        return redirect("client_list", agency_slug=self.agency.slug)
