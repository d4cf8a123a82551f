"""Stripe's API for the endpoints the product uses: customers, payment methods, invoice
items, invoices, webhook endpoints and events, held in memory.

Every handler runs under `StripeState.lock`, so a request is atomic: idempotent replays,
webhook fan-out and totals never see half a request. Objects are partitioned by account
(the API key, plus Stripe-Account when sent), as Stripe partitions them: one agency's
key never sees, lists or receives webhooks for another's objects.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .cards import TEST_CARD_NUMBERS, TEST_PAYMENT_METHODS, TestCard
from .checkout import CHECKOUT_EVENTS, Checkout, checkout_state
from .credit_notes import CreditNotes, credit_note_state
from .currencies import check_amount, minimum_charge
from .errors import StripeError, bad_param, missing
from .fixtures import build
from .invoice_lines import InvoiceLines
from .params import (
    _bool,
    _choice,
    _created,
    _currency,
    _dict,
    _expand_paths,
    _int,
    _known,
    _metadata,
    _now,
    _str,
    new_id,
)
from .tax_rates import TaxRates, line_taxes, sum_taxes, tax_split
from .webhooks import Delivery

Account = tuple[str, str | None]


# Stripe's name for each object in "No such ..." messages.
_LABELS = {
    "customer": "customer",
    "invoice": "invoice",
    "invoiceitem": "invoiceitem",
    "payment_method": "PaymentMethod",
    "webhook_endpoint": "webhook endpoint",
    "event": "event",
    "checkout.session": "checkout.session",
    "setup_intent": "setupintent",
    "billing_portal.session": "billing portal session",
    "tax_rate": "tax rate",
}

__all__ = ["TEST_CARD_NUMBERS", "TEST_PAYMENT_METHODS", "TestCard"]


INVOICE_EVENTS = (
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.sent",
    "invoice.voided",
    "invoice.marked_uncollectible",
)
EVENT_TYPES = (
    *INVOICE_EVENTS,
    "invoiceitem.created",
    "customer.created",
    "customer.updated",
    "credit_note.created",
    *CHECKOUT_EVENTS,
)

# An account's default API version until a request names one (StripeState.dispatch keeps
# the first Stripe-Version an account sends): the version stripe-python 16.1 sends.
# Events carry the account's version, or their webhook endpoint's own.
DEFAULT_API_VERSION = "2026-10-28.endive"
_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")


@dataclass
class RequestContext:
    account: Account
    request_id: str | None = None
    idempotency_key: str | None = None
    public_url: str = "http://127.0.0.1"


# --- state ------------------------------------------------------------------------------


class StripeState(CreditNotes, Checkout, InvoiceLines, TaxRates):
    def __init__(self, deliver: Callable[[Delivery], None] | None = None):
        self.lock = threading.RLock()
        self.deliver = deliver or (lambda delivery: None)
        # Endpoints given when the server starts (--webhook): every account's events go to
        # them, signed with their secret, so a local app hears of payments with no setup.
        self.forwards: list[tuple[str, str]] = []
        self.routes = [
            (method, re.compile(pattern), getattr(self, handler))
            for method, pattern, handler in ROUTES
        ]
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict] = {}
            self.owners: dict[str, Account] = {}
            # (account, kind) -> ids in creation order, and customer id -> ids of its items
            # on no invoice yet: lists and new invoices read these instead of every object,
            # so a long run (the billing benchmark) costs the same per request throughout.
            self.ids_by_kind: dict[tuple[Account, str], dict[str, None]] = {}
            self.pending_item_ids: dict[str, dict[str, None]] = {}
            # customer id -> its draft invoices, whose starting balance follows the customer's.
            self.draft_ids: dict[str, dict[str, None]] = {}
            self.invoice_item_ids: dict[str, list[str]] = {}  # invoice id -> items, oldest first
            self.line_ids: dict[str, str] = {}  # invoice item id -> its line item id
            self.cards: dict[str, TestCard] = {}  # payment method id -> how it behaves
            self.secrets: dict[str, str] = {}  # webhook endpoint id -> signing secret
            self.sent_at: dict[str, int] = {}  # invoice id -> when it was last sent
            # Stripe keeps days_until_due internally and turns it into due_date on finalizing.
            self.days_until_due: dict[str, int | None] = {}
            self.api_versions: dict[Account, str] = {}
            for name, empty in {**credit_note_state(), **checkout_state()}.items():
                setattr(self, name, empty)

    def dispatch(self, method: str, path: str, params: dict, ctx: RequestContext, version=None):
        handler, match = self._route(method, path)
        with self.lock:
            if version:
                # Like Stripe, an account's events use the version it first called with.
                self.api_versions.setdefault(ctx.account, version)
            body = handler(ctx, params, **match.groupdict())
            for path_parts in _expand_paths(params):
                body = self._expand(body, path_parts, ctx)
            return body

    def _route(self, method: str, path: str):
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _hosted_ctx(self, object_id: str, public_url: str) -> RequestContext:
        """Acting in the account that owns `object_id`, for one of the hosted pages: Stripe's
        own pages, not API requests, so their events carry no request."""
        return RequestContext(account=self.owners[object_id], public_url=public_url)

    # --- storage helpers ----------------------------------------------------------------

    def _store(self, obj: dict, ctx: RequestContext) -> dict:
        self.objects[obj["id"]] = obj
        self.owners[obj["id"]] = ctx.account
        self.ids_by_kind.setdefault((ctx.account, obj["object"]), {})[obj["id"]] = None
        return obj

    def _forget(self, object_id: str) -> None:
        obj = self.objects.pop(object_id)
        self.ids_by_kind[(self.owners[object_id], obj["object"])].pop(object_id)

    def _get(self, kind: str, object_id: str, ctx: RequestContext, param: str = "id") -> dict:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind or self.owners[object_id] != ctx.account:
            raise missing(_LABELS[kind], object_id, param)
        return obj

    def _all(self, kind: str, ctx: RequestContext) -> list[dict]:
        """This account's objects of a kind, newest first as Stripe lists them."""
        return [self.objects[i] for i in reversed(self.ids_by_kind.get((ctx.account, kind), {}))]

    def _page(self, items: list[dict], params: dict, url: str) -> dict:
        limit = _int(params, "limit", minimum=1)
        limit = 10 if limit is None else limit
        if limit > 100:
            raise bad_param("limit", "Invalid limit: must be between 1 and 100")
        after, before = _str(params, "starting_after"), _str(params, "ending_before")
        ids = [item["id"] for item in items]
        for name, cursor in (("starting_after", after), ("ending_before", before)):
            if cursor is not None and cursor not in ids:
                raise bad_param(name, f"No such object: '{cursor}'", "resource_missing")
        if after is not None:
            rest = items[ids.index(after) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif before is not None:
            rest = items[: ids.index(before)]
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        return {
            "object": "list",
            "data": copy.deepcopy(page),
            "has_more": has_more,
            "url": url,
        }

    def _expand(self, node, parts: list[str], ctx: RequestContext):
        if isinstance(node, list):
            return [self._expand(item, parts, ctx) for item in node]
        if not isinstance(node, dict) or parts[0] not in node:
            return node
        value = node[parts[0]]
        if isinstance(value, str) and self.owners.get(value) == ctx.account:
            value = copy.deepcopy(self.objects[value])
        node[parts[0]] = self._expand(value, parts[1:], ctx) if parts[1:] else value
        return node

    def _api_version(self, account: Account) -> str:
        """The account's default API version: the one it first called with, else ours."""
        return self.api_versions.get(account) or DEFAULT_API_VERSION

    def _emit(
        self,
        ctx: RequestContext,
        event_type: str,
        obj: dict,
        previous_attributes: dict | None = None,
    ) -> dict:
        data = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(previous_attributes)
        event = build(
            "event",
            id=new_id("evt"),
            created=_now(),
            api_version=self._api_version(ctx.account),
            data=data,
            livemode=False,
            pending_webhooks=0,
            request={"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            type=event_type,
        )
        self._store(event, ctx)
        endpoints = [
            endpoint
            for endpoint in self._all("webhook_endpoint", ctx)
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]
        event["pending_webhooks"] = len(endpoints) + len(self.forwards)
        for number, (url, secret) in enumerate(self.forwards):
            payload = json.dumps(event, indent=2).encode()
            self.deliver(Delivery(event["id"], f"we_forward_{number}", url, secret, payload))
        for endpoint in reversed(endpoints):
            # Like Stripe, each endpoint receives the event in its own API version, or in
            # the account's default when it was created without one.
            version = endpoint["api_version"] or event["api_version"]
            payload = json.dumps({**event, "api_version": version}, indent=2).encode()
            self.deliver(
                Delivery(
                    event["id"],
                    endpoint["id"],
                    endpoint["url"],
                    self.secrets[endpoint["id"]],
                    payload,
                )
            )
        return event

    def delivery_settled(self, delivery: Delivery, delivered: bool) -> None:
        with self.lock:
            event = self.objects.get(delivery.event_id)
            if delivered and event is not None:
                event["pending_webhooks"] = max(event["pending_webhooks"] - 1, 0)

    # --- customers ----------------------------------------------------------------------

    def customer_create(self, ctx, params):
        _known(
            params,
            "email",
            "name",
            "description",
            "phone",
            "metadata",
            "invoice_settings",
            "payment_method",
            "preferred_locales",
            "tax_exempt",
        )
        customer = build(
            "customer",
            id=new_id("cus"),
            created=_now(),
            address=None,
            currency=None,
            discount=None,
            shipping=None,
            email=_str(params, "email"),
            name=_str(params, "name"),
            description=_str(params, "description"),
            phone=_str(params, "phone"),
            metadata=_metadata({}, params),
            balance=0,
            tax_exempt=self._customer_tax_exempt(params) or "none",
            invoice_prefix=secrets.token_hex(4).upper(),
            next_invoice_sequence=1,
            preferred_locales=params.get("preferred_locales") or [],
            invoice_settings={
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
        )
        self._store(customer, ctx)
        attached: dict[str, str] = {}
        if (payment_method := _str(params, "payment_method")) is not None:
            self._attach(ctx, payment_method, customer, "payment_method", attached)
        self._apply_invoice_settings(ctx, customer, params, attached)
        self._emit(ctx, "customer.created", customer)
        return copy.deepcopy(customer)

    def customer_list(self, ctx, params):
        _known(params, "email", "created", "limit", "starting_after", "ending_before")
        email, created = _str(params, "email"), _created(params)
        customers = [
            c
            for c in self._all("customer", ctx)
            if (email is None or c["email"] == email) and created(c)
        ]
        return self._page(customers, params, "/v1/customers")

    def customer_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("customer", id, ctx))

    def customer_update(self, ctx, params, id):
        _known(
            params,
            "email",
            "name",
            "description",
            "phone",
            "metadata",
            "invoice_settings",
            "preferred_locales",
            "tax_exempt",
        )
        customer = self._get("customer", id, ctx)
        before = copy.deepcopy(customer)
        for name in ("email", "name", "description", "phone"):
            if name in params:
                customer[name] = _str(params, name)
        customer["metadata"] = _metadata(customer["metadata"], params)
        if "preferred_locales" in params:
            customer["preferred_locales"] = params["preferred_locales"] or []
        if "tax_exempt" in params:
            customer["tax_exempt"] = self._customer_tax_exempt(params) or "none"
        self._apply_invoice_settings(ctx, customer, params, {})
        if previous := _previous_attributes(before, customer):
            self._emit(ctx, "customer.updated", customer, previous)
        return copy.deepcopy(customer)

    def _apply_invoice_settings(self, ctx, customer, params, attached):
        settings = _dict(params, "invoice_settings")
        if settings is None:
            return
        _known(settings, "default_payment_method", "footer")
        if "footer" in settings:
            customer["invoice_settings"]["footer"] = _str(settings, "footer")
        if "default_payment_method" in settings:
            param = "invoice_settings[default_payment_method]"
            payment_method = _str(settings, "default_payment_method")
            if payment_method is not None:
                payment_method = self._payment_method_for(
                    ctx, payment_method, customer, param, attached
                )
            customer["invoice_settings"]["default_payment_method"] = payment_method

    # --- payment methods ----------------------------------------------------------------

    def _materialize(self, ctx, magic_id: str) -> dict:
        """A new payment method from one of Stripe's magic test ids, as Stripe clones them."""
        card = TEST_PAYMENT_METHODS[magic_id]
        payment_method = build(
            "payment_method",
            id=new_id("pm"),
            created=_now(),
            customer=None,
            metadata={},
            allow_redisplay="unspecified",
            billing_details={
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": None,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            card={
                "brand": card.brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": None,
                },
                "country": "US",
                "display_brand": card.brand,
                "exp_month": 12,
                "exp_year": time.gmtime().tm_year + 3,
                "fingerprint": f"test{card.brand[:4]}{card.last4}",
                "funding": "credit",
                "generated_from": None,
                "last4": card.last4,
                "networks": {"available": [card.brand], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
                "regulated_status": "unregulated",
            },
        )
        self.cards[payment_method["id"]] = card
        return self._store(payment_method, ctx)

    def _attach(self, ctx, payment_method_id, customer, param, attached=None) -> dict:
        if attached is not None and payment_method_id in attached:
            return self.objects[attached[payment_method_id]]
        if payment_method_id in TEST_PAYMENT_METHODS:
            payment_method = self._materialize(ctx, payment_method_id)
            if attached is not None:
                attached[payment_method_id] = payment_method["id"]
        else:
            payment_method = self._get("payment_method", payment_method_id, ctx, param)
        if payment_method["customer"] not in (None, customer["id"]):
            raise bad_param(
                param,
                "The payment method you provided has already been attached to a customer.",
                "payment_method_unexpected_state",
            )
        if payment_method["customer"] is None:
            payment_method["customer"] = customer["id"]
            self._emit(ctx, "payment_method.attached", payment_method)
        return payment_method

    def _payment_method_for(self, ctx, payment_method_id, customer, param, attached=None) -> str:
        """A payment method usable for this customer: a magic id is attached on the fly, a
        stored one must already belong to the customer."""
        if payment_method_id in TEST_PAYMENT_METHODS or payment_method_id in (attached or {}):
            return self._attach(ctx, payment_method_id, customer, param, attached)["id"]
        payment_method = self._get("payment_method", payment_method_id, ctx, param)
        if payment_method["customer"] != customer["id"]:
            raise bad_param(
                param,
                f"The customer does not have a payment method with the ID {payment_method_id}. "
                "The payment method must be attached to the customer.",
                "resource_missing",
            )
        return payment_method_id

    def payment_method_retrieve(self, ctx, params, id):
        _known(params)
        if id in TEST_PAYMENT_METHODS:
            return copy.deepcopy(self._materialize(ctx, id))
        return copy.deepcopy(self._get("payment_method", id, ctx))

    def payment_method_attach(self, ctx, params, id):
        _known(params, "customer")
        customer_id = _str(params, "customer", required=True)
        customer = self._get("customer", customer_id, ctx, "customer")
        return copy.deepcopy(self._attach(ctx, id, customer, "payment_method"))

    def payment_method_detach(self, ctx, params, id):
        _known(params)
        payment_method = self._get("payment_method", id, ctx)
        if payment_method["customer"] is None:
            raise StripeError(
                400,
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        self._detach(ctx, payment_method)
        return copy.deepcopy(payment_method)

    def customer_payment_methods(self, ctx, params, id):
        _known(params, "type", "limit", "starting_after", "ending_before")
        self._get("customer", id, ctx)
        kind = _str(params, "type")
        methods = [
            pm
            for pm in self._all("payment_method", ctx)
            if pm["customer"] == id and kind in (None, pm["type"])
        ]
        return self._page(methods, params, f"/v1/customers/{id}/payment_methods")

    # --- invoice items ------------------------------------------------------------------

    def invoiceitem_create(self, ctx, params):
        _known(
            params,
            "customer",
            "amount",
            "currency",
            "description",
            "metadata",
            "invoice",
            "period",
            "quantity",
            "unit_amount",
            "discountable",
            "tax_rates",
        )
        customer = self._get("customer", _str(params, "customer", required=True), ctx, "customer")
        tax_rates = self._tax_rates_param(ctx, params, "tax_rates") or []
        quantity = _int(params, "quantity", minimum=1) or 1
        unit_amount = _int(params, "unit_amount")
        amount = _int(params, "amount", required=unit_amount is None)
        if amount is None:
            amount = unit_amount * quantity
        elif unit_amount is not None:
            raise bad_param("unit_amount", "You may only specify one of amount and unit_amount.")
        currency = _currency(params) or customer["currency"]
        if currency is None:
            raise bad_param("currency", "Missing required param: currency.", "parameter_missing")
        if unit_amount is not None:
            check_amount(unit_amount, currency, "unit_amount")
        check_amount(amount, currency, "amount")
        invoice = None
        if (invoice_id := _str(params, "invoice")) is not None:
            invoice = self._get("invoice", invoice_id, ctx, "invoice")
            if invoice["status"] != "draft":
                raise bad_param(
                    "invoice",
                    f"Invoice {invoice_id} is no longer editable: only draft invoices take "
                    "new items.",
                    "invoice_not_editable",
                )
            if invoice["customer"] != customer["id"]:
                raise bad_param("invoice", "The invoice belongs to a different customer.")
            if invoice["currency"] != currency:
                raise bad_param(
                    "currency",
                    f"The currency of the invoice item ({currency}) must match the invoice's "
                    f"currency ({invoice['currency']}).",
                )
        period = _dict(params, "period") or {}
        now = _now()
        item = build(
            "invoiceitem",
            id=new_id("ii"),
            amount=amount,
            currency=currency,
            customer=customer["id"],
            date=now,
            description=_str(params, "description"),
            discountable=_bool(params, "discountable") is not False,
            invoice=None,
            livemode=False,
            metadata=_metadata({}, params),
            parent=None,
            period={
                "start": _int(period, "start") or now,
                "end": _int(period, "end") or now,
            },
            pricing={"type": "price_details", "unit_amount_decimal": str(amount // quantity)},
            net_amount=amount,
            quantity=quantity,
            quantity_decimal=str(quantity),
            tax_rates=tax_rates,
        )
        self._store(item, ctx)
        self.line_ids[item["id"]] = new_id("il")
        if customer["currency"] is None:
            customer["currency"] = currency
        if invoice is not None:
            self._add_to_invoice(invoice, item)
        else:
            self.pending_item_ids.setdefault(customer["id"], {})[item["id"]] = None
        self._emit(ctx, "invoiceitem.created", item)
        return copy.deepcopy(item)

    def invoiceitem_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("invoiceitem", id, ctx))

    def invoiceitem_list(self, ctx, params):
        _known(params, "customer", "invoice", "pending", "limit", "starting_after", "ending_before")
        customer, invoice = _str(params, "customer"), _str(params, "invoice")
        pending = _bool(params, "pending")
        items = [
            item
            for item in self._all("invoiceitem", ctx)
            if customer in (None, item["customer"])
            and invoice in (None, item["invoice"])
            and (pending is None or pending == (item["invoice"] is None))
        ]
        return self._page(items, params, "/v1/invoiceitems")

    def invoiceitem_delete(self, ctx, params, id):
        _known(params)
        item = self._get("invoiceitem", id, ctx)
        if item["invoice"] is not None:
            invoice = self.objects[item["invoice"]]
            if invoice["status"] != "draft":
                raise StripeError(
                    400,
                    "Invoice items on a finalized invoice can't be deleted.",
                    code="invoice_not_editable",
                )
            self.invoice_item_ids[invoice["id"]].remove(id)
            self._refresh_totals(invoice)
        else:
            self.pending_item_ids[item["customer"]].pop(id)
        self._forget(id)
        return {"id": id, "object": "invoiceitem", "deleted": True}

    # --- invoices -----------------------------------------------------------------------

    def _add_to_invoice(self, invoice: dict, item: dict) -> None:
        item["invoice"] = invoice["id"]
        self.invoice_item_ids[invoice["id"]].append(item["id"])
        self._refresh_totals(invoice)

    def _line(self, item: dict, invoice: dict | None = None) -> dict:
        # An item's own rates, else the invoice's defaults, as on Stripe.
        rates = item["tax_rates"] or (invoice or {}).get("default_tax_rates") or []
        return build(
            "line_item",
            id=self.line_ids[item["id"]],
            amount=item["amount"],
            currency=item["currency"],
            description=item["description"],
            discountable=item["discountable"],
            invoice=item["invoice"],
            livemode=False,
            metadata=dict(item["metadata"]),
            period=dict(item["period"]),
            quantity=item["quantity"],
            quantity_decimal=item["quantity_decimal"],
            subtotal=item["amount"],
            taxes=line_taxes(item["amount"], rates),
            pretax_credit_amounts=[],
            pricing=dict(item["pricing"]),
            parent={
                "invoice_item_details": {
                    "invoice_item": item["id"],
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            },
        )

    def _lines(self, invoice: dict) -> list[dict]:
        return [self._line(self.objects[i], invoice) for i in self.invoice_item_ids[invoice["id"]]]

    def _refresh_totals(self, invoice: dict) -> None:
        """Totals of a draft from its items, with the customer's balance as it stands: a
        debit (positive) adds to the amount due, a credit (negative) takes from it."""
        lines = self._lines(invoice)
        subtotal, included, added = tax_split(lines)
        total = subtotal + added
        starting_balance = self.objects[invoice["customer"]]["balance"]
        amount_due = max(total + starting_balance, 0)
        invoice.update(
            subtotal=subtotal,
            subtotal_excluding_tax=subtotal - included,
            total=total,
            total_excluding_tax=subtotal - included,
            total_taxes=sum_taxes(lines),
            starting_balance=starting_balance,
            amount_due=amount_due,
            amount_remaining=amount_due - invoice["amount_paid"],
            lines={
                "object": "list",
                "data": lines[:10],
                "has_more": len(lines) > 10,
                "url": f"/v1/invoices/{invoice['id']}/lines",
            },
        )

    def invoice_create(self, ctx, params):
        _known(
            params,
            "customer",
            "collection_method",
            "days_until_due",
            "due_date",
            "auto_advance",
            "pending_invoice_items_behavior",
            "metadata",
            "description",
            "currency",
            "default_payment_method",
            "footer",
            "default_tax_rates",
            "custom_fields",
        )
        customer = self._get("customer", _str(params, "customer", required=True), ctx, "customer")
        default_tax_rates = self._tax_rates_param(ctx, params, "default_tax_rates") or []
        custom_fields = _custom_fields(params)
        collection_method = _choice(
            params,
            "collection_method",
            ("charge_automatically", "send_invoice"),
            "charge_automatically",
        )
        days_until_due = _int(params, "days_until_due", minimum=0)
        due_date = _int(params, "due_date")
        if collection_method == "send_invoice" and days_until_due is None and due_date is None:
            raise bad_param(
                "days_until_due",
                "Missing required param: days_until_due or due_date when collection_method is "
                "send_invoice.",
                "parameter_missing",
            )
        if collection_method == "charge_automatically" and (days_until_due or due_date):
            raise bad_param(
                "days_until_due" if days_until_due else "due_date",
                "days_until_due and due_date can only be set when collection_method is "
                "send_invoice.",
            )
        behaviour = _choice(
            params, "pending_invoice_items_behavior", ("include", "exclude"), "exclude"
        )
        pending = [self.objects[i] for i in self.pending_item_ids.get(customer["id"], {})]
        currency = _currency(params)
        if currency is None and behaviour == "include" and pending:
            currencies = {item["currency"] for item in pending}
            if len(currencies) > 1:
                raise bad_param(
                    "currency",
                    "The customer has pending invoice items in more than one currency "
                    f"({', '.join(sorted(currencies))}); pass currency to choose one.",
                )
            currency = currencies.pop()
        currency = currency or customer["currency"] or "usd"
        default_payment_method = _str(params, "default_payment_method")
        if default_payment_method is not None:
            default_payment_method = self._payment_method_for(
                ctx, default_payment_method, customer, "default_payment_method"
            )
        auto_advance = bool(_bool(params, "auto_advance"))
        now = _now()
        invoice = build(
            "invoice",
            id=new_id("in"),
            created=now,
            customer=customer["id"],
            customer_email=customer["email"],
            customer_name=customer["name"],
            customer_phone=customer["phone"],
            customer_address=None,
            customer_shipping=None,
            currency=currency,
            collection_method=collection_method,
            description=_str(params, "description"),
            footer=_str(params, "footer"),
            custom_fields=custom_fields,
            default_tax_rates=default_tax_rates,
            customer_tax_exempt=customer["tax_exempt"],
            customer_tax_ids=self._invoice_tax_ids(ctx, customer),
            metadata=_metadata({}, params),
            auto_advance=auto_advance,
            automatically_finalizes_at=now + 3600 if auto_advance else None,
            starting_balance=0,
            ending_balance=None,
            automatic_tax={
                "enabled": False,
                "liability": None,
                "status": None,
                "disabled_reason": None,
                "provider": None,
            },
            default_payment_method=default_payment_method,
            due_date=due_date,
            effective_at=None,
            from_invoice=None,
            hosted_invoice_url=None,
            invoice_pdf=None,
            last_finalization_error=None,
            lines={},
            next_payment_attempt=None,
            number=None,
            parent=None,
            payment_settings={
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            period_start=now,
            period_end=now,
            shipping_cost=None,
            shipping_details=None,
            status="draft",
            status_transitions={
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            amount_paid=0,
            amount_overpaid=0,
            attempt_count=0,
            attempted=False,
            total_taxes=[],
            total_pretax_credit_amounts=[],
            webhooks_delivered_at=now,
        )
        self.invoice_item_ids[invoice["id"]] = []
        self.days_until_due[invoice["id"]] = days_until_due
        self.draft_ids.setdefault(customer["id"], {})[invoice["id"]] = None
        self._store(invoice, ctx)
        if behaviour == "include":
            for item in pending:
                if item["currency"] == currency:
                    item["invoice"] = invoice["id"]
                    self.invoice_item_ids[invoice["id"]].append(item["id"])
                    self.pending_item_ids[customer["id"]].pop(item["id"])
        self._refresh_totals(invoice)
        self._emit(ctx, "invoice.created", invoice)
        return copy.deepcopy(invoice)

    def invoice_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("invoice", id, ctx))

    def invoice_update(self, ctx, params, id):
        _known(
            params,
            "metadata",
            "description",
            "auto_advance",
            "footer",
            "days_until_due",
            "due_date",
            "collection_method",
            "default_payment_method",
            "default_tax_rates",
            "custom_fields",
        )
        invoice = self._get("invoice", id, ctx)
        draft_only = {
            "days_until_due",
            "due_date",
            "collection_method",
            "default_payment_method",
            "default_tax_rates",
        }
        if invoice["status"] != "draft" and draft_only & set(params):
            name = sorted(draft_only & set(params))[0]
            raise bad_param(
                name, f"You can only update {name} on a draft invoice.", "invoice_not_editable"
            )
        auto_advance = bool(_bool(params, "auto_advance"))
        if "auto_advance" in params and invoice["status"] not in ("draft", "open"):
            # Paid, void and uncollectible invoices never advance on their own.
            raise bad_param(
                "auto_advance",
                f"You can only update auto_advance on a draft or open invoice; "
                f"{invoice['id']} is {invoice['status']}.",
                "invoice_unexpected_status",
            )
        invoice["metadata"] = _metadata(invoice["metadata"], params)
        for name in ("description", "footer"):
            if name in params:
                invoice[name] = _str(params, name)
        if "auto_advance" in params:
            invoice["auto_advance"] = auto_advance
        if "collection_method" in params:
            invoice["collection_method"] = _choice(
                params, "collection_method", ("charge_automatically", "send_invoice")
            )
        if "days_until_due" in params:
            self.days_until_due[id] = _int(params, "days_until_due", minimum=0)
        if "due_date" in params:
            invoice["due_date"] = _int(params, "due_date")
        if "custom_fields" in params:
            invoice["custom_fields"] = _custom_fields(params)
        if "default_tax_rates" in params:
            invoice["default_tax_rates"] = self._tax_rates_param(ctx, params, "default_tax_rates")
            self._refresh_totals(invoice)
        if "default_payment_method" in params:
            payment_method = _str(params, "default_payment_method")
            if payment_method is not None:
                customer = self.objects[invoice["customer"]]
                payment_method = self._payment_method_for(
                    ctx, payment_method, customer, "default_payment_method"
                )
            invoice["default_payment_method"] = payment_method
        return copy.deepcopy(invoice)

    def invoice_delete(self, ctx, params, id):
        _known(params)
        invoice = self._get("invoice", id, ctx)
        if invoice["status"] != "draft":
            raise StripeError(
                400, "You can only delete draft invoices.", code="invoice_not_editable"
            )
        # As on Stripe, the items of a deleted draft go back to pending.
        for item_id in self.invoice_item_ids.pop(id):
            self.objects[item_id]["invoice"] = None
            self.pending_item_ids.setdefault(invoice["customer"], {})[item_id] = None
        self.draft_ids[invoice["customer"]].pop(id)
        self._forget(id)
        return {"id": id, "object": "invoice", "deleted": True}

    def invoice_list(self, ctx, params):
        _known(
            params,
            "customer",
            "status",
            "collection_method",
            "created",
            "limit",
            "starting_after",
            "ending_before",
        )
        customer = _str(params, "customer")
        status = _choice(params, "status", ("draft", "open", "paid", "uncollectible", "void"))
        collection_method = _choice(
            params, "collection_method", ("charge_automatically", "send_invoice")
        )
        created = _created(params)
        invoices = [
            invoice
            for invoice in self._all("invoice", ctx)
            if customer in (None, invoice["customer"])
            and status in (None, invoice["status"])
            and collection_method in (None, invoice["collection_method"])
            and created(invoice)
        ]
        return self._page(invoices, params, "/v1/invoices")

    def invoice_lines(self, ctx, params, id):
        _known(params, "limit", "starting_after", "ending_before")
        invoice = self._get("invoice", id, ctx)
        return self._page(self._lines(invoice), params, f"/v1/invoices/{id}/lines")

    def _require_status(self, invoice: dict, allowed: tuple[str, ...], action: str) -> None:
        if invoice["status"] not in allowed:
            raise StripeError(
                400,
                f"You can only {action} an invoice whose status is {' or '.join(allowed)}; "
                f"{invoice['id']} is {invoice['status']}.",
                code="invoice_unexpected_status" if invoice["status"] != "draft" else None,
            )

    def _set_balance(self, ctx, customer: dict, balance: int) -> None:
        """Change a customer's invoice balance; its drafts show the new starting balance."""
        previous = customer["balance"]
        if balance == previous:
            return
        customer["balance"] = balance
        for invoice_id in self.draft_ids.get(customer["id"], {}):
            self._refresh_totals(self.objects[invoice_id])
        self._emit(ctx, "customer.updated", customer, {"balance": previous})

    def _settle_balance(self, invoice: dict) -> None:
        """Apply the customer's balance to an invoice being finalized, as Stripe does; the
        customer's new balance is the invoice's ending_balance.

        The balance (a debit adds, a credit takes away) is applied first; what credit is
        left stays on the customer. When the amount then due is above zero but below
        Stripe's minimum charge for the currency, nothing is charged: the amount due moves
        to the customer's balance as a debit (for the next invoice to collect) and the
        invoice is left with nothing due, to be marked paid."""
        starting_balance = self.objects[invoice["customer"]]["balance"]
        net = invoice["total"] + starting_balance
        amount_due = max(net, 0)
        ending_balance = min(net, 0)
        minimum = minimum_charge(invoice["currency"])
        if minimum is not None and 0 < amount_due < minimum:
            ending_balance += amount_due
            amount_due = 0
        invoice.update(
            starting_balance=starting_balance,
            ending_balance=ending_balance,
            amount_due=amount_due,
            amount_remaining=amount_due - invoice["amount_paid"],
        )

    def _finalize(self, ctx, invoice: dict) -> None:
        now = _now()
        customer = self.objects[invoice["customer"]]
        self.draft_ids[customer["id"]].pop(invoice["id"])
        invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
        customer["next_invoice_sequence"] += 1
        invoice.update(
            status="open",
            effective_at=now,
            automatically_finalizes_at=None,
            customer_email=customer["email"],
            customer_name=customer["name"],
            customer_phone=customer["phone"],
            customer_tax_exempt=customer["tax_exempt"],
            customer_tax_ids=self._invoice_tax_ids(ctx, customer),
            hosted_invoice_url=f"{ctx.public_url}/hosted/invoices/{invoice['id']}",
        )
        invoice["status_transitions"]["finalized_at"] = now
        days_until_due = self.days_until_due.get(invoice["id"])
        if invoice["collection_method"] == "send_invoice" and invoice["due_date"] is None:
            invoice["due_date"] = now + (days_until_due or 0) * 86400
        self._settle_balance(invoice)
        self._emit(ctx, "invoice.finalized", invoice)
        self._set_balance(ctx, customer, invoice["ending_balance"])
        if invoice["amount_due"] == 0:
            # Stripe settles a finalized invoice with nothing to collect at once: covered
            # by credit, empty, or below the minimum charge (moved to the balance above).
            self._mark_paid(ctx, invoice)

    def _mark_paid(self, ctx, invoice: dict) -> None:
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            attempted=True,
            auto_advance=False,
        )
        invoice["status_transitions"]["paid_at"] = _now()
        self._emit(ctx, "invoice.paid", invoice)
        self._emit(ctx, "invoice.payment_succeeded", invoice)

    def invoice_finalize(self, ctx, params, id):
        _known(params, "auto_advance")
        invoice = self._get("invoice", id, ctx)
        if invoice["status"] != "draft":
            raise StripeError(
                400,
                "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
                code="invoice_unexpected_status",
            )
        if "auto_advance" in params:
            invoice["auto_advance"] = bool(_bool(params, "auto_advance"))
        self._finalize(ctx, invoice)
        return copy.deepcopy(invoice)

    def invoice_pay(self, ctx, params, id):
        _known(params, "payment_method", "paid_out_of_band", "off_session", "forgive")
        invoice = self._get("invoice", id, ctx)
        if invoice["status"] == "paid":
            raise StripeError(400, "Invoice is already paid", code="invoice_already_paid")
        self._require_status(invoice, ("draft", "open", "uncollectible"), "pay")
        payment_method = _str(params, "payment_method")
        paid_out_of_band = bool(_bool(params, "paid_out_of_band"))
        customer = self.objects[invoice["customer"]]
        if payment_method is not None:
            payment_method = self._payment_method_for(
                ctx, payment_method, customer, "payment_method"
            )
        else:
            payment_method = (
                invoice["default_payment_method"]
                or customer["invoice_settings"]["default_payment_method"]
            )
        if invoice["status"] == "draft":
            # Paying a draft finalizes it first, as on Stripe.
            self._finalize(ctx, invoice)
            if invoice["status"] == "paid":
                return copy.deepcopy(invoice)
        if paid_out_of_band:
            self._mark_paid(ctx, invoice)
            return copy.deepcopy(invoice)
        if payment_method is None:
            raise bad_param(
                "payment_method",
                "Cannot charge a customer that has no active card or default payment method.",
                "invoice_no_payment_method_types",
            )
        self._charge(ctx, invoice, payment_method)
        return copy.deepcopy(invoice)

    def _charge(self, ctx, invoice: dict, payment_method_id: str) -> None:
        card = self.cards[payment_method_id]
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        if card.decline_code is None:
            self._mark_paid(ctx, invoice)
            return
        self._emit(ctx, "invoice.payment_failed", invoice)
        raise StripeError(
            402,
            card.decline_message,
            type="card_error",
            code="card_declined",
            param="",
            decline_code=card.decline_code,
            charge=new_id("ch"),
            payment_method=copy.deepcopy(self.objects[payment_method_id]),
        )

    def invoice_send(self, ctx, params, id):
        _known(params)
        invoice = self._get("invoice", id, ctx)
        if invoice["collection_method"] != "send_invoice":
            raise StripeError(
                400,
                "You can only manually send an invoice if its collection method is 'send_invoice'.",
            )
        self._require_status(invoice, ("draft", "open"), "send")
        if invoice["status"] == "draft":
            self._finalize(ctx, invoice)
        self.sent_at[id] = _now()
        self._emit(ctx, "invoice.sent", invoice)
        return copy.deepcopy(invoice)

    def invoice_void(self, ctx, params, id):
        _known(params)
        invoice = self._get("invoice", id, ctx)
        self._require_status(invoice, ("open", "uncollectible"), "void")
        invoice.update(status="void", auto_advance=False)
        invoice["status_transitions"]["voided_at"] = _now()
        self._emit(ctx, "invoice.voided", invoice)
        # The balance the invoice took from the customer goes back to the customer.
        applied = invoice["starting_balance"] - invoice["ending_balance"]
        if applied:
            customer = self.objects[invoice["customer"]]
            self._set_balance(ctx, customer, customer["balance"] + applied)
        return copy.deepcopy(invoice)

    def invoice_mark_uncollectible(self, ctx, params, id):
        _known(params)
        invoice = self._get("invoice", id, ctx)
        self._require_status(invoice, ("open",), "mark uncollectible")
        invoice.update(status="uncollectible", auto_advance=False)
        invoice["status_transitions"]["marked_uncollectible_at"] = _now()
        self._emit(ctx, "invoice.marked_uncollectible", invoice)
        return copy.deepcopy(invoice)

    # --- hosted invoice page ------------------------------------------------------------

    def hosted_invoice(self, invoice_id: str) -> dict:
        with self.lock:
            invoice = self.objects.get(invoice_id)
            if invoice is None or invoice["object"] != "invoice" or invoice["status"] == "draft":
                raise missing("invoice", invoice_id)
            return copy.deepcopy(invoice)

    def hosted_pay(self, invoice_id: str, card_number: str, public_url: str) -> str | None:
        """Pay from the hosted page; returns the decline message, or None when paid."""
        with self.lock:
            invoice = self.objects.get(invoice_id)
            if invoice is None or invoice["object"] != "invoice" or invoice["status"] == "draft":
                raise missing("invoice", invoice_id)
            if invoice["status"] not in ("open", "uncollectible"):
                return f"This invoice is {invoice['status']} and can't be paid."
            magic_id = TEST_CARD_NUMBERS.get(re.sub(r"[\s-]", "", card_number))
            if magic_id is None:
                return "Use a Stripe test card number, such as 4242 4242 4242 4242."
            ctx = RequestContext(account=self.owners[invoice_id], public_url=public_url)
            payment_method = self._materialize(ctx, magic_id)
            try:
                self._charge(ctx, invoice, payment_method["id"])
            except StripeError as declined:
                return declined.message
            return None

    # --- webhook endpoints and events ---------------------------------------------------

    def webhook_endpoint_create(self, ctx, params):
        _known(params, "url", "enabled_events", "description", "metadata", "api_version")
        url = _str(params, "url", required=True)
        if not re.match(r"https?://", url):
            raise bad_param("url", f"Invalid URL: {url}", "url_invalid")
        events = params.get("enabled_events")
        if (
            not events
            or not isinstance(events, list)
            or not all(isinstance(e, str) for e in events)
        ):
            raise bad_param(
                "enabled_events", "Missing required param: enabled_events.", "parameter_missing"
            )
        unknown = [e for e in events if e != "*" and not re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", e)]
        if unknown:
            raise bad_param("enabled_events", f"Invalid event type: {unknown[0]}")
        api_version = _str(params, "api_version")
        if api_version is not None and not _API_VERSION.fullmatch(api_version):
            raise bad_param("api_version", f"Invalid API version: {api_version}")
        endpoint = build(
            "webhook_endpoint",
            id=new_id("we"),
            created=_now(),
            api_version=api_version,
            description=_str(params, "description"),
            enabled_events=events,
            livemode=False,
            metadata=_metadata({}, params),
            status="enabled",
            url=url,
        )
        self._store(endpoint, ctx)
        self.secrets[endpoint["id"]] = "whsec_" + secrets.token_hex(16)
        # Stripe shows the signing secret only in the response that creates the endpoint.
        return {**copy.deepcopy(endpoint), "secret": self.secrets[endpoint["id"]]}

    def webhook_endpoint_list(self, ctx, params):
        _known(params, "limit", "starting_after", "ending_before")
        return self._page(self._all("webhook_endpoint", ctx), params, "/v1/webhook_endpoints")

    def webhook_endpoint_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("webhook_endpoint", id, ctx))

    def webhook_endpoint_delete(self, ctx, params, id):
        _known(params)
        self._get("webhook_endpoint", id, ctx)
        self._forget(id)
        return {"id": id, "object": "webhook_endpoint", "deleted": True}

    def event_list(self, ctx, params):
        _known(params, "type", "types", "limit", "starting_after", "ending_before")
        event_type = _str(params, "type")
        types = params.get("types") or None
        events = [
            event
            for event in self._all("event", ctx)
            if event_type in (None, event["type"]) and (types is None or event["type"] in types)
        ]
        return self._page(events, params, "/v1/events")

    def event_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("event", id, ctx))


def _custom_fields(params: dict) -> list[dict] | None:
    """An invoice's custom fields (at most 4, each a name and a value), or None."""
    given = params.get("custom_fields")
    if given is None or given == "":
        return None
    if isinstance(given, dict):
        given = [given[key] for key in sorted(given, key=lambda k: int(k))]
    if not isinstance(given, list) or len(given) > 4:
        raise bad_param("custom_fields", "custom_fields takes at most 4 fields.")
    fields = []
    for n, field in enumerate(given):
        name = _str(field, "name", required=True) if isinstance(field, dict) else None
        value = _str(field, "value", required=True) if isinstance(field, dict) else None
        if name is None or len(name) > 40 or len(value) > 140:
            raise bad_param(
                f"custom_fields[{n}]", "A custom field has a name (40) and a value (140)."
            )
        fields.append({"name": name, "value": value})
    return fields


def _previous_attributes(before: dict, after: dict) -> dict:
    """What an update changed, as its event's previous_attributes carry it: the old value
    of each changed field, and of a hash only the keys that changed."""
    previous = {}
    for name, old in before.items():
        new = after.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and name != "metadata":
            previous[name] = _previous_attributes(old, new)
        else:
            previous[name] = old
    return previous


_ID = r"(?P<id>[A-Za-z0-9_]+)"

ROUTES = [
    ("POST", r"/v1/customers", "customer_create"),
    ("GET", r"/v1/customers", "customer_list"),
    ("GET", rf"/v1/customers/{_ID}", "customer_retrieve"),
    ("POST", rf"/v1/customers/{_ID}", "customer_update"),
    ("GET", rf"/v1/customers/{_ID}/payment_methods", "customer_payment_methods"),
    ("GET", rf"/v1/payment_methods/{_ID}", "payment_method_retrieve"),
    ("POST", rf"/v1/payment_methods/{_ID}/attach", "payment_method_attach"),
    ("POST", rf"/v1/payment_methods/{_ID}/detach", "payment_method_detach"),
    ("POST", r"/v1/invoiceitems", "invoiceitem_create"),
    ("GET", r"/v1/invoiceitems", "invoiceitem_list"),
    ("GET", rf"/v1/invoiceitems/{_ID}", "invoiceitem_retrieve"),
    ("DELETE", rf"/v1/invoiceitems/{_ID}", "invoiceitem_delete"),
    ("POST", r"/v1/invoices", "invoice_create"),
    ("GET", r"/v1/invoices", "invoice_list"),
    ("GET", rf"/v1/invoices/{_ID}", "invoice_retrieve"),
    ("POST", rf"/v1/invoices/{_ID}", "invoice_update"),
    ("DELETE", rf"/v1/invoices/{_ID}", "invoice_delete"),
    ("GET", rf"/v1/invoices/{_ID}/lines", "invoice_lines"),
    ("POST", rf"/v1/invoices/{_ID}/add_lines", "invoice_add_lines"),
    ("POST", rf"/v1/invoices/{_ID}/finalize", "invoice_finalize"),
    ("POST", rf"/v1/invoices/{_ID}/pay", "invoice_pay"),
    ("POST", rf"/v1/invoices/{_ID}/send", "invoice_send"),
    ("POST", rf"/v1/invoices/{_ID}/void", "invoice_void"),
    ("POST", rf"/v1/invoices/{_ID}/mark_uncollectible", "invoice_mark_uncollectible"),
    ("POST", rf"/v1/customers/{_ID}/tax_ids", "customer_tax_id_create"),
    ("GET", rf"/v1/customers/{_ID}/tax_ids", "customer_tax_id_list"),
    ("DELETE", rf"/v1/customers/{_ID}/tax_ids/(?P<tax_id>[A-Za-z0-9_]+)", "customer_tax_id_delete"),
    ("POST", r"/v1/tax_rates", "tax_rate_create"),
    ("GET", r"/v1/tax_rates", "tax_rate_list"),
    ("GET", rf"/v1/tax_rates/{_ID}", "tax_rate_retrieve"),
    ("POST", rf"/v1/tax_rates/{_ID}", "tax_rate_update"),
    ("POST", r"/v1/credit_notes", "credit_note_create"),
    ("GET", r"/v1/credit_notes", "credit_note_list"),
    ("GET", rf"/v1/credit_notes/{_ID}", "credit_note_retrieve"),
    ("POST", r"/v1/checkout/sessions", "checkout_session_create"),
    ("GET", rf"/v1/checkout/sessions/{_ID}", "checkout_session_retrieve"),
    ("POST", rf"/v1/checkout/sessions/{_ID}/expire", "checkout_session_expire"),
    ("GET", rf"/v1/setup_intents/{_ID}", "setup_intent_retrieve"),
    ("POST", r"/v1/billing_portal/sessions", "billing_portal_session_create"),
    ("POST", r"/v1/webhook_endpoints", "webhook_endpoint_create"),
    ("GET", r"/v1/webhook_endpoints", "webhook_endpoint_list"),
    ("GET", rf"/v1/webhook_endpoints/{_ID}", "webhook_endpoint_retrieve"),
    ("DELETE", rf"/v1/webhook_endpoints/{_ID}", "webhook_endpoint_delete"),
    ("GET", r"/v1/events", "event_list"),
    ("GET", rf"/v1/events/{_ID}", "event_retrieve"),
]
