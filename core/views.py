from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.views.generic import FormView
from django.views.generic.base import ContextMixin

from accounts.selectors import membership_for
from core.errors import ApplicationError
from core.forms import add_application_error
from core.roles import ALL_ROLES, STAFF_ROLES
from core.tenancy import agency_scope


def render_now(response):
    """Render a lazy response while the agency scope is still active."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    return response


class AgencyViewMixin(ContextMixin):
    """Base of every page under /a/<agency_slug>/.

    Resolves the agency from the URL, checks the user's membership and role, and runs the
    view (and renders its template) inside the agency's scope. A stranger and an unknown
    slug get the same 404; a member whose role may not use the page gets a 403.
    """

    allowed_roles: frozenset[str] = ALL_ROLES

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_for(user=request.user, agency_slug=kwargs["agency_slug"])
        if membership.role not in self.allowed_roles:
            raise PermissionDenied("Your role in this agency cannot open this page.")
        self.agency = request.agency = membership.agency
        self.membership = request.membership = membership
        request.session["agency_slug"] = membership.agency.slug
        with agency_scope(self.agency):
            return render_now(super().dispatch(request, *args, **kwargs))

    def get_context_data(self, **kwargs):
        kwargs.setdefault("agency", self.agency)
        kwargs.setdefault("membership", self.membership)
        return super().get_context_data(**kwargs)


class StaffViewMixin(AgencyViewMixin):
    allowed_roles = STAFF_ROLES


class ServiceFormView(FormView):
    """A form page whose valid input goes to one service call.

    Subclasses implement `perform(data)` (call the service, return what it made) and
    `succeeded(result)` (the redirect). An ApplicationError from the service is shown next
    to the field it names, and nothing is saved.
    """

    template_name = "form_page.html"
    title = ""
    intro = ""
    submit_label = "Save"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", self.title)
        kwargs.setdefault("intro", self.intro)
        kwargs.setdefault("submit_label", self.submit_label)
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            result = self.perform(form.cleaned_data)
        except ApplicationError as error:
            add_application_error(form, error)
            return self.form_invalid(form)
        return self.succeeded(result)

    def perform(self, data):
        raise NotImplementedError

    def succeeded(self, result):
        raise NotImplementedError
