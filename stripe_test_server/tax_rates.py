"""Tax Rates and customer tax ids, and the tax an invoice or credit note line carries.

A tax rate's percentage and inclusiveness never change once made (Stripe refuses them on
update); an archived rate (`active=false`) still counts on what already carries it but
goes on no new invoice item or invoice. Tax is worked out per line in the currency's own
Stripe unit, rounded half up: an exclusive rate adds `amount * p / 100` on top; inclusive
rates take their share out of the amount already charged, `amount * p / (100 + P)` with
P the line's inclusive percentages together. An invoice's `total_taxes` adds its lines'
taxes up per rate; `subtotal` is what the lines add up to, `total_excluding_tax` that
less the inclusive tax in it, `total` that plus the exclusive tax on top.

Manual tax rates apply as given whatever the customer's `tax_exempt`; that only marks the
invoice (`customer_tax_exempt`, "Reverse charge" on Stripe's PDF).

Mixed into `api.StripeState`, whose storage helpers and lock it uses.
"""

from __future__ import annotations

import copy
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import StripeError, bad_param, missing
from .fixtures import build
from .params import _bool, _choice, _known, _metadata, _now, _str, new_id

TAX_TYPES = (
    "amusement_tax",
    "communications_tax",
    "gst",
    "hst",
    "igst",
    "jct",
    "lease_tax",
    "pst",
    "qst",
    "retail_delivery_fee",
    "rst",
    "sales_tax",
    "service_tax",
    "vat",
)
TAX_EXEMPT = ("none", "exempt", "reverse")

# The tax id types the product offers, with the shape Stripe checks each value against.
TAX_ID_FORMATS = {
    "eu_vat": re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,12}$"),
    "gb_vat": re.compile(r"^GB(\d{9}|\d{12})$"),
    "ch_vat": re.compile(r"^CHE-\d{3}\.\d{3}\.\d{3} (MWST|TVA|IVA)$"),
    "no_vat": re.compile(r"^\d{9}MVA$"),
    "us_ein": re.compile(r"^\d{2}-\d{7}$"),
    "ca_bn": re.compile(r"^\d{9}$"),
    "au_abn": re.compile(r"^\d{11}$"),
    "nz_gst": re.compile(r"^\d{8,9}$"),
    "in_gst": re.compile(r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$"),
    "jp_cn": re.compile(r"^\d{13}$"),
}


def _list(params: dict, name: str) -> list | None:
    """A list parameter: `name[0]=...` arrives as a dict keyed by index; "" empties it."""
    value = params.get(name)
    if value is None:
        return None
    if value == "":
        return []
    if isinstance(value, dict):
        value = [value[key] for key in sorted(value, key=lambda k: int(k))]
    if not isinstance(value, list):
        raise bad_param(name, f"Invalid array: {name} must be a list")
    return value


def _percent(value: str) -> Decimal:
    try:
        percentage = Decimal(str(value))
    except InvalidOperation:
        raise bad_param("percentage", "Invalid decimal: percentage") from None
    if not percentage.is_finite() or not 0 <= percentage <= 100:
        raise bad_param("percentage", "percentage must be between 0 and 100.")
    if percentage.as_tuple().exponent < -4:
        raise bad_param("percentage", "percentage may have at most 4 decimal places.")
    return percentage


def _as_number(percentage: Decimal) -> int | float:
    return int(percentage) if percentage == percentage.to_integral() else float(percentage)


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_taxes(amount: int, rates: list[dict]) -> list[dict]:
    """The `taxes` of a line of `amount` (Stripe's unit) under `rates` (tax rate objects)."""
    inclusive = sum(
        (Decimal(str(rate["percentage"])) for rate in rates if rate["inclusive"]), Decimal(0)
    )
    shares = []
    for rate in rates:
        percentage = Decimal(str(rate["percentage"]))
        if rate["inclusive"]:
            tax = _round(Decimal(amount) * percentage / (100 + inclusive))
        else:
            tax = _round(Decimal(amount) * percentage / 100)
        shares.append((rate, tax))
    included = sum(tax for rate, tax in shares if rate["inclusive"])
    return [
        {
            "amount": tax,
            "tax_behavior": "inclusive" if rate["inclusive"] else "exclusive",
            "tax_rate_details": {"tax_rate": rate["id"]},
            "taxability_reason": "standard_rated",
            "taxable_amount": amount - included,
            "type": "tax_rate_details",
        }
        for rate, tax in shares
    ]


def sum_taxes(lines: list[dict]) -> list[dict]:
    """Lines' taxes added up per rate, in the order the rates first appear."""
    totals: dict[str, dict] = {}
    for line in lines:
        for tax in line.get("taxes") or []:
            rate_id = tax["tax_rate_details"]["tax_rate"]
            if rate_id not in totals:
                totals[rate_id] = {**copy.deepcopy(tax), "amount": 0, "taxable_amount": 0}
            totals[rate_id]["amount"] += tax["amount"]
            totals[rate_id]["taxable_amount"] += tax["taxable_amount"]
    return list(totals.values())


def tax_split(lines: list[dict]) -> tuple[int, int, int]:
    """(subtotal, inclusive tax in it, exclusive tax on top) of lines with their taxes."""
    subtotal = sum(line["amount"] for line in lines)
    included = added = 0
    for line in lines:
        for tax in line.get("taxes") or []:
            if tax["tax_behavior"] == "inclusive":
                included += tax["amount"]
            else:
                added += tax["amount"]
    return subtotal, included, added


class TaxRates:
    # --- tax rates ----------------------------------------------------------------------

    def tax_rate_create(self, ctx, params):
        _known(
            params,
            "display_name",
            "percentage",
            "inclusive",
            "active",
            "country",
            "state",
            "jurisdiction",
            "description",
            "tax_type",
            "metadata",
        )
        display_name = _str(params, "display_name", required=True)
        if len(display_name) > 50:
            raise bad_param("display_name", "display_name must be at most 50 characters.")
        percentage = _percent(_str(params, "percentage", required=True))
        inclusive = _bool(params, "inclusive")
        if inclusive is None:
            raise bad_param("inclusive", "Missing required param: inclusive.", "parameter_missing")
        country = _str(params, "country")
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            raise bad_param("country", "country must be a two-letter ISO 3166-1 code.")
        rate = build(
            "tax_rate",
            id=new_id("txr"),
            active=_bool(params, "active") is not False,
            country=country,
            created=_now(),
            description=_str(params, "description"),
            display_name=display_name,
            effective_percentage=_as_number(percentage),
            flat_amount=None,
            inclusive=inclusive,
            jurisdiction=_str(params, "jurisdiction"),
            jurisdiction_level=None,
            livemode=False,
            metadata=_metadata({}, params),
            percentage=_as_number(percentage),
            rate_type="percentage",
            state=_str(params, "state"),
            tax_type=_choice(params, "tax_type", TAX_TYPES),
        )
        self._store(rate, ctx)
        return copy.deepcopy(rate)

    def tax_rate_retrieve(self, ctx, params, id):
        _known(params)
        return copy.deepcopy(self._get("tax_rate", id, ctx))

    def tax_rate_list(self, ctx, params):
        _known(params, "active", "inclusive", "limit", "starting_after", "ending_before")
        active, inclusive = _bool(params, "active"), _bool(params, "inclusive")
        rates = [
            rate
            for rate in self._all("tax_rate", ctx)
            if active in (None, rate["active"]) and inclusive in (None, rate["inclusive"])
        ]
        return self._page(rates, params, "/v1/tax_rates")

    def tax_rate_update(self, ctx, params, id):
        for fixed in ("percentage", "inclusive"):
            if fixed in params:
                raise bad_param(
                    fixed,
                    f"Received unknown parameter: {fixed}. A tax rate's {fixed} cannot be "
                    "changed; archive it and create a new one.",
                )
        _known(
            params,
            "display_name",
            "active",
            "country",
            "state",
            "jurisdiction",
            "description",
            "tax_type",
            "metadata",
        )
        rate = self._get("tax_rate", id, ctx)
        for name in ("display_name", "country", "state", "jurisdiction", "description"):
            if name in params:
                rate[name] = _str(params, name)
        if "tax_type" in params:
            rate["tax_type"] = _choice(params, "tax_type", TAX_TYPES)
        if "active" in params:
            rate["active"] = _bool(params, "active") is not False
        rate["metadata"] = _metadata(rate["metadata"], params)
        return copy.deepcopy(rate)

    def _tax_rates_param(self, ctx, params: dict, name: str) -> list[dict] | None:
        """The active tax rates a request names (ids), as objects; None when not given."""
        given = _list(params, name)
        if given is None:
            return None
        rates = []
        for n, rate_id in enumerate(given):
            if not isinstance(rate_id, str):
                raise bad_param(f"{name}[{n}]", "Invalid string")
            rate = self.objects.get(rate_id)
            if rate is None or rate["object"] != "tax_rate" or self.owners[rate_id] != ctx.account:
                raise missing("tax_rate", rate_id, f"{name}[{n}]")
            if not rate["active"]:
                raise bad_param(
                    f"{name}[{n}]",
                    f"Tax rate {rate_id} is inactive and cannot be applied to new objects.",
                )
            rates.append(copy.deepcopy(rate))
        if len(rates) > 5:
            raise bad_param(name, f"At most 5 tax rates may be applied ({name}).")
        return rates

    # --- customer tax ids ---------------------------------------------------------------

    def customer_tax_id_create(self, ctx, params, id):
        _known(params, "type", "value")
        customer = self._get("customer", id, ctx)
        kind = _str(params, "type", required=True)
        value = _str(params, "value", required=True)
        shape = TAX_ID_FORMATS.get(kind)
        if shape is None:
            raise bad_param("type", f"Invalid type: {kind} is not a tax id type we know.")
        if not shape.match(value):
            raise StripeError(
                400, f"Invalid value for {kind}.", code="tax_id_invalid", param="value"
            )
        tax_id = build(
            "tax_id",
            id=new_id("txi"),
            country=value[:2] if kind == "eu_vat" else kind[:2].upper(),
            created=_now(),
            customer=customer["id"],
            customer_account=None,
            livemode=False,
            owner={"customer": customer["id"], "type": "customer", "customer_account": None},
            type=kind,
            value=value,
            verification={"status": "pending", "verified_address": None, "verified_name": None},
        )
        self._store(tax_id, ctx)
        return copy.deepcopy(tax_id)

    def _tax_ids_of(self, ctx, customer_id: str) -> list[dict]:
        return [t for t in self._all("tax_id", ctx) if t["customer"] == customer_id]

    def customer_tax_id_list(self, ctx, params, id):
        _known(params, "limit", "starting_after", "ending_before")
        self._get("customer", id, ctx)
        return self._page(self._tax_ids_of(ctx, id), params, f"/v1/customers/{id}/tax_ids")

    def customer_tax_id_delete(self, ctx, params, id, tax_id):
        _known(params)
        self._get("customer", id, ctx)
        held = self.objects.get(tax_id)
        if held is None or held["object"] != "tax_id" or held["customer"] != id:
            raise missing("tax_id", tax_id)
        self._forget(tax_id)
        return {"id": tax_id, "object": "tax_id", "deleted": True}

    def _customer_tax_exempt(self, params: dict) -> str | None:
        return _choice(params, "tax_exempt", TAX_EXEMPT)

    def _invoice_tax_ids(self, ctx, customer: dict) -> list[dict]:
        """The customer's tax ids as an invoice shows them."""
        return [
            {"type": tax_id["type"], "value": tax_id["value"]}
            for tax_id in reversed(self._tax_ids_of(ctx, customer["id"]))
        ]
