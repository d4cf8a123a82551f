"""Top-up hours: priced at the top-up rate (else the overage rate), joined to this month's
bank at once, charged to Stripe at once whatever the cadence, exactly once per form token
(a double POST, a retry, a form sent again), by a client's people or by staff, and shown on
the account page and invoices."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.charges import charge_for_task
from billing.invoicing import stripe_customer_for
from billing.models import Charge, ChargeKind, ChargeStatus, Invoice, TopUp
from billing.retainer import bank_left
from billing.selectors import month_spent
from billing.top_ups import top_up_buy, top_up_quote
from contracts.models import ContractTerms, PricingModel
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
RETAINER = {
    "pricing_model": PricingModel.RETAINER,
    "hourly_rate": None,
    "minimum_minutes": None,
    "retainer_fee": 100000,
    "included_minutes": 120,  # 2 h
    "rollover_cap_minutes": 60,
    "overage_rate": 6000,  # $60.00 / h
    "rounding_increment_minutes": 15,
    "effective_from": dt.datetime(2026, 1, 1, tzinfo=UTC),
}


@pytest.fixture(autouse=True)
def in_may(time_machine):
    time_machine.move_to("2026-05-12 12:00Z", tick=False)


@pytest.fixture
def shop(agency):
    client = ClientFactory(agency=agency, time_zone="Europe/Berlin", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, **RETAINER)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return {"client": client, "line": line, "person": person, "admin": admin}


def buy(agency, shop, minutes=300, token="tok-1", actor=None):
    with agency_scope(agency):
        return top_up_buy(
            agency=agency,
            actor=actor or shop["person"].user,
            client=shop["client"],
            line_id=shop["line"].pk,
            minutes=minutes,
            token=token,
        )


def bank(agency, line):
    with agency_scope(agency):
        versions = list(ContractTerms.objects.filter(line=line).order_by("-effective_from"))
        return bank_left(agency, line, versions, dt.date(2026, 5, 1), "Europe/Berlin")


def test_bought_hours_join_this_months_bank_at_once(agency, shop):
    assert bank(agency, shop["line"])["bank_left_before"] == 180  # 2 h and 1 h rolled over
    top_up = buy(agency, shop, minutes=300)  # 5 h at the overage rate, $60.00
    assert (top_up.amount, top_up.hourly_price, top_up.period_start) == (
        30000,
        6000,
        dt.date(2026, 5, 1),
    )
    now = bank(agency, shop["line"])
    assert now["bank_left_before"] == 480 and now["topped_up_minutes"] == 300
    with agency_scope(agency):
        charge = Charge.objects.get(kind=ChargeKind.TOP_UP)
        assert (charge.amount, charge.status, charge.period_start) == (
            30000,
            ChargeStatus.PENDING,
            dt.date(2026, 5, 1),
        )
        assert charge.description == "Top-up 5 h of " + shop["line"].service.name + ", May 2026"
        assert AuditEvent.objects.filter(action="top_up.bought").count() == 1
        # Not work: no budget spent on it.
        assert month_spent(agency=agency, line=shop["line"], at=timezone.now()) == 0
    # The next task draws on the bought hours before any overage.
    task = TaskFactory(
        agency=agency,
        contract_line=shop["line"],
        status="completed",
        completed_at=timezone.now(),
        minutes_logged=400,
    )
    with agency_scope(agency):
        work = charge_for_task(agency=agency, task=task)
    assert (work.minutes_from_bank, work.minutes_billed, work.amount) == (405, 0, 0)


def test_the_top_up_rate_wins_over_the_overage_rate(agency, shop):
    TermsFactory(
        agency=agency,
        line=shop["line"],
        **{**RETAINER, "top_up_rate": 4500, "effective_from": dt.datetime(2026, 5, 1, tzinfo=UTC)},
    )
    with agency_scope(agency):
        quote = top_up_quote(
            agency=agency, client=shop["client"], line_id=shop["line"].pk, minutes=90
        )
    assert (quote["hourly_price"], quote["amount"], quote["price_words"]) == (
        4500,
        6750,
        "$67.50",
    )


def test_the_same_token_buys_once(agency, shop):
    first = buy(agency, shop)
    again = buy(agency, shop)  # a retry, a double click, the form sent again
    assert again.pk == first.pk
    other = buy(agency, shop, token="tok-2")
    assert other.pk != first.pk
    with scopes_disabled():
        assert TopUp.objects.count() == 2
        assert Charge.objects.filter(kind=ChargeKind.TOP_UP).count() == 2


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(0, "top_up_hours_invalid"), (20, "top_up_hours_invalid"), (6015, "top_up_hours_invalid")],
)
def test_bad_hours_are_refused(agency, shop, minutes, code):
    with pytest.raises(ApplicationError) as refused:
        buy(agency, shop, minutes=minutes)
    assert refused.value.code == code
    with scopes_disabled():
        assert not TopUp.objects.exists() and not Charge.objects.exists()


def test_only_a_retainer_line_takes_hours(agency, shop):
    hourly = LineFactory(agency=agency, contract=shop["line"].contract)
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        top_up_buy(
            agency=agency,
            actor=None,
            client=shop["client"],
            line_id=hourly.pk,
            minutes=60,
            token="x",
        )
    assert refused.value.code == "top_up_line_invalid"


# -- the pages --------------------------------------------------------------------------


def test_a_client_buys_hours_from_the_account_page_once_under_a_double_post(
    agency, shop, signed_in
):
    http = signed_in(shop["person"].user)
    account = http.get(reverse("our_account", args=[agency.slug])).text
    assert reverse("our_top_up", args=[agency.slug]) in account
    start = http.get(reverse("our_top_up", args=[agency.slug]))
    assert start.status_code == 200 and "$60.00 an hour" in start.text
    token = start.context["form"].initial["token"]
    confirm_url = reverse("our_top_up_confirm", args=[agency.slug])
    query = {"line": shop["line"].pk, "hours": "2.5", "token": token}
    confirm = http.get(confirm_url, query)
    assert confirm.status_code == 200
    assert 'data-testid="top-up-price">$150.00<' in confirm.text
    assert http.get(confirm_url, query).status_code == 200  # a reload buys nothing
    with scopes_disabled():
        assert not TopUp.objects.exists()
    first = http.post(confirm_url, query)
    second = http.post(confirm_url, query)  # the double click
    assert first.status_code == second.status_code == 302
    assert first["Location"] == reverse("our_account", args=[agency.slug])
    with scopes_disabled():
        (top_up,) = TopUp.objects.all()
        assert top_up.minutes == 150 and top_up.bought_by == shop["person"].user
        assert Charge.objects.filter(kind=ChargeKind.TOP_UP).count() == 1
    account = http.get(reverse("our_account", args=[agency.slug])).text
    assert 'data-testid="top-up-row"' in account and "$150.00" in account
    assert "bought this month)" in account


def test_a_bad_choice_is_a_form_error(agency, shop, signed_in):
    http = signed_in(shop["person"].user)
    confirm_url = reverse("our_top_up_confirm", args=[agency.slug])
    page = http.get(confirm_url, {"line": shop["line"].pk, "hours": "0.1", "token": "t"})
    assert page.status_code == 200 and "in quarter hours" in page.text
    refused = http.post(confirm_url, {"line": "999999", "hours": "2", "token": "t"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.text
    with scopes_disabled():
        assert not TopUp.objects.exists()


def test_staff_buy_hours_for_a_client(agency, shop, signed_in):
    http = signed_in(shop["admin"].user)
    client = shop["client"]
    assert http.get(reverse("client_top_up", args=[agency.slug, client.pk])).status_code == 200
    response = http.post(
        reverse("client_top_up_confirm", args=[agency.slug, client.pk]),
        {"line": shop["line"].pk, "hours": "1", "token": "staff-1"},
    )
    assert response["Location"] == reverse("client_detail", args=[agency.slug, client.pk])
    with scopes_disabled():
        top_up = TopUp.objects.get()
    assert top_up.bought_by == shop["admin"].user and top_up.amount == 6000
    assert (
        signed_in(shop["person"].user)
        .get(reverse("client_top_up", args=[agency.slug, client.pk]))
        .status_code
        == 403
    )


# -- to Stripe at once ------------------------------------------------------------------


def test_a_top_up_on_a_monthly_contract_is_charged_to_the_card_at_once(
    agency, shop, stripe_on, django_capture_on_commit_callbacks
):
    contract = shop["line"].contract
    with scopes_disabled():
        type(contract).objects.filter(pk=contract.pk).update(
            collection_method="charge_automatically", days_until_due=None
        )
    with agency_scope(agency):
        customer_id = stripe_customer_for(agency=agency, client=shop["client"])
    card = stripe_on.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
    stripe_on.v1.customers.update(
        customer_id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        top_up = buy(agency, shop, minutes=60)
    with agency_scope(agency):
        charge = Charge.objects.select_related("invoice").get(pk=top_up.charge_id)
        invoice = Invoice.objects.get(pk=charge.invoice_id)
    assert charge.status == ChargeStatus.INVOICED
    assert (invoice.status, invoice.amount_paid) == ("paid", 6000)
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.status == "paid" and remote.amount_paid == 6000


def test_without_a_card_the_top_up_invoice_is_sent(
    agency, shop, stripe_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        top_up = buy(agency, shop, minutes=60)
    with agency_scope(agency):
        invoice = Invoice.objects.get(charges__pk=top_up.charge_id)
    assert invoice.status == "open" and invoice.sent_at is not None
    assert invoice.amount_due == 6000


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_one_form_at_once_buy_once(agency, shop):
    from django.db import connection

    from tests.billing.test_late_fees import together

    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (set DATABASE_URL)")
    made = together([lambda: buy(agency, shop, token="same").pk for _ in range(4)])
    assert len(set(made)) == 1
    with scopes_disabled():
        assert TopUp.objects.count() == 1
        assert Charge.objects.filter(kind=ChargeKind.TOP_UP).count() == 1


def test_the_account_page_costs_the_same_queries_at_1_and_at_many_top_ups(
    agency, shop, signed_in, count_queries
):
    http = signed_in(shop["person"].user)
    url = reverse("our_account", args=[agency.slug])
    buy(agency, shop, token="a")
    http.get(url)
    one = count_queries(lambda: http.get(url))
    for token in "bcdef":
        buy(agency, shop, token=token)
    many = count_queries(lambda: http.get(url))
    assert many == one
    assert http.get(url).text.count('data-testid="top-up-row"') == 6
