"""Credit notes, as Stripe issues them on a finalized invoice.

On an open invoice a credit note lowers what is due (`pre_payment`); one that leaves
nothing due settles the invoice, which is marked paid. On a paid invoice it is
`post_payment` and says where the money goes: back to the card (`refund_amount`, a Refund
of at most what was paid and not refunded yet), onto the customer's balance as a credit
for later invoices (`credit_amount`), or settled outside Stripe (`out_of_band_amount`);
the three add up to the credit note's total. Whole or part lines of the invoice, custom
lines or a bare amount, never more in all than the invoice's total.

Mixed into `api.StripeState`, whose storage helpers and lock it uses.
"""

from __future__ import annotations

import copy

from .currencies import check_amount
from .errors import bad_param
from .fixtures import build
from .params import _choice, _int, _known, _metadata, _now, _str, new_id
from .tax_rates import line_taxes, sum_taxes, tax_split

REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")


class CreditNotes:
    def credit_note_create(self, ctx, params):
        _known(
            params,
            "invoice",
            "amount",
            "lines",
            "reason",
            "memo",
            "metadata",
            "refund_amount",
            "credit_amount",
            "out_of_band_amount",
        )
        invoice = self._get("invoice", _str(params, "invoice", required=True), ctx, "invoice")
        if invoice["status"] not in ("open", "paid"):
            raise bad_param(
                "invoice",
                f"Credit notes can only be issued on open or paid invoices; {invoice['id']} is "
                f"{invoice['status']}.",
                "invoice_unexpected_status",
            )
        currency = invoice["currency"]
        reason = _choice(params, "reason", REASONS)
        lines = self._credit_lines(invoice, params)
        given = _int(params, "amount", minimum=1)
        # A credited line carries its share of the line's tax: exclusive tax is added on
        # top of the amount credited, inclusive tax is the part of it the rate holds.
        subtotal, included, added = tax_split(lines)
        if lines:
            amount = subtotal + added
            if given is not None and given != amount:
                raise bad_param("amount", "amount must equal the sum of the lines' amounts.")
        elif given is None:
            raise bad_param(
                "amount", "Give the credit note an amount or lines.", "parameter_missing"
            )
        else:
            amount = subtotal = given
        check_amount(amount, currency, "amount")
        credited = invoice["pre_payment_credit_notes_amount"]
        credited += invoice["post_payment_credit_notes_amount"]
        if amount > invoice["total"] - credited:
            raise bad_param(
                "amount",
                f"The credit note's total ({amount}) is more than what is left to credit on "
                f"the invoice ({invoice['total'] - credited}).",
            )
        refund = _int(params, "refund_amount", minimum=0) or 0
        credit = _int(params, "credit_amount", minimum=0) or 0
        out_of_band = _int(params, "out_of_band_amount", minimum=0) or 0
        if invoice["status"] == "open":
            if refund or credit or out_of_band:
                raise bad_param(
                    "refund_amount",
                    "A credit note on an open invoice lowers what is due; refund_amount, "
                    "credit_amount and out_of_band_amount are for paid invoices.",
                )
            kind, pre, post = "pre_payment", amount, 0
            if amount > invoice["amount_remaining"]:
                raise bad_param(
                    "amount",
                    f"The credit note's total ({amount}) is more than the invoice's amount "
                    f"remaining ({invoice['amount_remaining']}).",
                )
        else:
            if refund + credit + out_of_band != amount:
                raise bad_param(
                    "amount",
                    "On a paid invoice, refund_amount, credit_amount and out_of_band_amount "
                    f"must add up to the credit note's total ({amount}).",
                )
            refundable = invoice["amount_paid"] - self.refunded.get(invoice["id"], 0)
            if refund > refundable:
                raise bad_param(
                    "refund_amount",
                    f"refund_amount ({refund}) is more than the invoice's payment not yet "
                    f"refunded ({refundable}).",
                )
            kind, pre, post = "post_payment", 0, amount
        now = _now()
        customer = self.objects[invoice["customer"]]
        number = self.credit_note_counts.get(invoice["id"], 0) + 1
        self.credit_note_counts[invoice["id"]] = number
        note_id = new_id("cn")
        for line in lines:
            line["id"] = new_id("cnli")
        note = build(
            "credit_note",
            id=note_id,
            amount=amount,
            amount_shipping=0,
            created=now,
            currency=currency,
            customer=customer["id"],
            customer_balance_transaction=None,
            discount_amount=0,
            discount_amounts=[],
            effective_at=now,
            invoice=invoice["id"],
            lines={
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": f"/v1/credit_notes/{note_id}/lines",
            },
            livemode=False,
            memo=_str(params, "memo"),
            metadata=_metadata({}, params),
            number=f"{invoice['number']}-CN-{number:02d}",
            out_of_band_amount=out_of_band or None,
            pdf=invoice["hosted_invoice_url"],
            post_payment_amount=post,
            pre_payment_amount=pre,
            pretax_credit_amounts=[],
            reason=reason,
            refunds=[],
            shipping_cost=None,
            status="issued",
            subtotal=subtotal,
            subtotal_excluding_tax=subtotal - included,
            total=amount,
            total_excluding_tax=subtotal - included,
            total_taxes=sum_taxes(lines),
            type=kind,
            voided_at=None,
        )
        if refund:
            refund_id = new_id("re")
            self._store(
                build(
                    "refund",
                    id=refund_id,
                    amount=refund,
                    balance_transaction=None,
                    charge=None,
                    created=now,
                    currency=currency,
                    customer=customer["id"],
                    destination_details=None,
                    metadata={},
                    payment_intent=None,
                    payment_method=None,
                    reason="requested_by_customer",
                    receipt_number=None,
                    status="succeeded",
                ),
                ctx,
            )
            self.refunded[invoice["id"]] = self.refunded.get(invoice["id"], 0) + refund
            note["refunds"] = [
                {
                    "amount_refunded": refund,
                    "refund": refund_id,
                    "type": "refund",
                    "payment_record_refund": None,
                }
            ]
        if credit:
            note["customer_balance_transaction"] = new_id("cbtxn")
            self._set_balance(ctx, customer, customer["balance"] - credit)
        self._store(note, ctx)
        self.credit_note_ids.setdefault(invoice["id"], []).append(note_id)
        if kind == "pre_payment":
            invoice["pre_payment_credit_notes_amount"] += amount
            invoice["amount_due"] -= amount
            invoice["amount_remaining"] -= amount
        else:
            invoice["post_payment_credit_notes_amount"] += amount
        self._emit(ctx, "credit_note.created", note)
        self._emit(ctx, "invoice.updated", invoice)
        if kind == "pre_payment" and invoice["amount_remaining"] == 0:
            self._mark_paid(ctx, invoice)
        return copy.deepcopy(note)

    def _credit_lines(self, invoice: dict, params: dict) -> list[dict]:
        """The credit note's lines, checked against the invoice's own lines."""
        given = params.get("lines")
        if given is None or given == "":
            return []
        if isinstance(given, dict):  # lines[0][...] arrive as a dict keyed by index
            given = [given[key] for key in sorted(given, key=lambda k: int(k))]
        if not isinstance(given, list) or not all(isinstance(line, dict) for line in given):
            raise bad_param("lines", "Invalid array: lines must be a list of hashes")
        invoice_lines = {line["id"]: line for line in self._lines(invoice)}
        credited = self.credited_lines.setdefault(invoice["id"], {})
        lines, taking = [], {}
        for n, line in enumerate(given):
            kind = _choice(line, "type", ("invoice_line_item", "custom_line_item"))
            if kind is None:
                raise bad_param(f"lines[{n}][type]", "Missing required param: type.")
            if kind == "invoice_line_item":
                line_id = _str(line, "invoice_line_item", required=True)
                if line_id not in invoice_lines:
                    raise bad_param(
                        f"lines[{n}][invoice_line_item]",
                        f"No such line on invoice {invoice['id']}: '{line_id}'",
                        "resource_missing",
                    )
                whole = invoice_lines[line_id]["amount"]
                amount = _int(line, "amount", minimum=1)
                amount = whole if amount is None else amount
                taking[line_id] = taking.get(line_id, 0) + amount
                if credited.get(line_id, 0) + taking[line_id] > whole:
                    raise bad_param(
                        f"lines[{n}][amount]",
                        f"The line's credited amount would be more than its amount ({whole}).",
                    )
                description = invoice_lines[line_id]["description"]
                unit_amount = None
                rates = [
                    copy.deepcopy(self.objects[tax["tax_rate_details"]["tax_rate"]])
                    for tax in invoice_lines[line_id]["taxes"]
                ]
            else:
                unit_amount = _int(line, "unit_amount", required=True, minimum=1)
                amount = unit_amount * (_int(line, "quantity", minimum=1) or 1)
                description = _str(line, "description", required=True)
                line_id = None
                rates = []
            lines.append(
                build(
                    "credit_note_line_item",
                    id="",
                    amount=amount,
                    description=description,
                    discount_amount=0,
                    discount_amounts=[],
                    invoice_line_item=line_id,
                    livemode=False,
                    metadata=None,
                    pretax_credit_amounts=[],
                    quantity=1,
                    tax_rates=rates,
                    taxes=line_taxes(amount, rates),
                    type=kind,
                    unit_amount=unit_amount,
                    unit_amount_decimal=str(unit_amount) if unit_amount else None,
                )
            )
        for line_id, amount in taking.items():
            credited[line_id] = credited.get(line_id, 0) + amount
        return lines

    def credit_note_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("credit_note", id, ctx))

    def credit_note_list(self, ctx, params):
        _known(params, "invoice", "customer", "limit", "starting_after", "ending_before")
        invoice, customer = _str(params, "invoice"), _str(params, "customer")
        notes = [
            note
            for note in self._all("credit_note", ctx)
            if invoice in (None, note["invoice"]) and customer in (None, note["customer"])
        ]
        return self._page(notes, params, "/v1/credit_notes")


def credit_note_state() -> dict:
    """What StripeState keeps for credit notes, emptied on reset."""
    return {
        "credit_note_ids": {},  # invoice id -> its credit notes, oldest first
        "credit_note_counts": {},  # invoice id -> how many it has had (their numbers)
        "credited_lines": {},  # invoice id -> {line id: amount credited so far}
        "refunded": {},  # invoice id -> amount refunded so far
    }
