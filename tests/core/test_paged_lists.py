"""Every list page and API list of clients, contracts, the team, assistants, who is on
shift, client manuals and an invoice's lines shows 50 rows a page, in a stable order (ties
broken by id), for the same number of queries with 1 row as with 200."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from accounts.models import Membership
from assistants.schedule import WEEKDAYS
from billing.views import CreditNoteForm
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.billing.test_invoice_pages import flat_line, make_invoice
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

ALWAYS = {day: [["00:00", "24:00"]] for day in WEEKDAYS}


@pytest.fixture
def owner(member):
    return member(Role.OWNER)


def add_clients(agency, n, **fields):
    return [ClientFactory(agency=agency, **fields) for _ in range(n)]


def add_contracts(agency, n):
    client = ClientFactory(agency=agency)
    for _ in range(n):
        ContractFactory(agency=agency, client=client)


def add_client_members(agency, n):
    for _ in range(n):
        MembershipFactory(agency=agency, role=Role.CLIENT)


def add_invitations(agency, n):
    for _ in range(n):
        InvitationFactory(agency=agency)


def add_assistants(agency, n):
    for _ in range(n):
        AssistantProfileFactory(agency=agency, working_hours=ALWAYS)


# name -> (how to add n rows, the page's URL name, the API list's URL name or None)
STAFF_LISTS = {
    "clients": (add_clients, "client_list", "api:client-list"),
    "contracts": (add_contracts, "contract_list", "api:contract-list"),
    "members": (add_client_members, "team", "api:member-list"),
    "invitations": (add_invitations, "team", "api:invitation-list"),
    "assistants": (add_assistants, "assistant_list", "api:assistant-list"),
    "on_shift": (add_assistants, "assistant_on_shift", "api:assistant-on-shift"),
}


def page_queries(http, url, count_queries):
    def get():
        response = http.get(url)
        assert response.status_code == 200, response.status_code
        get.response = response

    return count_queries(get), get.response


@pytest.mark.parametrize("kind", list(STAFF_LISTS))
def test_a_staff_list_costs_the_same_queries_for_1_row_and_200(
    kind, agency, owner, signed_in, api, count_queries
):
    add, page_name, api_name = STAFF_LISTS[kind]
    http, token_http = signed_in(owner.user), api(owner.user)
    page_url = reverse(page_name, args=[agency.slug])
    api_url = reverse(api_name, kwargs={"agency_slug": agency.slug})
    add(agency, 1)
    few_page, _ = page_queries(http, page_url, count_queries)
    few_api, _ = page_queries(token_http, api_url, count_queries)
    add(agency, 199)
    many_page, response = page_queries(http, page_url, count_queries)
    many_api, api_response = page_queries(token_http, api_url, count_queries)
    assert many_page == few_page
    assert many_api == few_api
    assert 'data-testid="pager"' in response.content.decode()
    assert len(api_response.json()["results"]) == 50


def test_the_client_manuals_cost_the_same_queries_for_1_client_and_200(
    agency, member, signed_in, api, count_queries
):
    skill = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=skill)
    assistant = AssistantProfileFactory(agency=agency, skills=[skill]).membership

    def add(n):
        for _ in range(n):
            contract = ContractFactory(
                agency=agency, client=ClientFactory(agency=agency), status="active"
            )
            LineFactory(agency=agency, contract=contract, service=service)

    http, token_http = signed_in(assistant.user), api(assistant.user)
    page_url = reverse("manual_list", args=[agency.slug])
    api_url = reverse("api:client-manual-list", kwargs={"agency_slug": agency.slug})
    add(1)
    few_page, _ = page_queries(http, page_url, count_queries)
    few_api, _ = page_queries(token_http, api_url, count_queries)
    add(199)
    many_page, response = page_queries(http, page_url, count_queries)
    many_api, api_response = page_queries(token_http, api_url, count_queries)
    assert (many_page, many_api) == (few_page, few_api)
    assert response.content.decode().count('class="card"') == 50
    assert len(api_response.json()["results"]) == 50


def test_the_contract_list_pages_through_every_contract_once_even_when_dates_tie(
    agency, owner, signed_in
):
    # 120 contracts that all start on one day: the id breaks the tie, so no contract is
    # shown twice or skipped at a page's edge.
    client = ClientFactory(agency=agency)
    contracts = [
        ContractFactory(agency=agency, client=client, starts_on=dt.date(2026, 1, 1))
        for _ in range(120)
    ]
    http = signed_in(owner.user)
    base = reverse("contract_list", args=[agency.slug])
    url, seen = base, []
    while url:
        html = http.get(url).content.decode()
        found = re.findall(r'href="/a/[^/]+/contracts/(\d+)/"', html)
        assert len(found) <= 50
        seen += [int(pk) for pk in found]
        following = re.search(r'<a href="(\?[^"]*)" rel="next">', html)
        url = base + following.group(1).replace("&amp;", "&") if following else None
    assert sorted(seen) == sorted(c.pk for c in contracts)
    assert len(seen) == len(set(seen))


def test_the_client_list_of_a_thousand_clients_stays_small(agency, owner, signed_in):
    with scopes_disabled():
        from clients.models import Client

        Client.objects.bulk_create(
            Client(
                agency=agency,
                name=f"Client number {n:04d} with a long trading name Ltd",
                billing_email=f"accounts-{n}@client-{n}.test",
                time_zone="America/New_York",
                currency="USD",
            )
            for n in range(1000)
        )
    response = signed_in(owner.user).get(reverse("client_list", args=[agency.slug]))
    assert response.status_code == 200
    assert len(response.content) < 150_000
    assert response.content.decode().count('data-testid="people"') == 50


def test_the_team_pages_members_and_invitations_each_on_their_own(agency, owner, signed_in):
    add_client_members(agency, 60)
    add_invitations(agency, 60)
    http = signed_in(owner.user)
    html = http.get(reverse("team", args=[agency.slug])).content.decode()
    members_table = html.split('data-testid="members"')[1].split("</table>")[0]
    invitations_table = html.split('data-testid="invitations"')[1].split("</table>")[0]
    assert members_table.count("<tr>") == 51  # the header and a page of people
    assert invitations_table.count("<tr>") == 51
    with scopes_disabled():
        assert Membership.objects.filter(agency=agency, is_active=True).count() == 61


# -- an invoice's lines -----------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["staff", "client"])
def test_an_invoice_page_costs_the_same_queries_for_1_line_and_200(
    viewer, agency, owner, member, signed_in, count_queries
):
    client_member = member(Role.CLIENT)
    line = flat_line(agency, client_member.client)
    small = make_invoice(agency, client_member.client, lines=1, line=line)
    large = make_invoice(agency, client_member.client, lines=200, line=line)
    if viewer == "staff":
        http, name = signed_in(owner.user), "invoice_detail"
    else:
        http, name = signed_in(client_member.user), "our_invoice_detail"
    few, _ = page_queries(http, reverse(name, args=[agency.slug, small.pk]), count_queries)
    many, response = page_queries(http, reverse(name, args=[agency.slug, large.pk]), count_queries)
    assert many == few
    html = response.content.decode()
    assert html.count('data-testid="invoice-line"') == 50
    # The totals are the whole invoice's: 200 lines of $25.00.
    assert "$5,000.00" in html
    if viewer == "staff":
        # the credit form offers the lines on the page, not all 200
        select = html.split('name="charge"')[1].split("</select>")[0]
        assert select.count("<option") == 51


def test_a_credit_may_name_a_line_from_another_page_of_the_invoice(agency, owner, signed_in):
    client = ClientFactory(agency=agency)
    invoice = make_invoice(agency, client, lines=60)
    other = make_invoice(agency, client, lines=1)
    with agency_scope(agency):
        last = invoice.charges.order_by("created_at", "pk").last()
        form = CreditNoteForm(
            {"charge": str(last.pk), "reason": "order_change", "memo": "Sorry"}, invoice=invoice
        )
        assert form.is_valid(), form.errors
        assert form.cleaned_data["charge"] == last.pk
        foreign = other.charges.get()
        form = CreditNoteForm(
            {"charge": str(foreign.pk), "reason": "order_change", "memo": "x"}, invoice=invoice
        )
        assert not form.is_valid() and "charge" in form.errors


def test_the_invoice_list_counts_lines_without_loading_them(
    agency, owner, signed_in, count_queries
):
    client = ClientFactory(agency=agency)
    line = flat_line(agency, client)
    make_invoice(agency, client, lines=1, line=line)
    http = signed_in(owner.user)
    url = reverse("invoice_list", args=[agency.slug])
    few, _ = page_queries(http, url, count_queries)
    make_invoice(agency, client, lines=200, line=line)
    many, response = page_queries(http, url, count_queries)
    assert many == few
    assert "<td>200</td>" in response.content.decode()
