from django.urls import reverse

from clients.models import Client
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import ClientFactory, MembershipFactory


def test_admin_adds_a_client_with_clear_errors(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    url = reverse("client_create", args=[agency.slug])
    response = http.post(url, {"name": "Acme", "time_zone": "Mars/Base", "currency": "XXQ"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"time_zone", "currency"}

    data = {"name": "Acme", "time_zone": "Europe/Paris", "currency": "eur"}
    assert http.post(url, data).status_code == 302
    response = http.post(url, data)
    assert response.context["form"].errors == {"name": ["There is already a client called “Acme”."]}
    with agency_scope(agency):
        assert list(Client.objects.values_list("name", "currency")) == [("Acme", "EUR")]


def test_client_list_queries_do_not_grow_with_rows(agency, member, signed_in, count_queries):
    http = signed_in(member(Role.OWNER).user)
    url = reverse("client_list", args=[agency.slug])
    ClientFactory(agency=agency)
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        client = ClientFactory(agency=agency)
        MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    many = count_queries(lambda: http.get(url))
    assert http.get(url).content.count(b"<tr>") == 51  # header + 50 clients
    assert many == few


def test_team_page_queries_do_not_grow_with_rows(agency, member, signed_in, count_queries):
    http = signed_in(member(Role.OWNER).user)
    url = reverse("team", args=[agency.slug])
    few = count_queries(lambda: http.get(url))
    for _ in range(50):
        MembershipFactory(agency=agency, role=Role.CLIENT)
    many = count_queries(lambda: http.get(url))
    assert many == few
