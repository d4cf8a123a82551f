"""Contracts: legal transitions, no overlaps, terms that never change under finished work."""

import datetime as dt

import pytest
from django.urls import reverse

from contracts import services
from contracts.models import ContractStatus, ContractTerms, PricingModel
from contracts.selectors import terms_in_force, with_lines
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory

HOURLY = {
    "pricing_model": "hourly",
    "hourly_rate": 4500,
    "rounding_increment_minutes": 15,
    "minimum_minutes": 30,
}
RETAINER = {
    "pricing_model": "retainer",
    "retainer_fee": 80000,
    "included_minutes": 20 * 60,
    "rollover_cap_minutes": 5 * 60,
    "overage_rate": 5625,
    "rounding_increment_minutes": 15,
}


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


@pytest.fixture
def in_scope(agency):
    with agency_scope(agency):
        yield


@pytest.fixture
def draft(agency, in_scope):
    return ContractFactory(agency=agency, starts_on=dt.date(2026, 3, 1))


def test_a_contract_takes_the_clients_currency(agency, admin, in_scope):
    client = ClientFactory(agency=agency, currency="EUR", time_zone="Europe/Berlin")
    contract = services.contract_create(
        agency=agency,
        actor=admin,
        client=client,
        name="2026 support",
        starts_on=dt.date(2026, 3, 1),
        billing_cadence="monthly",
        collection_method="send_invoice",
        days_until_due=14,
    )
    assert contract.currency == "EUR"
    assert contract.status == ContractStatus.DRAFT
    assert AuditEvent.objects.filter(action="contract.created").count() == 1


@pytest.mark.parametrize(
    ("header", "code", "field"),
    [
        ({"ends_on": dt.date(2026, 2, 1)}, "contract_dates_out_of_order", "ends_on"),
        (
            {"collection_method": "send_invoice", "days_until_due": None},
            "contract_due_days_required",
            "days_until_due",
        ),
        ({"billing_cadence": "fortnightly"}, "invalid", "billing_cadence"),
        ({"starts_on": dt.date(1, 1, 1)}, "contract_date_out_of_range", "starts_on"),
        ({"starts_on": dt.date(1999, 12, 31)}, "contract_date_out_of_range", "starts_on"),
        ({"ends_on": dt.date(9999, 12, 31)}, "contract_date_out_of_range", "ends_on"),
    ],
)
def test_bad_headers_are_refused_and_nothing_is_saved(agency, admin, in_scope, header, code, field):
    client = ClientFactory(agency=agency)
    data = {
        "name": "X",
        "starts_on": dt.date(2026, 3, 1),
        "billing_cadence": "monthly",
        "collection_method": "send_invoice",
        "days_until_due": 7,
        **header,
    }
    with pytest.raises(ApplicationError) as error:
        services.contract_create(agency=agency, actor=admin, client=client, **data)
    assert (error.value.code, error.value.extra["field"]) == (code, field)
    assert not client.contracts.exists()


def test_charging_automatically_needs_no_due_days(agency, admin, in_scope):
    contract = services.contract_create(
        agency=agency,
        actor=admin,
        client=ClientFactory(agency=agency),
        name="Card",
        starts_on=dt.date(2026, 3, 1),
        billing_cadence="per_task",
        collection_method="charge_automatically",
        days_until_due=30,
    )
    assert contract.days_until_due is None


def test_only_legal_transitions(agency, admin, draft):
    with pytest.raises(ApplicationError) as error:
        services.contract_transition(agency=agency, actor=admin, contract=draft, to="paused")
    assert error.value.code == "contract_transition_invalid"
    with pytest.raises(ApplicationError) as error:
        services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    assert error.value.code == "contract_has_no_lines"

    LineFactory(agency=agency, contract=draft)
    for to in ("active", "paused", "active", "ended"):
        services.contract_transition(agency=agency, actor=admin, contract=draft, to=to)
        assert draft.status == to
    with pytest.raises(ApplicationError):
        services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    actions = list(
        AuditEvent.objects.filter(target_id=str(draft.pk), action__startswith="contract.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["contract.active", "contract.paused", "contract.active", "contract.ended"]


def test_ending_closes_the_dates_in_the_clients_zone(agency, admin, in_scope, time_machine):
    time_machine.move_to("2026-05-31 23:30Z", tick=False)  # already June 1st in Tokyo
    client = ClientFactory(agency=agency, time_zone="Asia/Tokyo")
    contract = ContractFactory(agency=agency, client=client, starts_on=dt.date(2026, 1, 1))
    LineFactory(agency=agency, contract=contract)
    services.contract_transition(agency=agency, actor=admin, contract=contract, to="active")
    services.contract_transition(agency=agency, actor=admin, contract=contract, to="ended")
    assert contract.ends_on == dt.date(2026, 6, 1)


def test_a_client_has_one_live_contract_at_any_date(agency, admin, in_scope):
    client = ClientFactory(agency=agency)
    first = ContractFactory(
        agency=agency, client=client, starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 6, 30)
    )
    second = ContractFactory(agency=agency, client=client, starts_on=dt.date(2026, 6, 1))
    following = ContractFactory(agency=agency, client=client, starts_on=dt.date(2026, 7, 1))
    for contract in (first, second, following):
        LineFactory(agency=agency, contract=contract)
    services.contract_transition(agency=agency, actor=admin, contract=first, to="active")
    with pytest.raises(ApplicationError) as error:
        services.contract_transition(agency=agency, actor=admin, contract=second, to="active")
    assert error.value.code == "contract_overlap"
    # A renewal that starts when the first ends is fine...
    services.contract_transition(agency=agency, actor=admin, contract=following, to="active")
    # ...but extending the first into it is not.
    with pytest.raises(ApplicationError) as error:
        services.contract_update(
            agency=agency, actor=admin, contract=first, ends_on=dt.date(2026, 12, 31)
        )
    assert error.value.code == "contract_overlap"
    first.refresh_from_db()
    assert first.ends_on == dt.date(2026, 6, 30)


def test_a_live_contracts_billing_terms_are_frozen(agency, admin, draft):
    LineFactory(agency=agency, contract=draft)
    services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    with pytest.raises(ApplicationError) as error:
        services.contract_update(
            agency=agency, actor=admin, contract=draft, billing_cadence="weekly"
        )
    assert error.value.code == "contract_terms_frozen"
    services.contract_update(agency=agency, actor=admin, contract=draft, name="Renamed")


def test_lines_only_for_the_agencys_catalogue_and_once_each(agency, other_agency, admin, draft):
    service = ServiceFactory(agency=agency)
    services.contract_line_add(
        agency=agency, actor=admin, contract=draft, service=service, **HOURLY
    )
    with pytest.raises(ApplicationError) as error:
        services.contract_line_add(
            agency=agency, actor=admin, contract=draft, service=service, **RETAINER
        )
    assert error.value.code == "contract_line_duplicate"
    foreign = ServiceFactory(agency=other_agency)
    with pytest.raises(ApplicationError) as error:
        services.contract_line_add(
            agency=agency, actor=admin, contract=draft, service=foreign, **HOURLY
        )
    assert error.value.code == "contract_line_service_invalid"
    assert draft.lines.count() == 1


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"pricing_model": "flat"}, "flat_fee"),
        ({**HOURLY, "hourly_rate": None}, "hourly_rate"),
        ({**HOURLY, "rounding_increment_minutes": 0}, "rounding_increment_minutes"),
        ({**RETAINER, "included_minutes": None}, "included_minutes"),
        ({**RETAINER, "overage_rate": -1}, "overage_rate"),
        ({**HOURLY, "monthly_budget_cap": -5}, "monthly_budget_cap"),
        # Past what the database's integer columns hold: refused, not a 500 on PostgreSQL.
        ({"pricing_model": "flat", "flat_fee": 2**31}, "flat_fee"),
        ({**HOURLY, "monthly_budget_cap": 10**12}, "monthly_budget_cap"),
        ({**RETAINER, "retainer_fee": 2**40}, "retainer_fee"),
    ],
)
def test_incomplete_or_negative_terms_are_refused(agency, admin, draft, terms, field):
    service = ServiceFactory(agency=agency)
    with pytest.raises(ApplicationError) as error:
        services.contract_line_add(
            agency=agency, actor=admin, contract=draft, service=service, **terms
        )
    assert error.value.extra["field"] == field
    assert not draft.lines.exists()


def test_terms_of_other_models_are_cleared(agency, admin, draft):
    service = ServiceFactory(agency=agency)
    line = services.contract_line_add(
        agency=agency,
        actor=admin,
        contract=draft,
        service=service,
        flat_fee=999,
        **RETAINER,
    )
    version = line.terms.get()
    assert version.pricing_model == PricingModel.RETAINER
    assert version.flat_fee is None and version.hourly_rate is None
    assert version.included_minutes == 1200


def test_changing_a_live_line_versions_the_terms(agency, admin, draft, time_machine):
    time_machine.move_to("2026-04-10 12:00Z", tick=False)
    service = ServiceFactory(agency=agency)
    line = services.contract_line_add(
        agency=agency, actor=admin, contract=draft, service=service, **HOURLY
    )
    # In a draft the terms are simply replaced.
    services.contract_line_terms_change(
        agency=agency, actor=admin, line=line, **{**HOURLY, "hourly_rate": 4800}
    )
    assert line.terms.count() == 1
    services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    first = line.terms.get()
    assert first.effective_from == dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)  # NY midnight

    may = dt.datetime(2026, 5, 1, 4, 0, tzinfo=dt.UTC)
    services.contract_line_terms_change(
        agency=agency, actor=admin, line=line, effective_from=may, **{**HOURLY, "hourly_rate": 5200}
    )
    with pytest.raises(ApplicationError) as error:
        services.contract_line_terms_change(
            agency=agency,
            actor=admin,
            line=line,
            effective_from=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            **HOURLY,
        )
    assert error.value.code == "contract_terms_in_past"
    with pytest.raises(ApplicationError) as error:
        services.contract_line_terms_change(
            agency=agency,
            actor=admin,
            line=line,
            effective_from=dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
            **HOURLY,
        )
    assert error.value.code == "contract_terms_date_out_of_range"

    line = with_lines(type(draft).objects.filter(pk=draft.pk)).get().lines.get()
    april = dt.datetime(2026, 4, 20, tzinfo=dt.UTC)
    june = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert terms_in_force(line, april).hourly_rate == 4800  # work done in April keeps it
    assert terms_in_force(line, june).hourly_rate == 5200
    assert ContractTerms.objects.filter(line=line).count() == 2


def test_removing_a_live_line_keeps_its_history(agency, admin, draft):
    line = LineFactory(agency=agency, contract=draft)
    other = LineFactory(agency=agency, contract=draft)
    services.contract_line_remove(agency=agency, actor=admin, line=other)
    assert not draft.lines.filter(pk=other.pk).exists()  # deleted from a draft
    services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    services.contract_line_remove(agency=agency, actor=admin, line=line)
    line.refresh_from_db()
    assert line.removed_at is not None and line.terms.exists()
    # The service may be contracted again afterwards.
    services.contract_line_add(
        agency=agency, actor=admin, contract=draft, service=line.service, **HOURLY
    )


def test_dedicated_assistants_must_be_assistants_here(agency, other_agency, admin, member, draft):
    assistant = member(Role.ASSISTANT)
    services.contract_update(agency=agency, actor=admin, contract=draft, dedicated=[assistant])
    assert [d.membership for d in draft.dedicated.all()] == [assistant]
    client_member = member(Role.CLIENT)
    with pytest.raises(ApplicationError) as error:
        services.contract_update(
            agency=agency, actor=admin, contract=draft, dedicated=[client_member]
        )
    assert error.value.code == "contract_assistant_invalid"
    services.contract_update(agency=agency, actor=admin, contract=draft, dedicated=[])
    assert not draft.dedicated.exists()


def test_no_new_contract_or_activation_for_an_inactive_client(agency, admin, draft):
    LineFactory(agency=agency, contract=draft)
    draft.client.status = "inactive"
    draft.client.save()
    with pytest.raises(ApplicationError) as error:
        services.contract_transition(agency=agency, actor=admin, contract=draft, to="active")
    assert error.value.code == "client_inactive"
    with pytest.raises(ApplicationError) as error:
        services.contract_create(
            agency=agency,
            actor=admin,
            client=draft.client,
            name="New",
            starts_on=dt.date(2026, 5, 1),
            billing_cadence="monthly",
            collection_method="charge_automatically",
        )
    assert error.value.code == "client_inactive"


def test_a_contract_from_year_one_is_a_400_and_the_list_still_serves(agency, member, api):
    # A Tokyo client's contract from 0001-01-01 once saved terms dated 1 BC and broke the
    # agency's whole contract list.
    http = api(member(Role.ADMIN).user)
    client = ClientFactory(agency=agency, time_zone="Asia/Tokyo")
    response = http.post(
        reverse("api:contract-list", args=[agency.slug]),
        {
            "client": client.pk,
            "name": "Ancient",
            "starts_on": "0001-01-01",
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": 7,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "contract_date_out_of_range"
    assert http.get(reverse("api:contract-list", args=[agency.slug])).status_code == 200
