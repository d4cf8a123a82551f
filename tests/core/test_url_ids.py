"""Every URL that names a row by id takes only ids of their shape: anything else is no
route at all (404), for pages and API alike, and never reaches a query."""

import re

import pytest
from django.urls import Resolver404, resolve, reverse

from core.roles import Role
from tests.test_isolation import PLATFORM_ADMIN_NAMESPACE, ROUTES, route_id

ID_KWARG = re.compile(r"^(pk|id|\w+_pk|\w+_id)$")
# The Django admin is Django's own (it answers a bad id itself) and platform staff's only.
ID_ROUTES = [
    r
    for r in ROUTES
    if r.name
    and r.namespace != PLATFORM_ADMIN_NAMESPACE
    and any(ID_KWARG.match(k) for k in r.kwargs)
]
# Our own ids are positive integers; none of these is one (the last is an Arabic-Indic 1).
NOT_IDS = ["abc", "1.5", "-1", "1e3", "0x1", "1%20", "%EF%BC%91", "\u0661"]
SAMPLE = "73519"  # stands for each id while the URL is built, then is swapped out


def url_with(route, slug: str, value: str) -> str:
    """The route's URL in the agency `slug`, with `value` for each of its ids."""
    sample = {
        k: slug if k == "agency_slug" else SAMPLE if ID_KWARG.match(k) else "x"
        for k in route.kwargs
    }
    return reverse(route.name, kwargs=sample).replace(SAMPLE, value)


def test_the_matrix_finds_the_id_routes():
    names = {r.name for r in ID_ROUTES}
    assert {"client_detail", "api:client-detail", "api:task-start", "api:invoice-void"} <= names


@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_an_id_of_another_shape_matches_no_route(route):
    for value in NOT_IDS:
        url = url_with(route, "some-agency", value)
        with pytest.raises(Resolver404):
            match = resolve(url)
            pytest.fail(f"{url} resolved to {match.view_name} with {match.kwargs}")


@pytest.mark.parametrize("route", [r for r in ID_ROUTES if "agency_slug" in r.kwargs], ids=route_id)
def test_a_member_asking_for_a_non_number_or_an_absurd_one_gets_no_server_error(
    route, agency, member, signed_in
):
    answered = getattr(route.view_class, "http_method_names", None) or []
    for method in [m for m in route.methods() if m.lower() in answered]:
        roles_for = getattr(route.view_class, "roles_for", None)
        allowed = roles_for(method) if roles_for else route.view_class.allowed_roles
        role = next(r for r in Role if r in allowed)  # one the view lets through
        http = signed_in(member(role).user)
        call = getattr(http, method.lower())
        for value in ["abc", "1.5", "-1"]:
            url = url_with(route, agency.slug, value)
            assert call(url).status_code == 404, f"{role} {method} {url}"
        # Of the right shape but past any column's range: no row, never an overflow. A
        # write may first be refused for its (empty) body.
        for value in [str(2**63), str(10**30)]:
            url = url_with(route, agency.slug, value)
            status = call(url).status_code
            assert status == 404 if method == "GET" else status < 500, f"{role} {method} {url}"
