"""Tax rates and a client's tax details through the staff pages and the API: checked,
audited, never a 500 or a half-written record; lists cost the same at any size; a
client's people see their own tax details."""

import pytest
from django.urls import reverse

from billing.models import ClientTaxRate, TaxRate
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import ClientFactory


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


@pytest.fixture
def admin_http(admin, signed_in):
    return signed_in(admin)


@pytest.fixture
def admin_api(admin, api):
    return api(admin)


def rates_url(agency):
    return reverse("tax_rate_list", args=[agency.slug])


def add(http, agency, **fields):
    data = {"display_name": "VAT", "percentage": "20", "inclusive": "false", **fields}
    return http.post(rates_url(agency), data)


def test_staff_add_change_and_archive_a_rate_through_the_pages(agency, admin, admin_http):
    response = add(admin_http, agency, percentage="19.5", country="de")
    assert response.status_code == 302
    with agency_scope(agency):
        rate = TaxRate.objects.get()
        assert (str(rate.percentage), rate.inclusive, rate.country) == ("19.5000", False, "DE")
        assert AuditEvent.objects.filter(action="tax_rate.created", actor=admin).exists()
    page = admin_http.get(rates_url(agency)).content.decode()
    assert "19.5%" in page and 'data-testid="tax-rate"' in page

    edit = reverse("tax_rate_edit", args=[agency.slug, rate.pk])
    assert admin_http.get(edit).status_code == 200
    renamed = admin_http.post(
        edit, {"display_name": "MwSt", "percentage": "19.5", "inclusive": "false"}
    )
    assert renamed.status_code == 302
    raised = admin_http.post(
        edit, {"display_name": "MwSt", "percentage": "21", "inclusive": "false"}
    )
    assert raised.status_code == 302
    with agency_scope(agency):
        rate.refresh_from_db()
        successor = TaxRate.objects.get(replaces=rate)
        assert rate.display_name == "MwSt" and rate.archived_at is not None
        assert successor.percentage == 21 and successor.archived_at is None
    archive = reverse("tax_rate_archive", args=[agency.slug, successor.pk])
    assert admin_http.post(archive).status_code == 302
    with agency_scope(agency):
        successor.refresh_from_db()
        assert successor.archived_at is not None
        assert AuditEvent.objects.filter(action="tax_rate.archived").count() == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"percentage": "101"}, "from 0 to 100"),
        ({"percentage": "-0.5"}, "from 0 to 100"),
        ({"percentage": "7.12345"}, "at most 4 decimals"),
        ({"percentage": "twenty"}, "as a number"),
        ({"percentage": "NaN"}, "from 0 to 100"),
        ({"percentage": "1e400"}, "from 0 to 100"),
        ({"display_name": " "}, "This field is required"),
        ({"country": "D1"}, "two-letter code"),
        ({"inclusive": "maybe"}, "Select a valid choice"),
    ],
)
def test_a_bad_rate_is_a_form_error_and_nothing_is_written(agency, admin_http, fields, message):
    response = add(admin_http, agency, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    with agency_scope(agency):
        assert not TaxRate.objects.exists()


def test_the_api_makes_lists_changes_and_archives_rates(agency, admin_api):
    url = reverse("api:tax-rate-list", args=[agency.slug])
    made = admin_api.post(
        url, {"display_name": "GST", "percentage": "10", "inclusive": True}, format="json"
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["percentage"], body["inclusive"], body["archived_at"]) == ("10", True, None)
    detail = reverse("api:tax-rate-detail", args=[agency.slug, body["id"]])
    changed = admin_api.put(
        detail, {"display_name": "GST", "percentage": "15", "inclusive": True}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["replaces"] == body["id"]
    listed = admin_api.get(url).json()
    assert [(r["percentage"], r["archived_at"] is None) for r in listed["results"]] == [
        ("15", True),
        ("10", False),
    ]
    archive = reverse("api:tax-rate-archive", args=[agency.slug, changed.json()["id"]])
    assert admin_api.post(archive).json()["archived_at"] is not None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"display_name": "VAT", "percentage": "100.5"}, "tax_percentage_out_of_range"),
        ({"display_name": "VAT", "percentage": "5.00001"}, "tax_percentage_too_precise"),
        ({"display_name": "VAT", "percentage": "five"}, "tax_percentage_invalid"),
        ({"display_name": "VAT", "percentage": "5", "country": "Germany"}, None),
        ({"percentage": "5"}, None),
    ],
)
def test_a_bad_rate_in_the_api_is_a_400_with_a_reason(agency, admin_api, body, code):
    response = admin_api.post(reverse("api:tax-rate-list", args=[agency.slug]), body, format="json")
    assert response.status_code == 400
    if code:
        assert response.json()["code"] == code
    with agency_scope(agency):
        assert not TaxRate.objects.exists()


def test_tax_rate_lists_cost_the_same_at_any_size(agency, admin_http, admin_api, count_queries):
    with agency_scope(agency):
        first = TaxRate.objects.create(agency=agency, display_name="VAT", percentage=20)
    urls = [
        (admin_http, rates_url(agency)),
        (admin_api, reverse("api:tax-rate-list", args=[agency.slug])),
    ]
    few = [count_queries(lambda h=h, u=u: h.get(u)) for h, u in urls]
    with agency_scope(agency):
        for n in range(30):
            TaxRate.objects.create(
                agency=agency, display_name=f"Rate {n}", percentage=n, replaces=first
            )
    many = [count_queries(lambda h=h, u=u: h.get(u)) for h, u in urls]
    assert many == few


# -- a client's tax details ------------------------------------------------------------------


def tax_url(agency, client):
    return reverse("client_tax", args=[agency.slug, client.pk])


def test_staff_set_a_clients_tax_details_and_its_people_see_them(
    agency, admin, admin_http, member, signed_in
):
    with agency_scope(agency):
        vat = TaxRate.objects.create(agency=agency, display_name="VAT", percentage=19)
    person = member(Role.CLIENT)
    client = person.client
    assert admin_http.get(tax_url(agency, client)).status_code == 200
    response = admin_http.post(
        tax_url(agency, client),
        {
            "tax_status": "none",
            "tax_id_type": "eu_vat",
            "tax_id": "de 123 456 789",
            "tax_rates": [str(vat.pk)],
        },
    )
    assert response.status_code == 302
    with agency_scope(agency):
        client.refresh_from_db()
        assert (client.tax_id_type, client.tax_id) == ("eu_vat", "DE123456789")
        assert list(ClientTaxRate.objects.values_list("tax_rate_id", flat=True)) == [vat.pk]
        assert AuditEvent.objects.filter(action="client.tax_updated", actor=admin).exists()
    page = signed_in(person.user).get(reverse("our_invoices", args=[agency.slug]))
    box = page.content.decode()
    assert 'data-testid="our-tax-details"' in box
    assert "DE123456789" in box and "VAT 19% (excl.)" in box and "EU VAT number" in box


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tax_id_type": "eu_vat", "tax_id": "123"}, "not a valid EU VAT number"),
        ({"tax_id_type": "gb_vat", "tax_id": "GB12"}, "not a valid UK VAT number"),
        ({"tax_id_type": "us_ein", "tax_id": "123456789"}, "not a valid US EIN"),
        ({"tax_id_type": "au_abn", "tax_id": "1234"}, "not a valid Australian ABN"),
        ({"tax_id_type": "eu_vat", "tax_id": ""}, "Give the tax id"),
        ({"tax_id_type": "xx_tin", "tax_id": "1"}, "Select a valid choice"),
        ({"tax_status": "sometimes"}, "Select a valid choice"),
        ({"tax_rates": ["999999"]}, "Select a valid choice"),
    ],
)
def test_a_bad_tax_id_is_a_form_error_and_nothing_changes(agency, admin_http, fields, message):
    client = ClientFactory(agency=agency, tax_id="printed only")
    data = {"tax_status": "reverse", "tax_id_type": "", "tax_id": "", **fields}
    response = admin_http.post(tax_url(agency, client), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    with agency_scope(agency):
        client.refresh_from_db()
    assert (client.tax_status, client.tax_id) == ("none", "printed only")


def test_the_api_reads_and_sets_a_clients_tax_details(agency, admin_api):
    client = ClientFactory(agency=agency)
    with agency_scope(agency):
        vat = TaxRate.objects.create(agency=agency, display_name="VAT", percentage=20)
        archived = TaxRate.objects.create(
            agency=agency, display_name="Old", percentage=17, archived_at="2026-01-01T00:00Z"
        )
    url = reverse("api:client-tax", args=[agency.slug, client.pk])
    assert admin_api.get(url).json() == {
        "tax_status": "none",
        "tax_id_type": "",
        "tax_id": "",
        "tax_rates": [],
    }
    body = {"tax_status": "reverse", "tax_id_type": "gb_vat", "tax_id": "GB123456789"}
    saved = admin_api.put(url, {**body, "tax_rates": [vat.pk]}, format="json")
    assert saved.status_code == 200 and saved.json() == {**body, "tax_rates": [vat.pk]}
    refused = admin_api.put(url, {**body, "tax_rates": [archived.pk]}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "tax_rates_invalid"
    bad_id = admin_api.put(url, {**body, "tax_id": "GB1"}, format="json")
    assert bad_id.status_code == 400 and bad_id.json()["code"] == "tax_id_invalid"
    junk = admin_api.put(url, {"tax_status": "reverse", "tax_rates": "all"}, format="json")
    assert junk.status_code == 400


def test_a_tax_id_typed_on_the_client_form_is_printed_only_until_its_kind_is_set(agency, admin):
    from clients.services import client_update

    client = ClientFactory(agency=agency, tax_id="DE123456789", tax_id_type="eu_vat")
    with agency_scope(agency):
        client = client_update(agency=agency, actor=admin, client=client, tax_id="DE 99")
    assert (client.tax_id, client.tax_id_type, client.stripe_tax_synced) == ("DE 99", "", False)
