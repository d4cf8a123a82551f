import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from contracts.models import ContractStatus, Service, ServiceContract
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import (
    CategoryFactory,
    ContractFactory,
    LineFactory,
    ServiceFactory,
    TermsFactory,
)
from tests.factories import ClientFactory


@pytest.fixture
def admin_http(member, signed_in):
    return signed_in(member(Role.ADMIN).user)


@pytest.fixture
def admin_api(member):
    http = APIClient()
    http.force_authenticate(member(Role.ADMIN).user)
    return http


def test_admin_adds_a_service_with_a_request_form(agency, admin_http):
    category = CategoryFactory(agency=agency)
    url = reverse("service_create", args=[agency.slug])
    form = {
        "name": "Travel booking",
        "category": category.pk,
        "description": "",
        "default_pricing_model": "flat",
        "default_price": "60.00",
        "default_turnaround_hours": "48",
        "is_active": "on",
        "template-TOTAL_FORMS": "3",
        "template-INITIAL_FORMS": "0",
        "template-0-label": "Destination",
        "template-0-type": "text",
        "template-0-required": "on",
        "template-1-label": "Cabin",
        "template-1-type": "choice",
        "template-1-choices": "Economy, Business",
        "template-2-label": "",
        "template-2-type": "text",
    }
    response = admin_http.post(url, {**form, "template-1-choices": "Economy"})
    assert response.status_code == 200
    assert "two choices" in str(response.context["form"].errors)
    response = admin_http.post(url, form)
    assert response.status_code == 302
    with agency_scope(agency):
        service = Service.objects.get()
    assert service.default_price == 6000
    assert [(f["name"], f["choices"]) for f in service.request_template] == [
        ("destination", []),
        ("cabin", ["Economy", "Business"]),
    ]
    page = admin_http.get(reverse("service_update", args=[agency.slug, service.pk]))
    assert b"Economy, Business" in page.content


def test_admin_drafts_fills_and_activates_a_contract(agency, admin_http):
    client = ClientFactory(agency=agency, currency="EUR", time_zone="Europe/Berlin")
    service = ServiceFactory(agency=agency, name="Bookkeeping")
    response = admin_http.post(
        reverse("contract_create", args=[agency.slug]),
        {
            "client": client.pk,
            "name": "Books 2026",
            "starts_on": "2026-03-01",
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "14",
        },
    )
    assert response.status_code == 302
    with agency_scope(agency):
        contract = ServiceContract.objects.get()
    line_url = reverse("line_create", args=[agency.slug, contract.pk])
    bad = admin_http.post(
        line_url,
        {
            "service": service.pk,
            "pricing_model": "retainer",
            "retainer_fee": "800",
            "cap_behaviour": "block",
        },
    )
    assert bad.status_code == 200
    assert bad.context["form"].errors == {"included_minutes": ["Enter the hours included."]}
    response = admin_http.post(
        line_url,
        {
            "service": service.pk,
            "pricing_model": "retainer",
            "retainer_fee": "800.00",
            "included_minutes": "20",
            "rollover_cap_minutes": "5",
            "overage_rate": "56.25",
            "rounding_increment_minutes": "15",
            "cap_behaviour": "block",
        },
    )
    assert response.status_code == 302
    admin_http.post(reverse("contract_transition", args=[agency.slug, contract.pk, "active"]))
    page = admin_http.get(reverse("contract_detail", args=[agency.slug, contract.pk]))
    assert page.context["contract"].status == ContractStatus.ACTIVE
    assert "€800.00 / month for 20 h" in page.content.decode()


def test_list_and_detail_pages_cost_the_same_at_any_size(agency, admin_http, count_queries):
    ServiceFactory(agency=agency)
    contract = ContractFactory(agency=agency)
    LineFactory(agency=agency, contract=contract)
    urls = [
        reverse("service_list", args=[agency.slug]),
        reverse("contract_list", args=[agency.slug]),
        reverse("contract_detail", args=[agency.slug, contract.pk]),
    ]
    few = [count_queries(lambda u=u: admin_http.get(u)) for u in urls]
    for _ in range(49):
        ServiceFactory(agency=agency)
        line = LineFactory(agency=agency, contract=contract)
        TermsFactory(
            agency=agency, line=line, effective_from=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
        )
        ContractFactory(agency=agency)
    many = [count_queries(lambda u=u: admin_http.get(u)) for u in urls]
    assert many == few


def test_a_client_member_reads_only_their_own_live_contracts(agency, member, signed_in):
    mine = member(Role.CLIENT)
    live = ContractFactory(agency=agency, client=mine.client, status="active", name="Ours")
    LineFactory(agency=agency, contract=live)
    ContractFactory(agency=agency, client=mine.client, name="Internal draft")
    ContractFactory(agency=agency, status="active", name="Someone else's")
    page = signed_in(mine.user).get(reverse("our_contracts", args=[agency.slug])).content
    assert b"Ours" in page
    assert b"Internal draft" not in page and b"Someone else" not in page

    http = APIClient()
    http.force_authenticate(mine.user)
    body = http.get(reverse("api:contract-list", args=[agency.slug])).json()
    assert [c["name"] for c in body["results"]] == ["Ours"]
    other = ContractFactory(agency=agency, status="active")
    assert http.get(reverse("api:contract-detail", args=[agency.slug, other.pk])).status_code == 404
    response = http.post(
        reverse("api:contract-transition", args=[agency.slug, live.pk]),
        {"to": "ended"},
        format="json",
    )
    assert response.status_code == 403


def test_the_contract_api_end_to_end(agency, admin_api):
    client = ClientFactory(agency=agency, currency="GBP")
    service = ServiceFactory(agency=agency)
    base = reverse("api:contract-list", args=[agency.slug])
    response = admin_api.post(
        base,
        {
            "client": client.pk,
            "name": "Support",
            "starts_on": "2026-03-01",
            "billing_cadence": "weekly",
            "collection_method": "charge_automatically",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    contract = response.json()
    assert contract["currency"] == "GBP" and contract["status"] == "draft"

    lines = reverse("api:contract-lines", args=[agency.slug, contract["id"]])
    response = admin_api.post(
        lines, {"service": service.pk, "pricing_model": "hourly"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "terms_incomplete"
    response = admin_api.post(
        lines,
        {
            "service": service.pk,
            "pricing_model": "hourly",
            "hourly_rate": 4500,
            "rounding_increment_minutes": 15,
            "minimum_minutes": 30,
        },
        format="json",
    )
    assert response.status_code == 201

    transition = reverse("api:contract-transition", args=[agency.slug, contract["id"]])
    response = admin_api.post(transition, {"to": "paused"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "contract_transition_invalid")
    response = admin_api.post(transition, {"to": "active"}, format="json")
    assert response.json()["status"] == "active"
    assert response.json()["lines"][0]["terms"][0]["hourly_rate"] == 4500

    detail = reverse("api:contract-detail", args=[agency.slug, contract["id"]])
    response = admin_api.patch(detail, {"billing_cadence": "monthly"}, format="json")
    assert response.json()["code"] == "contract_terms_frozen"


def test_a_service_of_another_agency_cannot_be_named(agency, other_agency, admin_api):
    contract = ContractFactory(agency=agency)
    foreign = ServiceFactory(agency=other_agency)
    response = admin_api.post(
        reverse("api:contract-lines", args=[agency.slug, contract.pk]),
        {"service": foreign.pk, "pricing_model": "flat", "flat_fee": 100},
        format="json",
    )
    assert response.status_code == 400
    assert "service" in response.json()["extra"]["fields"]


def test_api_lists_cost_the_same_at_any_size(agency, admin_api, count_queries):
    contract = ContractFactory(agency=agency)
    LineFactory(agency=agency, contract=contract)
    urls = [
        reverse("api:contract-list", args=[agency.slug]),
        reverse("api:service-list", args=[agency.slug]),
        reverse("api:category-list", args=[agency.slug]),
    ]
    few = [count_queries(lambda u=u: admin_api.get(u)) for u in urls]
    for _ in range(49):
        other = ContractFactory(agency=agency)
        LineFactory(agency=agency, contract=other)
        CategoryFactory(agency=agency)
    many = [count_queries(lambda u=u: admin_api.get(u)) for u in urls]
    assert many == few
