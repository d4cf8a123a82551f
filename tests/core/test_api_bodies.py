"""The API reads bodies of bounded size and depth: past either bound is a 400 with the
error body, never a 500 or an unbounded read into memory."""

import json

import pytest
from django.urls import reverse

from core.api.parsers import MAX_JSON_DEPTH, json_depth
from core.roles import Role


def nested(depth: int) -> str:
    return '{"name": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.fixture
def clients_url(agency):
    return reverse("api:client-list", kwargs={"agency_slug": agency.slug})


@pytest.fixture
def owner_api(api, member):
    return api(member(Role.OWNER).user)


def test_json_depth_counts_containers():
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth(json.loads(nested(40))) == 40


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
def test_a_body_nested_too_deep_is_a_400(depth, owner_api, clients_url):
    response = owner_api.post(clients_url, nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "message": f"The JSON body is refused: it nests deeper than {MAX_JSON_DEPTH} levels.",
        "code": "body_too_deep",
        "extra": {},
    }


def test_a_body_within_the_depth_is_read_as_usual(owner_api, clients_url):
    response = owner_api.post(clients_url, nested(MAX_JSON_DEPTH), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"  # a list is not a name: the fields' error
    assert "name" in response.json()["extra"]["fields"]


def test_malformed_json_is_a_parse_error(owner_api, clients_url):
    response = owner_api.post(clients_url, '{"name": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = owner_api.post(clients_url, b"\xff\xfe", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", json.dumps({"name": "Acme", "padding": "x" * 5_000})),
        ("application/x-www-form-urlencoded", "name=Acme&padding=" + "x" * 5_000),
    ],
)
def test_a_body_past_the_size_bound_is_a_400(content_type, body, owner_api, clients_url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4_000
    response = owner_api.post(clients_url, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json() == {
        "message": "The body is larger than 4000 bytes.",
        "code": "body_too_large",
        "extra": {},
    }
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = owner_api.post(clients_url, body, content_type=content_type)
    assert response.status_code == 201


def test_a_multipart_body_past_django_s_bound_is_a_400(owner_api, clients_url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4_000
    body = {"name": "Acme", "padding": "x" * 5_000}
    response = owner_api.post(clients_url, body, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "body_too_large"
