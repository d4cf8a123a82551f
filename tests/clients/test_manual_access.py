"""Which client manuals an assistant may read: those of clients whose work they may take."""

from django.urls import reverse

from core.tenancy import agency_scope
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory


def contract_for(agency, category, status="active", **kwargs):
    client = ClientFactory(agency=agency, manual="# Rules\n\nReply within the hour.")
    contract = ContractFactory(agency=agency, client=client, status=status, **kwargs)
    LineFactory(
        agency=agency, contract=contract, service=ServiceFactory(agency=agency, category=category)
    )
    return client, contract


def test_an_assistant_reads_the_manuals_of_clients_they_may_work_for(
    agency, signed_in, count_queries
):
    books = CategoryFactory(agency=agency)
    travel = CategoryFactory(agency=agency)
    me = AssistantProfileFactory(agency=agency, skills=[books])
    colleague = AssistantProfileFactory(agency=agency, skills=[books])

    skilled, _ = contract_for(agency, books)
    unskilled, _ = contract_for(agency, travel)
    paused, _ = contract_for(agency, books, status="paused")
    draft, _ = contract_for(agency, books, status="draft")
    theirs, theirs_contract = contract_for(agency, books)
    mine_by_name, mine_contract = contract_for(agency, travel)
    with agency_scope(agency):
        theirs_contract.dedicated.create(agency=agency, membership=colleague.membership)
        mine_contract.dedicated.create(agency=agency, membership=me.membership)

    http = signed_in(me.membership.user)
    listing = http.get(reverse("manual_list", args=[agency.slug]))
    assert [c.name for c in listing.context["clients"]] == sorted([skilled.name, mine_by_name.name])
    page = http.get(reverse("manual_view", args=[agency.slug, skilled.pk]))
    assert b"Reply within the hour." in page.content
    for hidden in (unskilled, paused, draft, theirs):
        response = http.get(reverse("manual_view", args=[agency.slug, hidden.pk]))
        assert response.status_code == 404, hidden.name


def test_the_manual_shelf_costs_the_same_at_any_size(agency, signed_in, count_queries):
    books = CategoryFactory(agency=agency)
    me = AssistantProfileFactory(agency=agency, skills=[books])
    contract_for(agency, books)
    http = signed_in(me.membership.user)
    url = reverse("manual_list", args=[agency.slug])
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        contract_for(agency, books)
    many = count_queries(lambda: http.get(url))
    assert len(http.get(url).context["clients"]) == 50
    assert many == few


def test_the_manual_api_shows_the_same_clients(agency, member):
    from rest_framework.test import APIClient

    books = CategoryFactory(agency=agency)
    me = AssistantProfileFactory(agency=agency, skills=[books])
    shown, _ = contract_for(agency, books)
    hidden, _ = contract_for(agency, CategoryFactory(agency=agency))
    http = APIClient()
    http.force_authenticate(me.membership.user)
    body = http.get(reverse("api:client-manual-list", args=[agency.slug])).json()
    assert [c["name"] for c in body["results"]] == [shown.name]
    assert "<h1>Rules</h1>" in body["results"][0]["manual_html"]
    url = reverse("api:client-manual-detail", args=[agency.slug, hidden.pk])
    assert http.get(url).status_code == 404
