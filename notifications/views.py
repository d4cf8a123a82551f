"""The notification centre: a member's notifications in this agency (unread first), marking
them read, and their preferences (which kinds also come by e-mail; the daily digest of
client members and staff).
Every member sees only their own notifications: lists and marks filter on the signed-in user."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin
from core.errors import ApplicationError
from core.views import ServiceFormView
from notifications import selectors, services
from notifications.models import NotificationKind
from notifications.selectors import DIGEST_ROLES

PAGE_SIZE = 50


class NotificationListView(AgencyViewMixin, TemplateView):
    template_name = "notifications/notifications.html"

    def get_context_data(self, **kwargs):
        page = Paginator(
            selectors.notification_list(agency=self.agency, user=self.request.user),
            PAGE_SIZE,
        ).get_page(self.request.GET.get("page"))
        kwargs.update(page=page, items=page.object_list)
        return super().get_context_data(**kwargs)


class NotificationReadView(AgencyViewMixin, View):
    """POST: mark one read; with `open`, go on to what it is about."""

    def post(self, request, agency_slug, pk):
        try:
            notification = services.notification_mark_read(
                agency=self.agency, user=request.user, notification_id=pk
            )
        except ApplicationError as error:
            raise Http404(error.message) from None
        if request.POST.get("open") and url_has_allowed_host_and_scheme(
            notification.link, allowed_hosts=None
        ):
            return redirect(notification.link)
        return redirect("notification_list", agency_slug=agency_slug)


class NotificationReadAllView(AgencyViewMixin, View):
    def post(self, request, agency_slug):
        count = services.notifications_mark_all_read(agency=self.agency, user=request.user)
        messages.success(request, f"{count} marked read." if count else "Nothing unread.")
        return redirect("notification_list", agency_slug=agency_slug)


class PreferencesForm(forms.Form):
    """One checkbox per kind the member's role receives; the digest for client members and
    staff."""

    def __init__(self, *args, kinds, role, **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        for kind in kinds:
            self.fields[f"email_{kind}"] = forms.BooleanField(
                required=False, label=f"E-mail me: {NotificationKind(kind).label.lower()}"
            )
        if role in DIGEST_ROLES:
            self.fields["daily_digest"] = forms.BooleanField(
                required=False,
                label="One daily digest instead of an e-mail each time",
            )
            self.fields["digest_hour"] = forms.TypedChoiceField(
                coerce=int,
                choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
                label="Send the digest at (your time)",
            )


class NotificationPreferencesView(AgencyViewMixin, ServiceFormView):
    title = "Notification settings"
    intro = (
        "Everything shows here in the app. Choose what also comes by e-mail. Reminders "
        "to assistants wait for their working hours unless the task is urgent."
    )
    form_class = PreferencesForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["kinds"] = selectors.kinds_for_role(self.membership.role)
        kwargs["role"] = self.membership.role
        return kwargs

    def get_initial(self):
        current = selectors.preferences_for(agency=self.agency, membership=self.membership)
        initial = {f"email_{kind}": wanted for kind, wanted in current["email"].items()}
        initial |= {"daily_digest": current["daily_digest"], "digest_hour": current["digest_hour"]}
        return initial

    def perform(self, data):
        return services.preferences_update(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            email={
                kind: data[f"email_{kind}"]
                for kind in selectors.kinds_for_role(self.membership.role)
            },
            daily_digest=data.get("daily_digest"),
            digest_hour=data.get("digest_hour"),
        )

    def succeeded(self, result):
        messages.success(self.request, "Notification settings saved.")
        return redirect(reverse("notification_list", args=[self.agency.slug]))


# Mounted by accounts.urls under /a/<agency_slug>/.
