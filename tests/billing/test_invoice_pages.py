"""Invoice pages and API for clients and staff, voiding and resending through Stripe (the
in-repo test server), and the agency's Stripe settings page."""

import datetime as dt
import itertools
import re

import pytest
from django.urls import reverse

from billing.models import Charge, ChargeKind, ChargeStatus, Invoice, StripeAccount, StripeEvent
from contracts.models import PricingModel
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoicing import make_charge, per_task, push
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

_numbers = itertools.count(1)


@pytest.fixture
def admin(member):
    return member(Role.ADMIN)


def flat_line(agency, client):
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, pricing_model=PricingModel.FLAT, flat_fee=2500)
    return line


def make_invoice(agency, client, *, lines=1, status="open", line=None, **fields) -> Invoice:
    """An invoice with `lines` task charges on it, straight into the database (no Stripe)."""
    line = line or flat_line(agency, client)
    n = next(_numbers)
    with agency_scope(agency):
        terms = line.terms.get()
        invoice = Invoice.objects.create(
            agency=agency,
            client=client,
            contract=line.contract,
            stripe_invoice_id=f"in_fake{n}",
            number=f"INV-{n:04d}",
            status=status,
            collection_method=fields.pop("collection_method", "send_invoice"),
            currency="USD",
            amount_due=2500 * lines,
            amount_paid=2500 * lines if status == "paid" else 0,
            hosted_invoice_url=f"https://invoice.stripe.test/in_fake{n}",
            due_date=dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC),
            **fields,
        )
        for _ in range(lines):
            task = TaskFactory(agency=agency, contract_line=line, status="completed")
            Charge.objects.create(
                agency=agency,
                kind=ChargeKind.TASK,
                task=task,
                contract_line=line,
                terms=terms,
                client=client,
                minutes_logged=40,
                minutes_billed=60,
                amount=2500,
                currency="USD",
                description=task.title,
                status=ChargeStatus.INVOICED,
                idempotency_key=f"charge-task-{task.pk}",
                invoice=invoice,
            )
    return invoice


def rows(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-invoice="(\d+)"', response.content.decode())}


# -- client members -------------------------------------------------------------------------


def test_a_client_sees_only_their_own_issued_invoices(agency, member, signed_in):
    mine = member(Role.CLIENT)
    ours = make_invoice(agency, mine.client)
    paid = make_invoice(agency, mine.client, status="paid")
    draft = make_invoice(agency, mine.client, status="draft")
    theirs = make_invoice(agency, ClientFactory(agency=agency))
    http = signed_in(mine.user)

    page = http.get(reverse("our_invoices", args=[agency.slug]))
    assert page.status_code == 200
    assert rows(page) == {ours.pk, paid.pk}  # drafts are the agency's work in progress
    html = page.content.decode()
    assert html.count('data-testid="pay-link"') == 1  # only the open one can be paid
    assert ours.hosted_invoice_url in html and "$25.00" in html
    # Due at 03:00 UTC on 1 March is still 28 February in New York.
    assert "28 Feb 2026" in html

    detail = http.get(reverse("our_invoice_detail", args=[agency.slug, ours.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    with agency_scope(agency):
        charge = ours.charges.select_related("task", "contract_line__service").get()
    assert charge.task.title in html and charge.contract_line.service.name in html
    assert "$25.00 per task" in html  # the terms summary
    assert 'data-testid="pay-link"' in html

    for other in (theirs, draft):
        url = reverse("our_invoice_detail", args=[agency.slug, other.pk])
        assert http.get(url).status_code == 404


def test_assistants_have_no_invoice_pages(agency, member, signed_in):
    invoice = make_invoice(agency, ClientFactory(agency=agency))
    http = signed_in(member(Role.ASSISTANT).user)
    for url in (
        reverse("our_invoices", args=[agency.slug]),
        reverse("invoice_list", args=[agency.slug]),
        reverse("invoice_detail", args=[agency.slug, invoice.pk]),
        reverse("stripe_settings", args=[agency.slug]),
    ):
        assert http.get(url).status_code == 403, url


# -- staff ----------------------------------------------------------------------------------


def test_staff_see_every_invoice_filter_them_and_read_one(agency, admin, signed_in):
    first, second = ClientFactory(agency=agency), ClientFactory(agency=agency)
    a = make_invoice(agency, first, lines=2)
    b = make_invoice(agency, second, status="paid")
    c = make_invoice(agency, second, status="draft")
    http = signed_in(admin.user)
    url = reverse("invoice_list", args=[agency.slug])
    assert rows(http.get(url)) == {a.pk, b.pk, c.pk}
    assert rows(http.get(url, {"status": "paid"})) == {b.pk}
    assert rows(http.get(url, {"client": first.pk})) == {a.pk}
    assert rows(http.get(url, {"status": "nonsense"})) == {a.pk, b.pk, c.pk}

    with agency_scope(agency):
        StripeEvent.objects.create(
            agency=agency, event_id="evt_1", type="invoice.finalized", object_id="in_fake_x"
        )
        StripeEvent.objects.create(
            agency=agency, event_id="evt_2", type="invoice.sent", object_id=a.stripe_invoice_id
        )
    detail = http.get(reverse("invoice_detail", args=[agency.slug, a.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert html.count('data-testid="invoice-line"') == 2
    assert a.stripe_invoice_id in html and "invoice.sent" in html
    assert "invoice.finalized" not in html  # another invoice's event
    assert "Send it again" in html and "Void the invoice" in html
    paid = http.get(reverse("invoice_detail", args=[agency.slug, b.pk])).content.decode()
    assert "Send it again" not in paid and "Void the invoice" not in paid


@pytest.mark.parametrize("page", ["staff", "client"])
def test_invoice_lists_cost_the_same_at_any_size(
    page, agency, admin, member, signed_in, count_queries
):
    person = member(Role.CLIENT)
    client = person.client
    if page == "staff":
        http, url = signed_in(admin.user), reverse("invoice_list", args=[agency.slug])
    else:
        http, url = signed_in(person.user), reverse("our_invoices", args=[agency.slug])
    line = flat_line(agency, client)
    make_invoice(agency, client, line=line)
    http.get(url)  # warm the session and caches
    few = count_queries(lambda: http.get(url))
    for _ in range(49):
        make_invoice(agency, client, line=line, lines=2)
    many = count_queries(lambda: http.get(url))
    assert many == few
    assert len(rows(http.get(url))) == 50


def test_the_invoice_api_per_role_costs_the_same_at_any_size(
    agency, admin, member, api, count_queries
):
    person = member(Role.CLIENT)
    line = flat_line(agency, person.client)
    ours = make_invoice(agency, person.client, line=line)
    make_invoice(agency, person.client, line=line, status="draft")
    theirs = make_invoice(agency, ClientFactory(agency=agency))
    url = reverse("api:invoice-list", args=[agency.slug])
    staff, client = api(admin.user), api(person.user)

    staff_rows = staff.get(url).json()["results"]
    assert len(staff_rows) == 3
    row = next(r for r in staff_rows if r["id"] == ours.pk)
    assert row["stripe_invoice_id"] == ours.stripe_invoice_id
    assert len(row["lines"]) == 1 and row["lines"][0]["amount"] == 2500
    client_rows = client.get(url).json()["results"]
    assert [r["id"] for r in client_rows] == [ours.pk]
    assert "stripe_invoice_id" not in client_rows[0] and "void_reason" not in client_rows[0]
    assert client_rows[0]["lines"][0]["task_title"]
    detail = reverse("api:invoice-detail", args=[agency.slug, theirs.pk])
    assert client.get(detail).status_code == 404
    assert staff.get(detail).status_code == 200
    assert api(member(Role.ASSISTANT).user).get(url).status_code == 403
    bad = staff.get(url, {"status": "late"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invoice_status_invalid")
    void = reverse("api:invoice-void", args=[agency.slug, ours.pk])
    assert client.post(void, {"reason": "no"}).status_code == 403

    few = [count_queries(lambda: staff.get(url)), count_queries(lambda: client.get(url))]
    for _ in range(49):
        make_invoice(agency, person.client, line=line, lines=2)
    many = [count_queries(lambda: staff.get(url)), count_queries(lambda: client.get(url))]
    assert many == few


# -- voiding and resending, through Stripe ----------------------------------------------------


def open_sent_invoice(agency) -> Invoice:
    line = per_task(agency, fee=12000, collection="send_invoice")
    invoice = push(agency, make_charge(agency, line))
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "open"
    return invoice


def test_voiding_through_the_page(agency, admin, signed_in, stripe_on):
    invoice = open_sent_invoice(agency)
    http = signed_in(admin.user)
    url = reverse("invoice_void", args=[agency.slug, invoice.pk])

    response = http.post(url, {"reason": ""}, follow=True)
    assert "Say why this invoice is voided." in response.content.decode()
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "open"

    response = http.post(url, {"reason": "Billed twice"}, follow=True)
    assert response.status_code == 200 and "voided" in response.content.decode()
    with agency_scope(agency):
        invoice.refresh_from_db()
        audit = AuditEvent.objects.get(action="invoice.voided")
    assert invoice.status == "void" and invoice.voided_at and invoice.void_reason == "Billed twice"
    assert audit.details["reason"] == "Billed twice"
    assert stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id).status == "void"

    # Again: refused with a message, not a 500.
    response = http.post(url, {"reason": "Again"}, follow=True)
    assert response.status_code == 200
    assert "Only open or uncollectible invoices can be voided" in response.content.decode()


def test_voiding_through_the_api_and_refusals(agency, admin, api, stripe_on):
    invoice = open_sent_invoice(agency)
    staff = api(admin.user)
    url = reverse("api:invoice-void", args=[agency.slug, invoice.pk])

    missing = staff.post(url, {})
    assert (missing.status_code, missing.json()["code"]) == (400, "invoice_void_reason_required")
    done = staff.post(url, {"reason": "Wrong client"})
    assert done.status_code == 200
    assert done.json()["status"] == "void" and done.json()["void_reason"] == "Wrong client"

    paid = make_invoice(agency, ClientFactory(agency=agency), status="paid")
    refused = staff.post(
        reverse("api:invoice-void", args=[agency.slug, paid.pk]), {"reason": "Oops"}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "invoice_not_voidable")


def test_voiding_what_stripe_already_closed_catches_up_and_says_so(agency, admin, api, stripe_on):
    invoice = open_sent_invoice(agency)
    # Paid out of band in Stripe; our copy has not heard yet.
    stripe_on.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    response = api(admin.user).post(
        reverse("api:invoice-void", args=[agency.slug, invoice.pk]), {"reason": "Late"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "stripe_refused")
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "paid" and not invoice.void_reason


def test_resending_through_the_page_and_the_api(agency, admin, signed_in, api, stripe_on):
    invoice = open_sent_invoice(agency)
    page = signed_in(admin.user).post(
        reverse("invoice_resend", args=[agency.slug, invoice.pk]), follow=True
    )
    assert page.status_code == 200 and "again" in page.content.decode()
    response = api(admin.user).post(reverse("api:invoice-resend", args=[agency.slug, invoice.pk]))
    assert response.status_code == 200 and response.json()["status"] == "open"
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="invoice.resent").count() == 2

    card = make_invoice(
        agency, ClientFactory(agency=agency), collection_method="charge_automatically"
    )
    refused = api(admin.user).post(reverse("api:invoice-resend", args=[agency.slug, card.pk]))
    assert (refused.status_code, refused.json()["code"]) == (400, "invoice_not_sendable")
    paid = make_invoice(agency, ClientFactory(agency=agency), status="paid")
    refused = api(admin.user).post(reverse("api:invoice-resend", args=[agency.slug, paid.pk]))
    assert (refused.status_code, refused.json()["code"]) == (400, "invoice_not_open")


def test_stripe_unreachable_is_a_clear_message(agency, admin, api, settings, stripe_on):
    invoice = open_sent_invoice(agency)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    response = api(admin.user).post(
        reverse("api:invoice-void", args=[agency.slug, invoice.pk]), {"reason": "Test"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "stripe_unreachable")


# -- the Stripe settings page -----------------------------------------------------------------


def test_the_stripe_settings_page_connects_and_checks(agency, member, signed_in, stripe_on):
    owner = member(Role.OWNER)
    http = signed_in(owner.user)
    url = reverse("stripe_settings", args=[agency.slug])
    page = http.get(url).content.decode()
    assert 'data-testid="stripe-platform"' in page
    assert f"/billing/stripe/webhook/{agency.slug}/" in page

    refused = http.post(url, {"secret_key": "pk_test_nothing1234", "webhook_secret": ""})
    assert refused.status_code == 200
    assert "That is not a Stripe secret key" in refused.content.decode()
    assert "pk_test_nothing1234" not in refused.content.decode()  # never rendered back

    key, secret = "sk_test_agencyOwnKey9876", "whsec_abcdefgh12345678"
    response = http.post(url, {"secret_key": key, "webhook_secret": secret}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200 and "sk_test_…9876" in html
    assert key not in html and secret not in html
    with agency_scope(agency):
        account = StripeAccount.objects.get()
    assert key not in account.secret_key_encrypted and account.secret_key == key

    checked = http.post(url, {"action": "check"}, follow=True)
    assert "Stripe accepted the key." in checked.content.decode()
