"""Plans: contract templates staff build, publish and archive, and start contracts from
through the contract services, on pages and through the API."""

import pytest
from django.urls import reverse

from contracts.models import ContractStatus, ContractTerms, ServiceContract
from contracts.plans import Plan, PlanLine, PlanStatus
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import ServiceFactory
from tests.factories import ClientFactory

RETAINER = {
    "pricing_model": "retainer",
    "retainer_fee": "800.00",
    "included_minutes": "20",
    "rollover_cap_minutes": "5",
    "overage_rate": "50.00",
    "rounding_increment_minutes": "15",
    "cap_behaviour": "block",
}


def url(name, agency, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


@pytest.fixture
def admin(agency, member, signed_in):
    return signed_in(member(Role.ADMIN).user)


def make_plan(admin, agency, **changes) -> Plan:
    response = admin.post(
        url("plan_create", agency),
        {
            "name": "Twenty hours",
            "description": "For founders with a busy inbox.",
            "currency": agency.default_currency,
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "14",
            **changes,
        },
    )
    assert response.status_code == 302, response.content
    with agency_scope(agency):
        return Plan.objects.get(agency=agency, name=changes.get("name", "Twenty hours"))


def test_an_admin_builds_publishes_edits_and_archives_a_plan(agency, admin, client):
    service = ServiceFactory(agency=agency, name="Inbox management")
    plan = make_plan(admin, agency)
    assert plan.status == PlanStatus.DRAFT

    # nothing to publish yet
    admin.post(url("plan_publish", agency, pk=plan.pk))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT

    response = admin.post(
        url("plan_line_create", agency, pk=plan.pk), {"service": service.pk, **RETAINER}
    )
    assert response.status_code == 302
    with agency_scope(agency):
        line = PlanLine.objects.get(plan=plan)
    assert (line.retainer_fee, line.included_minutes, line.overage_rate) == (80000, 1200, 5000)

    assert admin.post(url("plan_publish", agency, pk=plan.pk)).status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PUBLISHED

    changed = admin.post(
        url("plan_update", agency, pk=plan.pk),
        {
            "name": "Twenty hours plus",
            "billing_cadence": "monthly",
            "collection_method": "charge_automatically",
        },
    )
    assert changed.status_code == 302
    plan.refresh_from_db()
    assert (plan.name, plan.days_until_due) == ("Twenty hours plus", None)

    terms = admin.post(
        url("plan_line_update", agency, pk=plan.pk, plan_line_pk=line.pk),
        {
            "pricing_model": "hourly",
            "hourly_rate": "45",
            "rounding_increment_minutes": "15",
            "minimum_minutes": "30",
            "cap_behaviour": "block",
        },
    )
    assert terms.status_code == 302
    line.refresh_from_db()
    assert (line.pricing_model, line.hourly_rate, line.retainer_fee) == ("hourly", 4500, None)

    detail = admin.get(url("plan_detail", agency, pk=plan.pk))
    assert "Inbox management" in detail.content.decode()

    assert admin.post(url("plan_archive", agency, pk=plan.pk)).status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ARCHIVED
    refused = admin.post(
        url("plan_update", agency, pk=plan.pk),
        {
            "name": "Again",
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "7",
        },
    )
    assert refused.status_code == 200 and "archived plan cannot change" in refused.content.decode()
    with agency_scope(agency):
        actions = set(
            AuditEvent.objects.filter(target_type="contracts.plan").values_list("action", flat=True)
        )
    assert {"plan.created", "plan.published", "plan.updated", "plan.archived"} <= actions


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"name": ""}, "This field is required"),
        ({"days_until_due": ""}, "Say in how many days"),
        ({"currency": "XXX"}, "Select a valid choice"),
    ],
)
def test_bad_plan_input_is_a_form_error(agency, admin, changes, said):
    response = admin.post(
        url("plan_create", agency),
        {
            "name": "Plan",
            "currency": agency.default_currency,
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "14",
            **changes,
        },
    )
    assert response.status_code == 200 and said in response.content.decode()


def test_incomplete_terms_and_a_second_plan_of_the_same_name_are_form_errors(agency, admin):
    service = ServiceFactory(agency=agency)
    plan = make_plan(admin, agency)
    response = admin.post(
        url("plan_line_create", agency, pk=plan.pk),
        {"service": service.pk, "pricing_model": "flat", "cap_behaviour": "block"},
    )
    assert response.status_code == 200 and "Enter the fee per task" in response.content.decode()
    again = admin.post(
        url("plan_create", agency),
        {
            "name": "Twenty hours",
            "currency": agency.default_currency,
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "1",
        },
    )
    assert again.status_code == 200 and "already a plan called" in again.content.decode()


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_assistants_and_clients_may_not_touch_plans(agency, admin, member, signed_in, api, role):
    plan = make_plan(admin, agency)
    person = member(role)
    page = signed_in(person.user)
    assert page.get(url("plan_list", agency)).status_code == 403
    assert page.post(url("plan_archive", agency, pk=plan.pk)).status_code == 403
    http = api(person.user)
    endpoint = reverse("api:plan-list", kwargs={"agency_slug": agency.slug})
    assert http.get(endpoint).status_code == 403
    assert http.post(endpoint, {"name": "Mine"}, format="json").status_code == 403
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_the_plan_list_costs_the_same_for_one_plan_or_many(agency, admin, count_queries):
    service = ServiceFactory(agency=agency)
    first = make_plan(admin, agency, name="Plan 0")
    with agency_scope(agency):
        PlanLine.objects.create(
            agency=agency, plan=first, service=service, pricing_model="flat", flat_fee=100
        )
    admin.get(url("plan_list", agency))
    one = count_queries(lambda: admin.get(url("plan_list", agency)))
    for n in range(1, 8):
        plan = make_plan(admin, agency, name=f"Plan {n}")
        with agency_scope(agency):
            PlanLine.objects.create(
                agency=agency,
                plan=plan,
                service=ServiceFactory(agency=agency),
                pricing_model="flat",
                flat_fee=100,
            )
    many = count_queries(lambda: admin.get(url("plan_list", agency)))
    assert one == many


# -- a contract from a plan ----------------------------------------------------------------


def plan_with_lines(admin, agency, currency=None) -> Plan:
    plan = make_plan(admin, agency, currency=currency or agency.default_currency)
    for model, terms in [
        ("flat", {"flat_fee": "40"}),
        ("retainer", RETAINER),
    ]:
        admin.post(
            url("plan_line_create", agency, pk=plan.pk),
            {
                "service": ServiceFactory(agency=agency).pk,
                "cap_behaviour": "block",
                **terms,
                "pricing_model": model,
            },
        )
    with agency_scope(agency):
        assert PlanLine.objects.filter(plan=plan).count() == 2
    return plan


def test_staff_start_a_contract_for_a_client_from_a_plan(agency, admin):
    plan = plan_with_lines(admin, agency, currency="USD")
    customer = ClientFactory(agency=agency, currency="USD")
    response = admin.post(url("plan_contract_create", agency, pk=plan.pk), {"client": customer.pk})
    assert response.status_code == 302
    with agency_scope(agency):
        contract = ServiceContract.objects.get(client=customer)
        terms = list(ContractTerms.objects.filter(line__contract=contract).order_by("pk"))
        audit = set(
            AuditEvent.objects.filter(target_id=str(contract.pk)).values_list("action", flat=True)
        )
    assert response["Location"] == url("contract_detail", agency, pk=contract.pk)
    assert contract.status == ContractStatus.DRAFT and contract.name == plan.name
    assert (contract.billing_cadence, contract.days_until_due) == ("monthly", 14)
    assert [t.pricing_model for t in terms] == ["flat", "retainer"]
    assert terms[0].flat_fee == 4000 and terms[1].included_minutes == 1200
    assert {"contract.created", "contract.from_plan"} <= audit


def test_a_plan_in_another_currency_is_refused(agency, admin):
    plan = plan_with_lines(admin, agency, currency="EUR")
    customer = ClientFactory(agency=agency, currency="USD")
    response = admin.post(url("plan_contract_create", agency, pk=plan.pk), {"client": customer.pk})
    assert response.status_code == 200
    assert "priced in EUR" in response.content.decode()
    with agency_scope(agency):
        assert not ServiceContract.objects.filter(client=customer).exists()


def test_the_contract_services_rules_still_hold(agency, admin):
    """A service taken out of the catalogue after it was put in a plan: the contract service
    refuses the line, and no half-made contract is left behind."""
    plan = plan_with_lines(admin, agency, currency="USD")
    with agency_scope(agency):
        line = PlanLine.objects.filter(plan=plan).select_related("service").first()
        line.service.is_active = False
        line.service.save()
    customer = ClientFactory(agency=agency, currency="USD")
    response = admin.post(url("plan_contract_create", agency, pk=plan.pk), {"client": customer.pk})
    assert response.status_code == 200
    assert "Choose a service from the catalogue" in response.content.decode()
    with agency_scope(agency):
        assert not ServiceContract.objects.filter(client=customer).exists()


# -- the API ---------------------------------------------------------------------------------


def test_the_api_manages_plans_and_a_repeated_create_acts_once(agency, member, api):
    http = api(member(Role.ADMIN).user)
    service = ServiceFactory(agency=agency)
    endpoint = reverse("api:plan-list", kwargs={"agency_slug": agency.slug})
    body = {
        "name": "API plan",
        "billing_cadence": "weekly",
        "collection_method": "send_invoice",
        "days_until_due": 7,
    }
    first = http.post(endpoint, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    again = http.post(endpoint, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["currency"] == agency.default_currency
    plan_id = first.json()["id"]
    with agency_scope(agency):
        assert Plan.objects.filter(name="API plan").count() == 1

    detail = reverse("api:plan-detail", kwargs={"agency_slug": agency.slug, "pk": plan_id})
    lines = reverse("api:plan-lines", kwargs={"agency_slug": agency.slug, "pk": plan_id})
    bad = http.post(lines, {"service": service.pk, "pricing_model": "hourly"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "terms_incomplete"
    added = http.post(
        lines, {"service": service.pk, "pricing_model": "flat", "flat_fee": 2500}, format="json"
    )
    assert added.status_code == 201
    line_url = reverse(
        "api:plan-line-terms",
        kwargs={"agency_slug": agency.slug, "pk": plan_id, "plan_line_pk": added.json()["id"]},
    )
    changed = http.patch(line_url, {"pricing_model": "flat", "flat_fee": 3000}, format="json")
    assert changed.status_code == 200 and changed.json()["flat_fee"] == 3000

    publish = reverse("api:plan-publish", kwargs={"agency_slug": agency.slug, "pk": plan_id})
    assert http.post(publish).json()["status"] == "published"
    frozen = http.patch(detail, {"currency": "EUR"}, format="json")
    assert frozen.status_code == 400 and frozen.json()["code"] == "plan_currency_frozen"
    assert http.delete(line_url).status_code == 400  # a published plan keeps one service
    archive = reverse("api:plan-archive", kwargs={"agency_slug": agency.slug, "pk": plan_id})
    assert http.post(archive).json()["status"] == "archived"
    assert http.get(endpoint).json() == []
    assert len(http.get(endpoint, {"status": "archived"}).json()) == 1


def test_amounts_past_what_the_database_holds_are_form_errors(agency, admin):
    service = ServiceFactory(agency=agency)
    plan = make_plan(admin, agency)
    response = admin.post(
        url("plan_line_create", agency, pk=plan.pk),
        {
            "service": service.pk,
            "pricing_model": "flat",
            "flat_fee": "99999999",
            "cap_behaviour": "block",
        },
    )
    assert response.status_code == 200
    assert "Enter a smaller value" in response.content.decode()
    with agency_scope(agency):
        assert not PlanLine.objects.exists()
