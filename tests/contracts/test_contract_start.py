"""A contract's days are its client's: it starts on the client's today, at 00:00 in the
client's zone, and "Active" on the agency's side means the client can request work."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from billing.models import Charge
from contracts import services
from contracts.models import ContractTerms
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import ContractFactory, LineFactory, ServiceFactory
from tests.factories import AgencyFactory, ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

# 01:30 on 5 March in New York, where the agency is; still 23:30 on 4 March in Denver.
NOW = dt.datetime(2026, 3, 5, 6, 30, tzinfo=dt.UTC)
DENVER = ZoneInfo("America/Denver")
NO_SERVICES = "Your contract has no services you can request right now"


@pytest.fixture
def agency(db):
    return AgencyFactory(time_zone="America/New_York", default_currency="USD")


@pytest.fixture
def west(agency, time_machine):
    time_machine.move_to(NOW, tick=False)
    client = ClientFactory(agency=agency, time_zone="America/Denver", currency="USD")
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    service = ServiceFactory(agency=agency, name="Inbox triage")
    return {"client": client, "person": person, "admin": admin, "service": service}


def header(**changes):
    return {
        "name": "Support 2026",
        "billing_cadence": "monthly",
        "collection_method": "send_invoice",
        "days_until_due": 14,
        **changes,
    }


def live_contract(agency, west, starts_on, **kwargs):
    """An active contract whose one line began at 00:00 of `starts_on` in Denver."""
    contract = ContractFactory(
        agency=agency, client=west["client"], status="active", starts_on=starts_on, **kwargs
    )
    LineFactory(
        agency=agency,
        contract=contract,
        service=west["service"],
        terms__effective_from=dt.datetime.combine(starts_on, dt.time.min, tzinfo=DENVER),
    )
    return contract


def form_value(html: str, name: str) -> str | None:
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', field.group(0)) if field else None
    return value.group(1) if value else None


def test_the_form_proposes_the_clients_today(agency, west, signed_in):
    http = signed_in(west["admin"].user)
    url = reverse("contract_create", args=[agency.slug])
    page = http.get(url, {"client": west["client"].pk}).content.decode()
    assert form_value(page, "starts_on") == "2026-03-04"
    assert "Starts 00:00 in Denver (02:00 in New York)" in page


def test_a_contract_made_now_lets_the_western_client_request_at_once(agency, west, signed_in):
    http = signed_in(west["admin"].user)
    response = http.post(
        reverse("contract_create", args=[agency.slug]),
        {"client": west["client"].pk, **header(starts_on="")},
    )
    assert response.status_code == 302
    with agency_scope(agency):
        contract = west["client"].contracts.get()
        assert contract.starts_on == dt.date(2026, 3, 4)
        services.contract_line_add(
            agency=agency,
            actor=west["admin"].user,
            contract=contract,
            service=west["service"],
            pricing_model="flat",
            flat_fee=5000,
        )
        services.contract_transition(
            agency=agency, actor=west["admin"].user, contract=contract, to="active"
        )
        terms = ContractTerms.objects.get(line__contract=contract)
    assert terms.effective_from == dt.datetime(2026, 3, 4, tzinfo=DENVER)

    detail = http.get(reverse("contract_detail", args=[agency.slug, contract.pk])).content
    assert b'data-testid="contract-status">Active<' in detail
    assert "Starts 00:00 in Denver (02:00 in New York)" in detail.decode()
    request_page = signed_in(west["person"].user).get(
        reverse("client_task_create", args=[agency.slug])
    )
    assert NO_SERVICES not in request_page.content.decode()
    assert "Inbox triage" in request_page.content.decode()


def test_active_on_the_agency_side_means_the_client_can_request(
    agency, west, signed_in, time_machine
):
    # Started on the agency's today: not yet the client's.
    contract = live_contract(agency, west, dt.date(2026, 3, 5))
    admin, person = signed_in(west["admin"].user), signed_in(west["person"].user)
    detail = reverse("contract_detail", args=[agency.slug, contract.pk])
    request_url = reverse("client_task_create", args=[agency.slug])

    page = admin.get(detail).content.decode()
    assert 'data-testid="contract-status">Starts later<' in page
    assert "the client cannot request work until then" in page
    assert (
        "Starts later" in admin.get(reverse("contract_list", args=[agency.slug])).content.decode()
    )
    assert NO_SERVICES in person.get(request_url).content.decode()

    time_machine.move_to(dt.datetime(2026, 3, 5, 0, 0, tzinfo=DENVER), tick=False)
    page = admin.get(detail).content.decode()
    assert 'data-testid="contract-status">Active<' in page
    assert NO_SERVICES not in person.get(request_url).content.decode()


def test_an_active_contract_past_its_end_date_says_so(agency, west, signed_in):
    contract = live_contract(agency, west, dt.date(2026, 1, 1), ends_on=dt.date(2026, 3, 3))
    page = signed_in(west["admin"].user).get(
        reverse("contract_detail", args=[agency.slug, contract.pk])
    )
    assert 'data-testid="contract-status">Past its end<' in page.content.decode()
    assert (
        NO_SERVICES
        in signed_in(west["person"].user)
        .get(reverse("client_task_create", args=[agency.slug]))
        .content.decode()
    )


def test_staff_correct_a_live_contracts_start_while_no_work_is_under_it(agency, west, signed_in):
    contract = live_contract(agency, west, dt.date(2026, 3, 5))
    http = signed_in(west["admin"].user)
    response = http.post(
        reverse("contract_update", args=[agency.slug, contract.pk]),
        header(name=contract.name, starts_on="2026-03-04", ends_on=""),
    )
    assert response.status_code == 302
    with agency_scope(agency):
        contract.refresh_from_db()
        assert contract.starts_on == dt.date(2026, 3, 4)
        terms = ContractTerms.objects.get(line__contract=contract)
        assert terms.effective_from == dt.datetime(2026, 3, 4, tzinfo=DENVER)
        event = AuditEvent.objects.get(action="contract.start_changed")
        assert event.details["previous"] == "2026-03-05"
        assert event.details["starts_on"] == "2026-03-04"
    request_page = signed_in(west["person"].user).get(
        reverse("client_task_create", args=[agency.slug])
    )
    assert NO_SERVICES not in request_page.content.decode()


def test_a_paused_contract_start_moves_later_with_its_lines(agency, west):
    contract = live_contract(agency, west, dt.date(2026, 3, 4))
    contract.status = "paused"
    contract.save()
    with agency_scope(agency):
        services.contract_start_change(
            agency=agency,
            actor=west["admin"].user,
            contract=contract,
            starts_on=dt.date(2026, 3, 10),
        )
        terms = ContractTerms.objects.get(line__contract=contract)
    assert terms.effective_from == dt.datetime(2026, 3, 10, tzinfo=DENVER)


@pytest.mark.parametrize("work", ["task", "cancelled task", "charge"])
def test_the_start_of_a_contract_with_work_under_it_stays(agency, west, signed_in, work):
    contract = live_contract(agency, west, dt.date(2026, 3, 2))
    with agency_scope(agency):
        line = contract.lines.get()
        if work == "charge":
            Charge.objects.create(
                agency=agency,
                kind="retainer_fee",
                contract_line=line,
                terms=line.terms.get(),
                client=west["client"],
                period_start=dt.date(2026, 3, 1),
                amount=80000,
                currency="USD",
                description="Retainer, March",
                idempotency_key="fee-test",
            )
    if work != "charge":
        TaskFactory(
            agency=agency,
            contract_line=line,
            status="cancelled" if work == "cancelled task" else "queued",
        )
    response = signed_in(west["admin"].user).post(
        reverse("contract_update", args=[agency.slug, contract.pk]),
        header(name=contract.name, starts_on="2026-03-04", ends_on=""),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["starts_on"]
    assert "Work has been done under this contract" in errors[0]
    with agency_scope(agency):
        contract.refresh_from_db()
        assert contract.starts_on == dt.date(2026, 3, 2)
        assert not AuditEvent.objects.filter(action="contract.start_changed").exists()


def test_a_corrected_start_still_keeps_clear_of_the_clients_other_contracts(agency, west):
    earlier = live_contract(agency, west, dt.date(2026, 1, 1), ends_on=dt.date(2026, 2, 28))
    contract = live_contract(agency, west, dt.date(2026, 3, 5))
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as error:
            services.contract_start_change(
                agency=agency,
                actor=west["admin"].user,
                contract=contract,
                starts_on=dt.date(2026, 2, 20),
            )
        assert error.value.code == "contract_overlap"
        with pytest.raises(ApplicationError) as error:
            services.contract_update(
                agency=agency,
                actor=west["admin"].user,
                contract=contract,
                starts_on=dt.date(2026, 3, 6),
                ends_on=dt.date(2026, 3, 5),
            )
        assert error.value.extra["field"] == "starts_on"
        contract.refresh_from_db()
        earlier.refresh_from_db()
    assert contract.starts_on == dt.date(2026, 3, 5)
    assert earlier.ends_on == dt.date(2026, 2, 28)


def test_the_api_moves_a_live_start_by_the_same_rule(agency, west, api):
    contract = live_contract(agency, west, dt.date(2026, 3, 5))
    http = api(west["admin"].user)
    url = reverse("api:contract-detail", args=[agency.slug, contract.pk])
    response = http.patch(url, {"starts_on": "2026-03-04"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["starts_on"] == "2026-03-04"
    with agency_scope(agency):
        TaskFactory(agency=agency, contract_line=contract.lines.get())
    response = http.patch(url, {"starts_on": "2026-03-03"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "contract_start_has_work"
    assert response.json()["extra"]["field"] == "starts_on"
