"""The API's way into one agency (the pages' is accounts.access)."""

from contextlib import ExitStack

from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from accounts.selectors import membership_for
from core.roles import ALL_ROLES, STAFF_ROLES, role_refusal
from core.tenancy import agency_scope
from core.views import render_now


class AgencyAPIMixin:
    """Base of every endpoint under /api/v1/a/<agency_slug>/.

    After DRF has authenticated the request, resolves the agency from the URL, checks the
    membership and role, and runs the handler (and renders the response) in the agency's
    scope. A stranger and an unknown slug get the same 404.
    """

    allowed_roles: frozenset[str] = ALL_ROLES
    # Roles that may use the unsafe methods (POST, PATCH, DELETE); all allowed roles if None.
    write_roles: frozenset[str] | None = None

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as self._scope_stack:
            return render_now(super().dispatch(request, *args, **kwargs))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)

        try:
            membership = membership_for(user=request.user, agency_slug=kwargs["agency_slug"])
        except Http404:
            raise exceptions.NotFound("No such agency.") from None
        allowed = self.roles_for(request.method)
        if membership.role not in allowed:
            raise exceptions.PermissionDenied(
                role_refusal(membership.role, allowed, doing="use this endpoint")
            )
        self.agency = request.agency = membership.agency
        self.membership = request.membership = membership
        self._scope_stack.enter_context(agency_scope(self.agency))

    @classmethod
    def roles_for(cls, method: str) -> frozenset[str]:
        if method in SAFE_METHODS or cls.write_roles is None:
            return cls.allowed_roles
        return cls.write_roles & cls.allowed_roles

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["agency"] = getattr(self, "agency", None)
        return context


class AgencyAPIView(AgencyAPIMixin, APIView):
    pass


class StaffAPIMixin(AgencyAPIMixin):
    allowed_roles = STAFF_ROLES
