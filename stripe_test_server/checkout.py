"""Cards saved for later, as Stripe saves them: Checkout in setup mode, and the customer
portal where cards are managed.

- `POST /v1/checkout/sessions` with mode=setup makes a Checkout Session, and with it a
  SetupIntent (requires_payment_method), whose `url` is a hosted page. A good test card
  entered there becomes a payment method attached to the session's customer, the
  SetupIntent succeeds with it and the session is complete, with the events
  payment_method.attached, setup_intent.succeeded and checkout.session.completed in that
  order; the browser goes on (303) to success_url with {CHECKOUT_SESSION_ID} filled in. A
  card that declines is refused on the page and changes nothing. A session takes a card
  only while open: not once complete, expired (`POST .../expire`) or past its expires_at
  (24 hours after it was made unless it says otherwise). As on Stripe, saving a card does
  not make it the customer's default payment method: the integration sets that.
- `POST /v1/billing_portal/sessions` makes a portal session whose hosted page lists the
  customer's cards: one can be made the default (customer.updated) or removed
  (payment_method.detached; a removed default leaves the customer with none, and
  customer.updated says so), with a link back to return_url.

Mixed into `api.StripeState`, whose storage helpers and lock it uses.
"""

from __future__ import annotations

import copy
import html
import re
import secrets
from dataclasses import dataclass

from .cards import TEST_PAYMENT_METHODS, magic_id_for
from .errors import StripeError, bad_param, missing
from .fixtures import build
from .html import page
from .params import _currency, _dict, _int, _known, _metadata, _now, _str, new_id

CHECKOUT_EVENTS = (
    "checkout.session.completed",
    "checkout.session.expired",
    "setup_intent.created",
    "setup_intent.succeeded",
    "setup_intent.canceled",
    "payment_method.attached",
    "payment_method.detached",
)
# Stripe's bounds on a session's expires_at, counted from when it is made; the default is
# the longest.
EXPIRES_AFTER_SECONDS = (30 * 60, 24 * 3600)
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
_URL = re.compile(r"https?://[^\s]+")


@dataclass(frozen=True)
class Hosted:
    """What a hosted page answers a POST with: a page (status, message) or a redirect."""

    status: int = 200
    message: str | None = None
    location: str | None = None


def checkout_state() -> dict:
    """What StripeState keeps for Checkout and the portal, emptied on reset."""
    return {
        "portal_configurations": {},  # account -> its default portal configuration id
    }


def _url(params: dict, name: str, *, required: bool = False) -> str | None:
    value = _str(params, name, required=required)
    if value is not None and not _URL.fullmatch(value):
        raise bad_param(name, f"Not a valid URL: {value}", "url_invalid")
    return value


class Checkout:
    # --- Checkout Sessions ----------------------------------------------------------

    def checkout_session_create(self, ctx, params):
        _known(
            params,
            "mode",
            "customer",
            "currency",
            "success_url",
            "cancel_url",
            "payment_method_types",
            "metadata",
            "client_reference_id",
            "expires_at",
            "setup_intent_data",
        )
        mode = _str(params, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise bad_param("mode", "Invalid mode: must be one of payment, setup, subscription")
        if mode != "setup":
            raise bad_param(
                "mode", "The Stripe test server makes Checkout Sessions in setup mode only."
            )
        customer = None
        if (customer_id := _str(params, "customer")) is not None:
            customer = self._get("customer", customer_id, ctx, "customer")
        types = params.get("payment_method_types")
        if types is not None:
            if not isinstance(types, list) or not types:
                raise bad_param("payment_method_types", "Invalid array")
            unknown = [kind for kind in types if kind != "card"]
            if unknown:
                raise bad_param(
                    "payment_method_types",
                    f"The payment method type provided: {unknown[0]} is invalid. The Stripe "
                    "test server saves cards only.",
                    "payment_method_invalid_parameter",
                )
        currency = _currency(params)
        if currency is None and types is None:
            # Dynamic payment methods in setup mode depend on the currency, so Stripe
            # wants it; with payment_method_types given it does not.
            raise bad_param(
                "currency",
                "You must provide `currency` when using `mode=setup` with dynamic payment "
                "methods (no `payment_method_types`).",
                "parameter_missing",
            )
        now = _now()
        earliest, latest = EXPIRES_AFTER_SECONDS
        expires_at = _int(params, "expires_at")
        if expires_at is None:
            expires_at = now + latest
        elif not now + earliest <= expires_at <= now + latest:
            raise bad_param(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
            )
        intent_data = _dict(params, "setup_intent_data") or {}
        _known(intent_data, "description", "metadata")
        setup_intent = self._store(
            build(
                "setup_intent",
                id=(intent_id := new_id("seti")),
                application=None,
                automatic_payment_methods=None,
                cancellation_reason=None,
                client_secret=f"{intent_id}_secret_{secrets.token_hex(12)}",
                created=now,
                customer=customer["id"] if customer else None,
                description=_str(intent_data, "description"),
                flow_directions=None,
                last_setup_error=None,
                latest_attempt=None,
                livemode=False,
                mandate=None,
                metadata=_metadata({}, intent_data),
                next_action=None,
                on_behalf_of=None,
                payment_method=None,
                payment_method_configuration_details=None,
                payment_method_options={},
                payment_method_types=["card"],
                single_use_mandate=None,
                status="requires_payment_method",
                usage="off_session",
                excluded_payment_method_types=None,
            ),
            ctx,
        )
        self._emit(ctx, "setup_intent.created", setup_intent)
        session_id = new_id("cs_test")
        session = build(
            "checkout.session",
            id=session_id,
            object="checkout.session",
            after_expiration=None,
            allow_promotion_codes=None,
            amount_subtotal=None,
            amount_total=None,
            automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
            billing_address_collection=None,
            cancel_url=_url(params, "cancel_url"),
            client_reference_id=_str(params, "client_reference_id"),
            client_secret=None,
            consent=None,
            consent_collection=None,
            created=now,
            currency=currency,
            custom_fields=[],
            custom_text={
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            customer=customer["id"] if customer else None,
            customer_creation=None,
            customer_details=None,
            customer_email=None,
            expires_at=expires_at,
            invoice=None,
            invoice_creation=None,
            livemode=False,
            locale=None,
            metadata=_metadata({}, params),
            mode="setup",
            payment_intent=None,
            payment_link=None,
            payment_method_collection="always",
            payment_method_configuration_details=None,
            payment_method_options={},
            payment_method_types=["card"],
            payment_status="no_payment_required",
            phone_number_collection={"enabled": False},
            recovered_from=None,
            saved_payment_method_options=None,
            setup_intent=setup_intent["id"],
            shipping_address_collection=None,
            shipping_cost=None,
            shipping_options=[],
            status="open",
            submit_type=None,
            subscription=None,
            success_url=_url(params, "success_url"),
            total_details=None,
            ui_mode="hosted",
            url=f"{ctx.public_url}/hosted/checkout/{session_id}",
            adaptive_pricing=None,
            discounts=None,
            collected_information=None,
            permissions=None,
            wallet_options=None,
            origin_context=None,
            currency_conversion=None,
            customer_account=None,
            integration_identifier=None,
            managed_payments=None,
        )
        self._store(session, ctx)
        return copy.deepcopy(session)

    def checkout_session_retrieve(self, ctx, params, id):
        _known(params)
        session = self._get("checkout.session", id, ctx)
        self._expire_if_due(ctx, session)
        return copy.deepcopy(session)

    def checkout_session_expire(self, ctx, params, id):
        _known(params)
        session = self._get("checkout.session", id, ctx)
        self._expire_if_due(ctx, session)
        if session["status"] != "open":
            raise StripeError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
            )
        self._expire(ctx, session)
        return copy.deepcopy(session)

    def _expire_if_due(self, ctx, session: dict) -> None:
        """Stripe expires an open session at its expires_at; here, when it is next read."""
        if session["status"] == "open" and _now() >= session["expires_at"]:
            self._expire(ctx, session)

    def _expire(self, ctx, session: dict) -> None:
        session.update(status="expired", url=None)
        intent = self.objects[session["setup_intent"]]
        intent.update(status="canceled", cancellation_reason="abandoned")
        self._emit(ctx, "setup_intent.canceled", intent)
        self._emit(ctx, "checkout.session.expired", session)

    def setup_intent_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("setup_intent", id, ctx))

    # --- the hosted Checkout page -----------------------------------------------------

    def _hosted_session(self, session_id: str, public_url: str):
        session = self.objects.get(session_id)
        if session is None or session["object"] != "checkout.session":
            raise missing("checkout.session", session_id)
        return session, self._hosted_ctx(session_id, public_url)

    def hosted_checkout(self, session_id: str, public_url: str) -> dict:
        """What the hosted page shows: the session, and its customer's name and e-mail."""
        with self.lock:
            session, ctx = self._hosted_session(session_id, public_url)
            self._expire_if_due(ctx, session)
            customer = self.objects.get(session["customer"] or "")
            return {
                "session": copy.deepcopy(session),
                "customer": copy.deepcopy(customer) if customer else None,
            }

    def hosted_checkout_submit(self, session_id: str, card_number: str, public_url: str):
        """Save the card typed on the hosted page: a Hosted redirect to success_url, or the
        page again with why the card was not saved (then nothing changed)."""
        with self.lock:
            session, ctx = self._hosted_session(session_id, public_url)
            self._expire_if_due(ctx, session)
            if session["status"] != "open":
                return Hosted(409, f"This Checkout Session is {session['status']}.")
            magic_id = magic_id_for(card_number)
            if magic_id is None:
                return Hosted(200, "Use a Stripe test card number, such as 4242 4242 4242 4242.")
            card = TEST_PAYMENT_METHODS[magic_id]
            if card.declines_setup:
                return Hosted(200, card.decline_message)
            payment_method = self._materialize(ctx, magic_id)
            customer = self.objects.get(session["customer"] or "")
            if customer is not None:
                self._attach(ctx, payment_method["id"], customer, "payment_method")
            intent = self.objects[session["setup_intent"]]
            intent.update(
                status="succeeded",
                payment_method=payment_method["id"],
                latest_attempt=new_id("setatt"),
            )
            self._emit(ctx, "setup_intent.succeeded", intent)
            session.update(
                status="complete",
                url=None,
                customer_details={
                    "address": {
                        "city": None,
                        "country": None,
                        "line1": None,
                        "line2": None,
                        "postal_code": None,
                        "state": None,
                    },
                    "email": customer["email"] if customer else None,
                    "name": customer["name"] if customer else None,
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                    "business_name": None,
                    "individual_name": None,
                },
            )
            self._emit(ctx, "checkout.session.completed", session)
            if session["success_url"] is None:
                return Hosted(200, "Your card is saved.")
            return Hosted(
                303, location=session["success_url"].replace(SESSION_ID_PLACEHOLDER, session_id)
            )

    # --- the customer portal ----------------------------------------------------------

    def billing_portal_session_create(self, ctx, params):
        _known(params, "customer", "return_url", "configuration", "locale", "flow_data")
        customer = self._get("customer", _str(params, "customer", required=True), ctx, "customer")
        if params.get("flow_data"):
            raise bad_param(
                "flow_data", "The Stripe test server's portal has no flows; leave out flow_data."
            )
        configuration = self.portal_configurations.setdefault(ctx.account, new_id("bpc"))
        given = _str(params, "configuration")
        if given is not None and given != configuration:
            raise missing("billing portal configuration", given, "configuration")
        session_id = new_id("bps")
        session = build(
            "billing_portal.session",
            id=session_id,
            configuration=configuration,
            created=_now(),
            customer=customer["id"],
            flow=None,
            livemode=False,
            locale=_str(params, "locale"),
            on_behalf_of=None,
            return_url=_url(params, "return_url"),
            url=f"{ctx.public_url}/hosted/billing_portal/{session_id}",
            customer_account=None,
        )
        self._store(session, ctx)
        return copy.deepcopy(session)

    def _portal_session(self, session_id: str):
        session = self.objects.get(session_id)
        if session is None or session["object"] != "billing_portal.session":
            raise missing("billing portal session", session_id)
        return session, self.objects[session["customer"]]

    def hosted_portal(self, session_id: str, public_url: str) -> dict:
        """What the portal page shows: the customer, their cards (newest first) and which
        is the default."""
        with self.lock:
            session, customer = self._portal_session(session_id)
            ctx = self._hosted_ctx(session_id, public_url)
            cards = [
                pm for pm in self._all("payment_method", ctx) if pm["customer"] == customer["id"]
            ]
            return {
                "session": copy.deepcopy(session),
                "customer": copy.deepcopy(customer),
                "cards": copy.deepcopy(cards),
                "default": customer["invoice_settings"]["default_payment_method"],
            }

    def hosted_portal_act(
        self, session_id: str, action: str, payment_method_id: str, public_url: str
    ) -> Hosted:
        """Make one of the customer's cards the default, or remove it."""
        with self.lock:
            _session, customer = self._portal_session(session_id)
            ctx = self._hosted_ctx(session_id, public_url)
            payment_method = self.objects.get(payment_method_id)
            if (
                payment_method is None
                or payment_method["object"] != "payment_method"
                or payment_method["customer"] != customer["id"]
            ):
                return Hosted(404, "That card is not on this account.")
            if action == "default":
                settings = customer["invoice_settings"]
                previous = settings["default_payment_method"]
                if previous != payment_method_id:
                    settings["default_payment_method"] = payment_method_id
                    self._emit(
                        ctx,
                        "customer.updated",
                        customer,
                        {"invoice_settings": {"default_payment_method": previous}},
                    )
                return Hosted(200, f"{_card_label(payment_method)} is now the default.")
            if action == "remove":
                self._detach(ctx, payment_method)
                return Hosted(200, f"{_card_label(payment_method)} removed.")
            return Hosted(400, "Choose to make a card the default or to remove it.")

    # --- shared ---------------------------------------------------------------------------

    def _detach(self, ctx, payment_method: dict) -> None:
        """Detach a payment method from its customer, as Stripe does: a customer whose
        default it was is left with none."""
        customer = self.objects[payment_method["customer"]]
        payment_method["customer"] = None
        self._emit(ctx, "payment_method.detached", payment_method, {"customer": customer["id"]})
        settings = customer["invoice_settings"]
        if settings["default_payment_method"] == payment_method["id"]:
            settings["default_payment_method"] = None
            self._emit(
                ctx,
                "customer.updated",
                customer,
                {"invoice_settings": {"default_payment_method": payment_method["id"]}},
            )


def _card_label(payment_method: dict) -> str:
    card = payment_method["card"]
    return f"{card['brand'].title()} •••• {card['last4']}"


# --- pages ------------------------------------------------------------------------------


def checkout_page(view: dict, message: str | None) -> bytes:
    escape = html.escape
    session, customer = view["session"], view["customer"]
    who = ""
    if customer is not None:
        who = escape(customer["name"] or customer["email"] or customer["id"])
    parts = [
        "<h1>Save a card</h1>",
        f"<p class=message role=status>{escape(message)}</p>" if message else "",
        f"<p>For <strong data-customer>{who}</strong>: the card is saved to pay later "
        "invoices; nothing is charged now.</p>"
        if who
        else "",
        f"<p>Currency: {escape((session['currency'] or '').upper())}</p>"
        if session["currency"]
        else "",
        f"<p>Status: <strong data-status>{escape(session['status'])}</strong></p>",
    ]
    if session["status"] == "open":
        parts.append(
            "<form method=post>"
            "<label>Card number <input name=card_number inputmode=numeric "
            "autocomplete=cc-number placeholder='4242 4242 4242 4242' required></label> "
            "<button type=submit>Save card</button>"
            "</form><p><small>Test mode: 4242 4242 4242 4242 is saved, 4000 0000 0000 0002 "
            "is declined, 4000 0000 0000 0341 is saved but declines charges.</small></p>"
        )
        if session["cancel_url"]:
            parts.append(f"<p><a href='{escape(session['cancel_url'])}' data-cancel>Cancel</a></p>")
    return page("Save a card", "".join(parts))


def portal_page(view: dict, message: str | None) -> bytes:
    escape = html.escape
    session, customer = view["session"], view["customer"]
    rows = []
    for card in view["cards"]:
        details = card["card"]
        is_default = card["id"] == view["default"]
        buttons = "".join(
            f"<form method=post style=display:inline>"
            f"<input type=hidden name=payment_method value='{escape(card['id'])}'>"
            f"<button name=action value={action} type=submit>{label}</button></form> "
            for action, label in (("default", "Make default"), ("remove", "Remove"))
            if not (action == "default" and is_default)
        )
        rows.append(
            f"<tr data-card='{escape(card['id'])}'><td>{escape(_card_label(card))}</td>"
            f"<td>{details['exp_month']:02d}/{details['exp_year']}</td>"
            f"<td>{'<strong data-default>Default</strong>' if is_default else ''}</td>"
            f"<td>{buttons}</td></tr>"
        )
    parts = [
        f"<h1>{escape(customer['name'] or customer['email'] or customer['id'])}</h1>",
        f"<p class=message role=status>{escape(message)}</p>" if message else "",
        "<h2>Payment methods</h2>",
        f"<table><tr><th>Card</th><th>Expires</th><th></th><th></th></tr>{''.join(rows)}</table>"
        if rows
        else "<p data-no-cards>No cards saved.</p>",
    ]
    if session["return_url"]:
        parts.append(
            f"<p><a href='{escape(session['return_url'])}' data-return>Return to the site</a></p>"
        )
    return page("Billing", "".join(parts))
