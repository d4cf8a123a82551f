"""OPTIONS on every API route, as every role, says what the route takes: never a 500."""

import pytest
from django.urls import reverse

from core.roles import Role
from tests.tasks.factories import TaskFactory
from tests.test_isolation import ROUTES, route_id

API_ROUTES = [r for r in ROUTES if r.is_api]


@pytest.mark.parametrize("route", API_ROUTES, ids=route_id)
def test_options_answers_for_every_role(route, agency, member, api):
    task = TaskFactory(agency=agency)  # so that tasks/1/... may name a real row
    for role in Role:
        http = api(member(role).user)
        ids = {k: agency.slug if k == "agency_slug" else task.pk for k in route.kwargs}
        url = reverse(route.name, kwargs=ids)
        response = http.options(url)
        assert response.status_code < 500, f"{role} OPTIONS {url}"
        if response.status_code == 200 and response["Content-Type"] == "application/json":
            assert "name" in response.json(), f"{role} OPTIONS {url}"
