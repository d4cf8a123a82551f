"""Buying extra retainer hours (billing.top_ups): choose the hours, see the price, confirm.
A client's people buy for their own client from their account page; staff buy for any
client of the agency."""

import uuid

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin
from billing.top_ups import MAX_MINUTES, STEP_MINUTES, top_up_buy, top_up_lines, top_up_quote
from clients.models import Client
from clients.permissions import ClientMayMixin, ClientRight
from core.errors import ApplicationError
from core.forms import HoursField, add_application_error
from core.roles import STAFF_ROLES, Role


class TopUpForm(forms.Form):
    line = forms.TypedChoiceField(coerce=int, label="Service")
    hours = HoursField(label="Hours to buy", help_text="In quarter hours, e.g. 5 or 2.5.")
    # One purchase per token: a double click, a retry or a reload buys once.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [(line.pk, line.service.name) for line in lines]
        self.fields["hours"].min_value = None

    def clean_hours(self):
        minutes = self.cleaned_data["hours"]
        if minutes <= 0 or minutes > MAX_MINUTES or minutes % STEP_MINUTES:
            raise forms.ValidationError(
                f"Buy from 0.25 to {MAX_MINUTES // 60} hours, in quarter hours."
            )
        return minutes


class TopUpMixin(AgencyViewMixin):
    """The client whose hours are bought: the member's own, or the one in the URL (staff)."""

    allowed_roles = frozenset({*STAFF_ROLES, Role.CLIENT})

    @property
    def is_staff(self) -> bool:
        return self.membership.role in STAFF_ROLES

    def load(self) -> None:
        """The client and its retainer lines: staff name the client in the URL, a client's
        people never do (their own client is the only one they reach)."""
        if self.is_staff:
            self.client = get_object_or_404(Client, agency=self.agency, pk=self.kwargs["client_pk"])
        else:
            self.client = self.membership.client
        self.lines = top_up_lines(agency=self.agency, client=self.client)

    def urls(self, client) -> dict:
        slug = self.agency.slug
        if "client_pk" in self.kwargs:
            return {
                "start": reverse("client_top_up", args=[slug, client.pk]),
                "confirm": reverse("client_top_up_confirm", args=[slug, client.pk]),
                "back": reverse("client_detail", args=[slug, client.pk]),
            }
        return {
            "start": reverse("our_top_up", args=[slug]),
            "confirm": reverse("our_top_up_confirm", args=[slug]),
            "back": reverse("our_account", args=[slug]),
        }

    def get(self, request, *args, **kwargs):
        self.load()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            client=self.client, lines=self.lines, urls=self.urls(self.client), **kwargs
        )


class TopUpStartView(TopUpMixin, TemplateView):
    """Step one: which service, how many hours."""

    template_name = "billing/top_up_start.html"

    def get_context_data(self, **kwargs):
        form = TopUpForm(lines=self.lines, initial={"token": uuid.uuid4().hex})
        return super().get_context_data(form=form, **kwargs)


class TopUpConfirmView(TopUpMixin, TemplateView):
    """Step two: the price, and the purchase (POST). The form's token buys once."""

    template_name = "billing/top_up_confirm.html"
    http_method_names = ["get", "post"]

    def get_context_data(self, **kwargs):
        form = kwargs.pop("form", None)
        if form is None:
            # Come here without a choice (a bookmark): the first step, nothing refused yet.
            data = self.request.GET if "line" in self.request.GET else None
            form = TopUpForm(data, lines=self.lines, initial={"token": uuid.uuid4().hex})
        quote = None
        if form.is_bound and form.is_valid():
            try:
                quote = top_up_quote(
                    agency=self.agency,
                    client=self.client,
                    line_id=form.cleaned_data["line"],
                    minutes=form.cleaned_data["hours"],
                )
            except ApplicationError as error:
                add_application_error(form, error)
        return super().get_context_data(form=form, quote=quote, **kwargs)

    def render_step(self, **kwargs):
        context = self.get_context_data(**kwargs)
        if context["quote"] is None:
            # Back to the first step, with what was wrong beside the field.
            self.template_name = "billing/top_up_start.html"
        return self.render_to_response(context)

    def get(self, request, *args, **kwargs):
        self.load()
        return self.render_step()

    def post(self, request, *args, **kwargs):
        self.load()
        form = TopUpForm(request.POST, lines=self.lines)
        if not form.is_valid():
            return self.render_step(form=form)
        try:
            top_up = top_up_buy(
                agency=self.agency,
                actor=request.user,
                client=self.client,
                line_id=form.cleaned_data["line"],
                minutes=form.cleaned_data["hours"],
                token=form.cleaned_data["token"],
            )
        except ApplicationError as error:
            add_application_error(form, error)
            return self.render_step(form=form)
        messages.success(
            request,
            f"{top_up.minutes / 60:g} h added to this month's hours. "
            "The charge is on its way to your card or inbox."
            if not self.is_staff
            else f"{top_up.minutes / 60:g} h added to {self.client.name}'s hours this month.",
        )
        return redirect(self.urls(self.client)["back"])


class OurTopUpStartView(ClientMayMixin, TopUpStartView):
    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES


class OurTopUpConfirmView(ClientMayMixin, TopUpConfirmView):
    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES


class ClientTopUpStartView(TopUpStartView):
    allowed_roles = STAFF_ROLES


class ClientTopUpConfirmView(TopUpConfirmView):
    allowed_roles = STAFF_ROLES
