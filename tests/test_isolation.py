"""The tenant-isolation matrix: every URL pattern of the project, classified and checked.

A pattern under /a/<agency_slug>/ or /api/v1/a/<agency_slug>/ is a tenant URL: it must be
built on the agency base classes, and for every method it answers, a member of another
agency and an unknown slug get 404, an anonymous caller is sent to log in (pages) or gets
401/403 (API), and a member whose role the view does not allow gets 403. Any other pattern
must be named in NON_TENANT below with how it treats an anonymous caller. A new URL that
fits neither fails here, so it is covered the day it is added.
"""

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.access import AgencyViewMixin
from accounts.api.access import AgencyAPIMixin
from core.roles import Role
from tests.factories import ClientFactory, UserFactory

# Non-tenant URLs by name (namespaced where they have one), with what an anonymous GET gets.
PUBLIC, LOGIN, API_AUTH, BY_TOKEN = "public", "login", "api-auth", "by-token"
# Called by another service (Stripe), proven by a signature: an anonymous POST without a
# valid one gets 400 and changes nothing; any other method gets 405.
WEBHOOK = "webhook"
NON_TENANT = {
    "home": PUBLIC,
    "healthz": PUBLIC,
    "agency_list": LOGIN,
    "agency_create": LOGIN,
    "api_token": LOGIN,
    "invitation_accept": BY_TOKEN,
    "api:root": API_AUTH,
    "api:me": API_AUTH,
    "api:schema": PUBLIC,
    "api:docs": PUBLIC,
    "stripe_webhook": WEBHOOK,
}
# The Django admin is platform-staff tooling (it sees every agency on purpose).
PLATFORM_ADMIN_NAMESPACE = "admin:"
# allauth's sign-in, sign-up, e-mail, password and two-factor pages, by where they are declared.
AUTH_URLCONF = "allauth."


@dataclass
class Route:
    name: str
    kwargs: tuple[str, ...]
    view: object
    module: str
    source: str  # the urlconf module that declared it
    namespace: str

    @property
    def view_class(self):
        return getattr(self.view, "cls", None) or getattr(self.view, "view_class", None)

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")

    def url(self, slug: str) -> str:
        sample = {k: slug if k == "agency_slug" else "1" for k in self.kwargs}
        return reverse(self.name, kwargs=sample)

    def methods(self) -> list[str]:
        actions = getattr(self.view, "actions", None)
        if actions:  # a DRF viewset route
            return [m.upper() for m in actions]
        allowed = getattr(self.view_class, "http_method_names", ["get", "post"])
        handlers = [
            m
            for m in ("get", "post", "put", "patch", "delete")
            if m in allowed and hasattr(self.view_class, m)
        ]
        return [m.upper() for m in handlers] or ["GET"]


def _kwarg_names(pattern) -> tuple[str, ...]:
    if hasattr(pattern, "converters") and pattern.converters:
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def all_routes(resolver=None, namespace="", inherited=(), source=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        kwargs = inherited + _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            urlconf = entry.urlconf_name
            inner = urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", source)
            yield from all_routes(entry, ns, kwargs, inner or source)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            module = getattr(entry.callback, "__module__", "")
            yield Route(name, kwargs, entry.callback, module, source, namespace)


ROUTES = list(all_routes())
TENANT_ROUTES = [r for r in ROUTES if "agency_slug" in r.kwargs]
OTHER_ROUTES = [r for r in ROUTES if "agency_slug" not in r.kwargs]


def route_id(route):
    return route.name or route.module


def test_every_pattern_is_classified():
    unclassified = [
        f"{r.name or '<unnamed>'} ({r.module})"
        for r in OTHER_ROUTES
        if r.name not in NON_TENANT
        and r.namespace != PLATFORM_ADMIN_NAMESPACE
        and not r.source.startswith(AUTH_URLCONF)
    ]
    assert not unclassified, f"URL patterns the isolation matrix cannot classify: {unclassified}"
    assert len(TENANT_ROUTES) >= 8  # the matrix really found the agency URLs


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_uses_the_agency_base_class(route):
    assert route.name, "every tenant URL needs a name so it can be checked"
    base = AgencyAPIMixin if route.is_api else AgencyViewMixin
    assert route.view_class is not None and issubclass(route.view_class, base), (
        f"{route.name} must be built on {base.__name__}"
    )


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_is_isolated(route, agency, other_agency, member, signed_in, client):
    stranger = member(Role.OWNER, agency=other_agency).user
    stranger_http = signed_in(stranger)
    for method in route.methods():
        call = method.lower()
        url = route.url(agency.slug)
        unknown = route.url("no-such-agency")

        response = getattr(stranger_http, call)(url)
        assert response.status_code == 404, f"{method} {url} as another agency's owner"
        response = getattr(stranger_http, call)(unknown)
        assert response.status_code == 404, f"{method} {unknown} for an unknown slug"

        response = getattr(client, call)(url)
        if route.is_api:
            assert response.status_code in (401, 403), f"anonymous {method} {url}"
        else:
            assert response.status_code == 302, f"anonymous {method} {url}"
            assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_checks_the_role(route, agency, member, signed_in):
    for role in Role:
        http = signed_in(member(role).user)
        for method in route.methods():
            roles_for = getattr(route.view_class, "roles_for", None)
            allowed = roles_for(method) if roles_for else route.view_class.allowed_roles
            response = getattr(http, method.lower())(route.url(agency.slug))
            if role in allowed:
                assert response.status_code != 403, f"{role} {method} {route.name}"
                if route.kwargs == ("agency_slug",) and method == "GET":
                    assert response.status_code == 200, f"{role} GET {route.name}"
            else:
                assert response.status_code == 403, f"{role} {method} {route.name}"


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if r.name in NON_TENANT and not r.kwargs], ids=route_id
)
def test_non_tenant_route_treats_anonymous_as_declared(route, client, db):
    response = client.get(reverse(route.name))
    expected = NON_TENANT[route.name]
    if expected == PUBLIC:
        assert response.status_code == 200
    elif expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    elif expected == API_AUTH:
        assert response.status_code in (401, 403)


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if NON_TENANT.get(r.name) == WEBHOOK], ids=route_id
)
def test_webhook_route_refuses_unsigned_calls(route, client, agency, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_isolation_matrix"  # so the signature is checked
    # The URL names its agency by slug, under a kwarg other than agency_slug.
    url = reverse(route.name, kwargs={k: agency.slug for k in route.kwargs})
    assert client.get(url).status_code == 405
    response = client.post(url, data=b"{}", content_type="application/json")
    assert response.status_code == 400
    response = client.post(
        url, data=b"{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=00"
    )
    assert response.status_code == 400


def test_invitation_link_with_a_bad_token_is_a_clear_400(client, db):
    response = client.get(reverse("invitation_accept", args=["not-a-token"]))
    assert response.status_code == 400
    assert b"not valid" in response.content


def test_platform_admin_is_for_platform_staff_only(client, agency, member, signed_in):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    owner = member(Role.OWNER).user  # an agency owner is not platform staff
    assert signed_in(owner).get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(
    "name",
    [
        "admin:accounts_membership_changelist",
        "admin:clients_client_changelist",
        "admin:core_auditevent_changelist",
        "admin:accounts_invitation_changelist",
    ],
)
def test_platform_staff_see_every_agency_in_the_admin(name, agency, other_agency, signed_in):
    ClientFactory(agency=agency)
    ClientFactory(agency=other_agency)
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert signed_in(staff).get(reverse(name)).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "admin:contracts_servicecontract_changelist",
        "admin:billing_charge_changelist",
        "admin:tasks_task_changelist",
        "admin:tasks_timeentry_changelist",
    ],
)
def test_platform_staff_read_billing_and_tasks_in_the_admin(name, signed_in, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert signed_in(staff).get(reverse(name)).status_code == 200
