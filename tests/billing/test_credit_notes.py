"""Credit notes: staff credit an open or paid invoice (a line, part of one, or an
amount), through Stripe's credit notes, exactly once; the client sees it."""

import pytest
from django.urls import reverse

from billing.credit_notes import credit_note_issue
from billing.models import CreditNote, CreditNoteStatus, Invoice
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoicing import card_on_file, make_charge, per_task, push
from tests.conftest import stripe_control


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


def sent_invoice(agency, fee=5000):
    """An open invoice, sent to pay by link, with one line."""
    line = per_task(agency, fee=fee, collection="send_invoice")
    charge = make_charge(agency, line)
    return push(agency, charge), charge


def paid_invoice(agency, stripe_on, fee=5000):
    line = per_task(agency, fee=fee)
    card_on_file(agency, line.contract.client, stripe_on)
    charge = make_charge(agency, line)
    return push(agency, charge), charge


def issue(agency, actor, invoice, **fields):
    fields.setdefault("reason", "order_change")
    fields.setdefault("memo", "Half the calls were not made.")
    with agency_scope(agency):
        return credit_note_issue(agency=agency, actor=actor, invoice=invoice, **fields)


def test_part_of_a_line_on_an_open_invoice_lowers_what_is_due(agency, admin, stripe_on):
    invoice, charge = sent_invoice(agency)
    note = issue(agency, admin, invoice, charge=charge, amount=2000)
    assert note.status == CreditNoteStatus.ISSUED and note.settlement == "due"
    remote = stripe_on.v1.credit_notes.retrieve(note.stripe_credit_note_id)
    assert (remote.amount, remote.type, remote.memo) == (2000, "pre_payment", note.memo)
    assert remote.lines.data[0].type == "invoice_line_item"
    assert remote.number == note.number
    with agency_scope(agency):
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_due, invoice.total) == ("open", 3000, 5000)
        assert invoice.credited == 2000
        event = AuditEvent.objects.get(action="invoice.credited")
        assert event.actor == admin and event.details["amount"] == 2000
    # The rest of the line, by naming the line alone; then nothing is left to credit.
    rest = issue(agency, admin, invoice, charge=charge)
    assert rest.amount == 3000
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)


def test_a_paid_invoice_is_refunded_or_credited_to_the_balance(agency, admin, stripe_on):
    invoice, _ = paid_invoice(agency, stripe_on)
    refunded = issue(agency, admin, invoice, amount=1000, settlement="refund")
    remote = stripe_on.v1.credit_notes.retrieve(refunded.stripe_credit_note_id)
    assert remote.type == "post_payment" and remote.refunds[0].amount_refunded == 1000
    kept = issue(agency, admin, invoice, amount=1500, settlement="balance")
    assert kept.settlement == "balance"
    customer = stripe_on.v1.customers.retrieve(invoice.client.stripe_customer_id)
    assert customer.balance == -1500
    with agency_scope(agency):
        invoice.refresh_from_db()
        assert invoice.credited == 2500 and invoice.status == "paid"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"amount": 6000}, "credit_amount_too_large"),
        ({"amount": 0}, "credit_amount_invalid"),
        ({"amount": 1000, "memo": " "}, "credit_memo_required"),
        ({"amount": 1000, "memo": "x" * 501}, "credit_memo_too_long"),
        ({"amount": 1000, "reason": "because"}, "credit_reason_invalid"),
        ({"amount": 1000, "settlement": "refund"}, "credit_settlement_invalid"),
        ({}, "credit_amount_required"),
    ],
)
def test_what_cannot_be_credited_is_refused_and_nothing_is_written(
    agency, admin, stripe_on, fields, code
):
    invoice, _ = sent_invoice(agency)
    with pytest.raises(ApplicationError) as refused:
        issue(agency, admin, invoice, **fields)
    assert refused.value.code == code
    with agency_scope(agency):
        assert not CreditNote.objects.exists()
    assert stripe_on.v1.credit_notes.list().data == []


def test_a_paid_invoice_must_say_where_the_money_goes(agency, admin, stripe_on):
    invoice, _ = paid_invoice(agency, stripe_on)
    with pytest.raises(ApplicationError) as refused:
        issue(agency, admin, invoice, amount=1000)
    assert refused.value.code == "credit_settlement_invalid"


def test_a_credit_never_passes_the_line_or_the_invoice(agency, admin, stripe_on):
    invoice, charge = sent_invoice(agency)
    issue(agency, admin, invoice, amount=4000)
    with pytest.raises(ApplicationError) as refused:
        issue(agency, admin, invoice, charge=charge, amount=1500)
    assert refused.value.extra["most"] == 1000


def test_a_voided_invoice_takes_no_credit(agency, admin, stripe_on):
    invoice, _ = sent_invoice(agency)
    with agency_scope(agency):
        Invoice.objects.filter(pk=invoice.pk).update(status="void")
    with pytest.raises(ApplicationError) as refused:
        issue(agency, admin, invoice, amount=100)
    assert refused.value.code == "invoice_not_creditable"


@pytest.mark.parametrize("mode", ["error", "error_after", "drop"])
def test_exactly_once_when_stripe_fails(agency, admin, stripe_on, stripe_server, mode):
    invoice, _ = sent_invoice(agency)
    stripe_control(
        stripe_server,
        "POST",
        "/_test/faults",
        {"mode": mode, "paths": ["/v1/credit_notes"], "methods": ["POST"], "rate": 1.0},
    )
    if mode == "error_after":
        # Stripe did the work before its 500: the look by metadata finds the credit note.
        issue(agency, admin, invoice, amount=1000)
    else:
        with pytest.raises(ApplicationError) as unreachable:
            issue(agency, admin, invoice, amount=1000)
        assert unreachable.value.code == "stripe_unreachable"
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    with agency_scope(agency):
        [note] = CreditNote.objects.all()
        assert note.status == (
            CreditNoteStatus.ISSUED if mode == "error_after" else CreditNoteStatus.PENDING
        )
    # The job that finishes it (queued when Stripe could not be reached), run again.
    from billing.credit_notes import credit_note_finish

    with agency_scope(agency):
        credit_note_finish(agency=agency, credit_note_id=note.pk)
        credit_note_finish(agency=agency, credit_note_id=note.pk)
        note.refresh_from_db()
        assert note.status == CreditNoteStatus.ISSUED
    assert [n.id for n in stripe_on.v1.credit_notes.list().data] == [note.stripe_credit_note_id]


def test_staff_credit_through_the_page_and_the_client_sees_it(agency, member, signed_in, stripe_on):
    invoice, charge = sent_invoice(agency)
    staff = signed_in(member(Role.ADMIN).user)
    detail = reverse("invoice_detail", args=[agency.slug, invoice.pk])
    assert 'data-testid="credit-form"' in staff.get(detail).content.decode()
    url = reverse("invoice_credit", args=[agency.slug, invoice.pk])

    bad = staff.post(
        url, {"charge": charge.pk, "amount": "80.00", "reason": "order_change", "memo": "Kept"}
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "At most $50.00 can still be credited on this line" in html and "Kept" in html

    done = staff.post(
        url, {"charge": charge.pk, "amount": "12.50", "reason": "order_change", "memo": "Late"}
    )
    assert done.status_code == 302
    with agency_scope(agency):
        note = CreditNote.objects.get()
    assert note.amount == 1250

    person = member(Role.CLIENT, client=invoice.client)
    mine = signed_in(person.user)
    page = mine.get(reverse("our_invoice_detail", args=[agency.slug, invoice.pk])).content.decode()
    assert 'data-testid="credit-note"' in page and "Late" in page and "\N{MINUS SIGN}$12.50" in page
    assert mine.post(url, {"amount": "1", "reason": "order_change", "memo": "x"}).status_code in (
        403,
        404,
    )
    with agency_scope(agency):
        assert CreditNote.objects.count() == 1
