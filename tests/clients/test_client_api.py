import pytest
from django.urls import reverse

from clients.models import Client
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.clients.factories import ClientFactory
from tests.factories import MembershipFactory

SHAPE = {
    "id",
    "name",
    "status",
    "billing_email",
    "time_zone",
    "currency",
    "stripe_customer_id",
    "manual",
    "manual_html",
    "manual_updated_at",
    "manual_updated_by",
    "member_count",
    "created_at",
}


def list_url(agency):
    return reverse("api:client-list", args=[agency.slug])


def detail_url(agency, client):
    return reverse("api:client-detail", args=[agency.slug, client.pk])


def test_staff_list_clients_with_filters(agency, member, api):
    http = api(member(Role.ADMIN).user)
    acme = ClientFactory(agency=agency, name="Acme", with_manual=True)
    ClientFactory(agency=agency, name="Dormant", inactive=True)
    MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)

    body = http.get(list_url(agency)).json()
    assert body["count"] == 2
    first = body["results"][0]
    assert set(first) == SHAPE
    assert first["name"] == "Acme" and first["member_count"] == 1
    assert first["manual"].startswith("# Acme house rules")
    assert "<h1>Acme house rules</h1>" in first["manual_html"]

    names = lambda **q: [c["name"] for c in http.get(list_url(agency), q).json()["results"]]  # noqa: E731
    assert names(status="inactive") == ["Dormant"]
    assert names(search="acm") == ["Acme"]
    response = http.get(list_url(agency), {"status": "paused"})
    assert response.status_code == 400
    assert response.json()["code"] == "client_status_invalid"


def test_staff_create_a_client(agency, member, api):
    admin = member(Role.ADMIN).user
    http = api(admin)
    response = http.post(
        list_url(agency),
        {"name": "Acme", "currency": "eur", "manual": "Be **kind**", "stripe_customer_id": "x"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["currency"] == "EUR"
    assert body["time_zone"] == agency.time_zone  # the agency's default
    assert body["status"] == "active" and body["member_count"] == 0
    assert body["stripe_customer_id"] == ""  # read-only: ignored on input
    assert body["manual_html"] == "<p>Be <strong>kind</strong></p>"
    assert body["manual_updated_by"] == admin.pk


def test_bad_input_is_a_400_with_a_code_and_saves_nothing(agency, member, api):
    http = api(member(Role.OWNER).user)
    ClientFactory(agency=agency, name="Acme")

    response = http.post(list_url(agency), {"name": "Acme", "currency": "USD"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "message": "There is already a client called “Acme”.",
        "code": "client_name_taken",
        "extra": {"field": "name"},
    }

    response = http.post(list_url(agency), {"name": "B", "time_zone": "Mars/Base"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["extra"]["field"] == "time_zone"

    response = http.post(list_url(agency), {"name": "B", "currency": "XXQ"}, format="json")
    assert response.json()["extra"]["field"] == "currency"

    response = http.post(list_url(agency), {"name": "", "status": "gone"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"name", "status"}

    with agency_scope(agency):
        assert list(Client.objects.values_list("name", flat=True)) == ["Acme"]


def test_staff_patch_details_and_manual(agency, member, api):
    admin = member(Role.ADMIN).user
    http = api(admin)
    client = ClientFactory(agency=agency, name="Acme")
    response = http.patch(
        detail_url(agency, client),
        {"status": "inactive", "manual": "<script>x()</script>## Tone", "id": 999},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == client.pk and body["status"] == "inactive"
    assert body["manual_updated_by"] == admin.pk
    assert "<script" not in body["manual_html"]
    with agency_scope(agency):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions == {"client.updated", "client.manual_updated"}


def test_a_failed_patch_changes_nothing(agency, member, api):
    http = api(member(Role.ADMIN).user)
    ClientFactory(agency=agency, name="Globex")
    client = ClientFactory(agency=agency, name="Acme")
    response = http.patch(
        detail_url(agency, client), {"name": "Globex", "manual": "New"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "client_name_taken"
    response = http.patch(
        detail_url(agency, client), {"manual": "x" * 50_001, "name": "Acme 2"}, format="json"
    )
    assert response.status_code == 400
    with agency_scope(agency):
        stored = Client.objects.get(pk=client.pk)
        assert (stored.name, stored.manual) == ("Acme", "")
        assert not AuditEvent.objects.exists()


def test_there_is_no_put_or_delete(agency, member, api):
    http = api(member(Role.OWNER).user)
    client = ClientFactory(agency=agency)
    assert http.put(detail_url(agency, client), {"name": "x"}, format="json").status_code == 405
    assert http.delete(detail_url(agency, client)).status_code == 405


def test_another_agencys_client_is_404(agency, other_agency, member, api):
    http = api(member(Role.ADMIN).user)
    foreign = ClientFactory(agency=other_agency)
    assert http.get(detail_url(agency, foreign)).status_code == 404
    response = http.patch(detail_url(agency, foreign), {"name": "Mine"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_assistants_and_clients_cannot_use_the_staff_endpoints(role, agency, member, api):
    membership = member(role)
    http = api(membership.user)
    client = membership.client or ClientFactory(agency=agency)
    assert http.get(list_url(agency)).status_code == 403
    assert http.post(list_url(agency), {"name": "X"}, format="json").status_code == 403
    assert http.get(detail_url(agency, client)).status_code == 403
    response = http.patch(detail_url(agency, client), {"manual": "hacked"}, format="json")
    assert response.status_code == 403
    with agency_scope(agency):
        assert Client.objects.get(pk=client.pk).manual == ""


def test_a_client_member_gets_only_their_own_client(agency, member, api):
    own = ClientFactory(agency=agency, name="Acme", with_manual=True)
    ClientFactory(agency=agency, name="Globex")
    person = member(Role.CLIENT, client=own).user
    response = api(person).get(reverse("api:our-client", args=[agency.slug]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == SHAPE
    assert body["id"] == own.pk and body["name"] == "Acme"
    assert "<table>" in body["manual_html"]
    assert body["member_count"] == 1


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.ASSISTANT])
def test_our_client_is_for_client_members_only(role, agency, member, api):
    response = api(member(role).user).get(reverse("api:our-client", args=[agency.slug]))
    assert response.status_code == 403


def test_client_list_endpoint_queries_do_not_grow_with_rows(agency, member, api, count_queries):
    http = api(member(Role.OWNER).user)
    url = list_url(agency)
    ClientFactory(agency=agency, with_manual=True)
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        client = ClientFactory(agency=agency, with_manual=True)
        MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    many = count_queries(lambda: http.get(url))
    assert http.get(url).json()["count"] == 50
    assert many == few


def test_the_schema_describes_the_client_endpoints(client, db):
    schema = client.get(reverse("api:schema")).content
    assert b"/api/v1/a/{agency_slug}/clients/{id}/" in schema
    assert b"/api/v1/a/{agency_slug}/our-client/" in schema
    assert b"manual_html" in schema
