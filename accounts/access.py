"""How a request or a job enters one agency: resolve it, check the membership and role,
and run inside the agency's scope. Pages and jobs build on these; the API's counterpart is
accounts.api.access."""

import inspect

from celery import Task
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.views.generic.base import ContextMixin

from accounts.models import Agency
from accounts.selectors import membership_for
from core.idempotency import page_once
from core.roles import ALL_ROLES, STAFF_ROLES, role_refusal
from core.tenancy import agency_scope
from core.views import render_now


class AgencyViewMixin(ContextMixin):
    """Base of every page under /a/<agency_slug>/.

    Resolves the agency from the URL, checks the user's membership and role, and runs the
    view (and renders its template) inside the agency's scope. A stranger and an unknown
    slug get the same 404; a member whose role may not use the page gets a 403 that says
    so. A POST that carries a form's one-time key acts once (core.idempotency).
    """

    allowed_roles: frozenset[str] = ALL_ROLES

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = membership_for(user=request.user, agency_slug=kwargs["agency_slug"])
        # Set first, so that a refusal is shown in the agency's own layout.
        self.agency = request.agency = membership.agency
        self.membership = request.membership = membership
        if membership.role not in self.allowed_roles:
            raise PermissionDenied(role_refusal(membership.role, self.allowed_roles))
        if request.session.get("agency_slug") != membership.agency.slug:
            # Written only when it changes: a request that saves the session it read
            # could drop what a concurrent one (a double click) wrote to it meanwhile.
            request.session["agency_slug"] = membership.agency.slug
        handle = super().dispatch
        with agency_scope(self.agency):
            return page_once(
                request,
                agency=self.agency,
                run=lambda: render_now(handle(request, *args, **kwargs)),
            )

    def get_context_data(self, **kwargs):
        kwargs.setdefault("agency", self.agency)
        kwargs.setdefault("membership", self.membership)
        return super().get_context_data(**kwargs)


class StaffViewMixin(AgencyViewMixin):
    allowed_roles = STAFF_ROLES


class AgencyJob(Task):
    """Base for jobs that act in one agency.

    Queue with `job.delay(agency_id=..., ...)`; the job body receives `agency` (the loaded
    Agency) and runs inside its scope, so its queries are fenced exactly as a request's.
    """

    # Callers pass agency_id where the body takes agency, so Celery's own argument check
    # would refuse every call; apply_async checks the arguments against the body instead.
    typing = False

    def apply_async(self, args=None, kwargs=None, **options):
        kwargs = dict(kwargs or {})
        if not isinstance(kwargs.get("agency_id"), int):
            raise TypeError(f"{self.name} must be queued with agency_id=<int>")
        others = {key: value for key, value in kwargs.items() if key != "agency_id"}
        inspect.signature(self.run).bind(*(args or ()), agency=None, **others)
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, agency_id: int, **kwargs):
        agency = Agency.objects.get(pk=agency_id)
        with agency_scope(agency):
            return super().__call__(*args, agency=agency, **kwargs)
