from datetime import UTC, datetime

import pytest
from django.urls import reverse

from clients.models import Client
from core.roles import Role
from core.tenancy import agency_scope
from tests.clients.factories import ClientFactory
from tests.factories import InvitationFactory, MembershipFactory


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


# --- The client pages added with status, the client page, editing and the manual ---------

STAFF_PAGES = ["client_detail", "client_update", "client_manual_update"]


def test_list_shows_active_clients_by_default_and_filters(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    url = reverse("client_list", args=[agency.slug])
    active = ClientFactory(agency=agency, name="Acme", billing_email="pay@acme.test")
    ClientFactory(agency=agency, name="Dormant Co", inactive=True)
    ClientFactory(agency=agency, name="Globex", billing_email="ap@globex.test")

    def names(**params):
        response = http.get(url, params)
        assert response.status_code == 200
        return [c.name for c in response.context["clients"]]

    assert names() == ["Acme", "Globex"]
    assert names(status="inactive") == ["Dormant Co"]
    assert names(status="all") == ["Acme", "Dormant Co", "Globex"]
    assert names(q="glob") == ["Globex"]
    assert names(q="acme.test") == ["Acme"]  # billing e-mail matches too
    assert names(q="co", status="all") == ["Dormant Co"]
    assert names(status="nonsense") == ["Acme", "Globex"]  # bad input: the default, no 500
    detail = reverse("client_detail", args=[agency.slug, active.pk])
    assert f'href="{detail}"'.encode() in http.get(url).content
    assert b"No clients match these filters." in http.get(url, {"q": "zzz"}).content


def test_list_with_filters_keeps_a_flat_query_count(agency, member, signed_in, count_queries):
    http = signed_in(member(Role.OWNER).user)
    url = reverse("client_list", args=[agency.slug]) + "?status=all&q=business"
    ClientFactory(agency=agency)
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        ClientFactory(agency=agency)
    many = count_queries(lambda: http.get(url))
    assert len(http.get(url).context["clients"]) == 50
    assert many == few


def test_adding_a_client_leads_to_its_page(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    data = {"name": "Acme", "time_zone": "Europe/Paris", "currency": "EUR"}
    response = http.post(reverse("client_create", args=[agency.slug]), data)
    with agency_scope(agency):
        client = Client.objects.get(name="Acme")
    assert response["Location"] == reverse("client_detail", args=[agency.slug, client.pk])


def test_the_client_page_shows_details_people_manual_and_contracts(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    client = ClientFactory(
        agency=agency,
        name="Acme",
        manual="# House rules\n\n<script>alert(1)</script>\n\n- Reply **fast**",
    )
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).user
    gone = MembershipFactory(agency=agency, role=Role.CLIENT, client=client, is_active=False).user
    other = MembershipFactory(agency=agency, role=Role.CLIENT).user
    InvitationFactory(agency=agency, role=Role.CLIENT, client=client, email="new@acme.test")

    response = http.get(reverse("client_detail", args=[agency.slug, client.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "America/New_York" in html and "USD" in html
    assert person.email in html
    assert gone.email not in html and other.email not in html
    assert "new@acme.test" in html
    invite = (
        reverse("invitation_create", args=[agency.slug]) + f"?role=client&amp;client={client.pk}"
    )
    assert invite in html
    assert "<h1>House rules</h1>" in html and "<strong>fast</strong>" in html
    assert "<script>alert" not in html
    assert "<h2>Contracts</h2>" in html
    assert "No contracts yet." in html


def test_the_client_page_keeps_a_flat_query_count(agency, member, signed_in, count_queries):
    http = signed_in(member(Role.OWNER).user)
    client = ClientFactory(agency=agency, with_manual=True)
    url = reverse("client_detail", args=[agency.slug, client.pk])
    MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    many = count_queries(lambda: http.get(url))
    assert len(http.get(url).context["client"].active_members) == 50
    assert many == few


def test_the_invitation_form_preselects_the_client(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    client = ClientFactory(agency=agency)
    url = reverse("invitation_create", args=[agency.slug])
    response = http.get(url, {"role": "client", "client": client.pk})
    assert response.context["form"].initial == {"role": "client", "client": client.pk}
    html = response.content.decode()
    # A search field, not a select of every client: the chosen one's id and name are kept.
    assert f'<input type="hidden" name="client" value="{client.pk}"' in html
    assert f'name="client_search" id="id_client" value="{client.name}"' in html
    assert http.get(url, {"role": "client", "client": "x'"}).status_code == 200


def test_staff_edit_a_client_with_clear_errors(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    ClientFactory(agency=agency, name="Globex")
    client = ClientFactory(agency=agency, name="Acme")
    url = reverse("client_update", args=[agency.slug, client.pk])
    response = http.get(url)
    assert response.context["form"].initial["name"] == "Acme"
    assert "stripe_customer_id" not in response.context["form"].fields

    data = {"name": "Globex", "time_zone": "Europe/Paris", "currency": "eur", "status": "active"}
    response = http.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "name": ["There is already a client called “Globex”."]
    }

    data = {**data, "name": "Acme Group", "status": "inactive", "stripe_customer_id": "cus_evil"}
    response = http.post(url, data)
    assert response["Location"] == reverse("client_detail", args=[agency.slug, client.pk])
    with agency_scope(agency):
        client.refresh_from_db()
    assert (client.name, client.currency, client.status) == ("Acme Group", "EUR", "inactive")
    assert client.stripe_customer_id == ""


def test_staff_write_the_manual_beside_a_cheat_sheet(agency, member, signed_in):
    admin = member(Role.ADMIN).user
    http = signed_in(admin)
    client = ClientFactory(agency=agency, name="Acme")
    url = reverse("client_manual_update", args=[agency.slug, client.pk])
    response = http.get(url)
    assert b"<textarea" in response.content and b"Formatting" in response.content

    response = http.post(url, {"manual": "## Tone\r\n\r\nFriendly, *never* formal."})
    assert response["Location"] == reverse("client_detail", args=[agency.slug, client.pk])
    with agency_scope(agency):
        client.refresh_from_db()
    assert client.manual == "## Tone\n\nFriendly, *never* formal."
    assert client.manual_updated_by == admin

    page = http.get(response["Location"]).content.decode()
    assert "<h2>Tone</h2>" in page and "<em>never</em>" in page
    assert "Last updated" in page and "(Europe/London)" in page  # the agency's zone


def test_another_agencys_client_is_not_found(agency, other_agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    foreign = ClientFactory(agency=other_agency)
    for name in STAFF_PAGES:
        assert http.get(reverse(name, args=[agency.slug, foreign.pk])).status_code == 404
    response = http.post(
        reverse("client_manual_update", args=[agency.slug, foreign.pk]), {"manual": "x"}
    )
    assert response.status_code == 404
    with agency_scope(other_agency):
        assert Client.objects.get(pk=foreign.pk).manual == ""


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_assistants_and_clients_cannot_reach_the_staff_pages(role, agency, member, signed_in):
    membership = member(role)
    http = signed_in(membership.user)
    client = membership.client or ClientFactory(agency=agency)
    assert http.get(reverse("client_list", args=[agency.slug])).status_code == 403
    assert http.get(reverse("client_create", args=[agency.slug])).status_code == 403
    for name in STAFF_PAGES:
        assert http.get(reverse(name, args=[agency.slug, client.pk])).status_code == 403
    response = http.post(
        reverse("client_manual_update", args=[agency.slug, client.pk]), {"manual": "hacked"}
    )
    assert response.status_code == 403
    with agency_scope(agency):
        assert Client.objects.get(pk=client.pk).manual == ""


def test_a_client_member_sees_only_their_own_client(agency, member, signed_in):
    own = ClientFactory(agency=agency, name="Acme", manual="Use the **blue** folder.")
    ClientFactory(agency=agency, name="Globex", manual="Globex secret")
    person = member(Role.CLIENT, client=own).user
    response = signed_in(person).get(reverse("our_account", args=[agency.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme" in html and "<strong>blue</strong>" in html
    assert "Globex" not in html
    assert f"/clients/{own.pk}/" not in html  # no links into the staff pages


def test_an_inactive_clients_people_can_still_read_their_account(agency, member, signed_in):
    own = ClientFactory(agency=agency, name="Acme", inactive=True, with_manual=True)
    person = member(Role.CLIENT, client=own).user
    response = signed_in(person).get(reverse("our_account", args=[agency.slug]))
    assert response.status_code == 200
    assert b"It is inactive" in response.content
    assert b"Acme house rules" in response.content


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.ASSISTANT])
def test_our_account_is_for_client_members_only(role, agency, member, signed_in):
    http = signed_in(member(role).user)
    assert http.get(reverse("our_account", args=[agency.slug])).status_code == 403


def test_manual_times_are_shown_in_the_viewers_zone(agency, member, signed_in):
    edited = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    client = ClientFactory(agency=agency, manual="Hi", manual_updated_at=edited)
    staff_page = signed_in(member(Role.ADMIN).user).get(
        reverse("client_detail", args=[agency.slug, client.pk])
    )
    assert b"1 Jul 2026, 13:00 (Europe/London)" in staff_page.content  # the agency's clock
    person = member(Role.CLIENT, client=client).user
    own_page = signed_in(person).get(reverse("our_account", args=[agency.slug]))
    assert b"1 Jul 2026, 08:00 (America/New_York)" in own_page.content  # the client's clock
