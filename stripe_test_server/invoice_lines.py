"""Bulk line operations on a draft invoice: `POST /v1/invoices/{id}/add_lines`.

As on Stripe, each new line is backed by an invoice item on the invoice (so listing the
invoice's items, or its lines, shows it with its metadata), a line may instead name a
pending invoice item of the same customer to move onto the invoice, and the request is all
or nothing: a line Stripe would refuse leaves the invoice as it was. The answer is the
invoice, with `invoice_metadata` merged into its metadata.
"""

from __future__ import annotations

import copy

from .errors import StripeError, bad_param
from .params import _known, _metadata, _str

# What a line may carry besides an existing invoice item: an invoice item's own fields, minus
# those the invoice decides (customer, currency) and the invoice itself.
_ITEM_ONLY = ("customer", "currency", "invoice")


class InvoiceLines:
    def invoice_add_lines(self, ctx, params, id):
        _known(params, "lines", "invoice_metadata")
        invoice = self._get("invoice", id, ctx)
        if invoice["status"] != "draft":
            raise StripeError(
                400,
                f"Invoice {id} is no longer editable: lines can only be added to a draft.",
                code="invoice_not_editable",
            )
        lines = params.get("lines")
        if not isinstance(lines, list) or not lines:
            raise bad_param("lines", "Missing required param: lines.", "parameter_missing")
        for position, line in enumerate(lines):
            if not isinstance(line, dict):
                raise bad_param(f"lines[{position}]", "Invalid object: a line must be a hash")
            for name in _ITEM_ONLY:
                if name in line:
                    raise bad_param(
                        f"lines[{position}][{name}]", f"Received unknown parameter: {name}"
                    )
        metadata = None
        if "invoice_metadata" in params:
            metadata = _metadata(invoice["metadata"], {"metadata": params["invoice_metadata"]})
        made: list[str] = []
        moved: list[str] = []

        def attach(invoice, item):
            # Totals once for the request, not once per line (each pass reads every line).
            item["invoice"] = invoice["id"]
            self.invoice_item_ids[invoice["id"]].append(item["id"])

        # The handlers run under the state's lock, so no other request sees this one's.
        self._add_to_invoice = attach
        try:
            for position, line in enumerate(lines):
                item_id = _str(line, "invoice_item")
                if item_id is not None:
                    self._move_pending_item(ctx, invoice, item_id, position, line)
                    moved.append(item_id)
                    continue
                try:
                    item = self.invoiceitem_create(
                        ctx,
                        {
                            **line,
                            "customer": invoice["customer"],
                            "currency": invoice["currency"],
                            "invoice": invoice["id"],
                        },
                    )
                except StripeError as error:
                    if error.param:
                        error.param = f"lines[{position}][{error.param}]"
                    raise
                made.append(item["id"])
        except StripeError:
            self._undo_lines(invoice, made, moved)
            raise
        finally:
            del self._add_to_invoice
        self._refresh_totals(invoice)
        if metadata is not None:
            invoice["metadata"] = metadata
        return copy.deepcopy(invoice)

    def _move_pending_item(self, ctx, invoice, item_id, position, line) -> None:
        if set(line) - {"invoice_item"}:
            raise bad_param(
                f"lines[{position}]", "A line naming an invoice_item takes no other fields here."
            )
        item = self._get("invoiceitem", item_id, ctx, f"lines[{position}][invoice_item]")
        if item["invoice"] is not None:
            raise bad_param(
                f"lines[{position}][invoice_item]",
                f"Invoice item {item_id} is already on invoice {item['invoice']}.",
            )
        if item["customer"] != invoice["customer"] or item["currency"] != invoice["currency"]:
            raise bad_param(
                f"lines[{position}][invoice_item]",
                "The invoice item belongs to another customer or is in another currency.",
            )
        self.pending_item_ids[item["customer"]].pop(item_id)
        self._add_to_invoice(invoice, item)

    def _undo_lines(self, invoice, made: list[str], moved: list[str]) -> None:
        """All or nothing: take back what this request did before the line that failed."""
        for item_id in made:
            self.invoice_item_ids[invoice["id"]].remove(item_id)
            self.line_ids.pop(item_id, None)
            self._forget(item_id)
        for item_id in moved:
            item = self.objects[item_id]
            self.invoice_item_ids[invoice["id"]].remove(item_id)
            item["invoice"] = None
            self.pending_item_ids.setdefault(item["customer"], {})[item_id] = None
        self._refresh_totals(invoice)
