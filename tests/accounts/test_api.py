from django.urls import reverse

from accounts.models import Invitation
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import ClientFactory, MembershipFactory


def test_token_authentication_and_me(agency, member, api):
    owner = member(Role.OWNER).user
    response = api(owner).get(reverse("api:me"))
    assert response.status_code == 200
    assert response.json()["memberships"][0]["agency"]["slug"] == agency.slug
    assert response.json()["memberships"][0]["role"] == "owner"


def test_anonymous_calls_get_401_in_the_common_error_shape(api, db):
    response = api().get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json() == {
        "message": "Authentication credentials were not provided.",
        "code": "not_authenticated",
        "extra": {},
    }


def test_a_bad_token_is_401(api, db):
    http = api()
    http.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert http.get(reverse("api:me")).status_code == 401


def test_the_agency_endpoint_shows_the_callers_role(agency, member, api):
    client_member = member(Role.CLIENT)
    response = api(client_member.user).get(reverse("api:agency-detail", args=[agency.slug]))
    assert response.json()["role"] == "client"
    assert response.json()["default_currency"] == agency.default_currency


def test_invitations_through_the_api(agency, member, api, django_capture_on_commit_callbacks):
    owner = member(Role.OWNER).user
    url = reverse("api:invitation-list", args=[agency.slug])
    http = api(owner)

    response = http.post(url, {"email": "nope", "role": "owner"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["extra"]["fields"]) == {"email", "role"}

    response = http.post(url, {"email": "c@x.test", "role": "client"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_client_required"

    client = ClientFactory(agency=agency)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(
            url, {"email": "c@x.test", "role": "client", "client": client.pk}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert http.get(url).json()["results"][0]["email"] == "c@x.test"


def test_a_client_of_another_agency_is_an_invalid_choice(agency, other_agency, member, api):
    owner = member(Role.OWNER).user
    foreign = ClientFactory(agency=other_agency)
    response = api(owner).post(
        reverse("api:invitation-list", args=[agency.slug]),
        {"email": "c@x.test", "role": "client", "client": foreign.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "client" in response.json()["extra"]["fields"]
    with agency_scope(agency):
        assert not Invitation.objects.exists()


def test_member_list_queries_do_not_grow_with_rows(agency, member, api, count_queries):
    owner = member(Role.OWNER).user
    http = api(owner)
    url = reverse("api:member-list", args=[agency.slug])
    few = count_queries(lambda: http.get(url))
    for _ in range(25):
        MembershipFactory(agency=agency, role=Role.ASSISTANT)
        MembershipFactory(agency=agency, role=Role.CLIENT)
    many = count_queries(lambda: http.get(url))
    assert http.get(url).json()["count"] == 51
    assert many == few


def test_the_schema_and_docs_are_served_without_a_cdn(client, db):
    schema = client.get(reverse("api:schema"))
    assert schema.status_code == 200
    assert b"/api/v1/a/{agency_slug}/invitations/" in schema.content
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content
