"""Tax on invoices: the agency's tax rates (Stripe Tax Rates in its own account), each
client's tax status, tax id and default rates, and the tax every charge carries.

Rules an accountant would expect:

- A charge takes its rates when it is made, which is when the work was supplied: the
  client's default rates then, or none for a client that is exempt or reverse-charged.
  A later change of the client's defaults or status never rewrites work already charged;
  it applies to the next charge. A charge made by code that does not fix its tax gets the
  client's defaults when it is first sent to Stripe (`item_tax_params`).
- Stripe never changes a rate's percentage or inclusiveness, so neither do we: changing
  those archives the rate and makes its successor. Past invoices keep the old rate, and
  so does work charged under it and not billed yet; Stripe is told to archive the old
  rate only once no unbilled charge carries it (it puts no inactive rate on a new item).
- Tax is worked out per line in the currency's Stripe unit and rounded half up, as Stripe
  does; inclusive tax is the part of the price the rate holds (net = gross - tax),
  exclusive tax is added on top. Our invoice mirrors Stripe's split: net, tax per rate,
  gross.
"""

import hashlib
import logging
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import stripe
from django.db import transaction
from django.utils import timezone

from billing import report_months
from billing.idempotency import stripe_once
from billing.models import TAX_NOTES, Charge, ChargeStatus, ClientTaxRate, TaxRate
from billing.stripe_access import stripe_client_for, stripe_enabled_for
from clients.models import Client, TaxStatus
from core.audit import audit_record
from core.currencies import from_stripe, to_stripe
from core.errors import ApplicationError

logger = logging.getLogger(__name__)

PERCENT_DECIMALS = 4
# Stripe's kinds of tax id the product offers, with the shape each value must have.
TAX_ID_TYPES = {
    "eu_vat": ("EU VAT number", re.compile(r"^[A-Z]{2}[0-9A-Z+*]{2,12}$"), "DE123456789"),
    "gb_vat": ("UK VAT number", re.compile(r"^GB(\d{9}|\d{12})$"), "GB123456789"),
    "ch_vat": (
        "Swiss VAT number",
        re.compile(r"^CHE-\d{3}\.\d{3}\.\d{3} (MWST|TVA|IVA)$"),
        "CHE-123.456.789 MWST",
    ),
    "no_vat": ("Norwegian VAT number", re.compile(r"^\d{9}MVA$"), "123456789MVA"),
    "us_ein": ("US EIN", re.compile(r"^\d{2}-\d{7}$"), "12-3456789"),
    "ca_bn": ("Canadian BN", re.compile(r"^\d{9}$"), "123456789"),
    "au_abn": ("Australian ABN", re.compile(r"^\d{11}$"), "12345678912"),
    "nz_gst": ("New Zealand GST number", re.compile(r"^\d{8,9}$"), "123456789"),
    "in_gst": (
        "Indian GSTIN",
        re.compile(r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$"),
        "12ABCDE3456FGZH",
    ),
    "jp_cn": ("Japanese corporate number", re.compile(r"^\d{13}$"), "1234567891234"),
}
TAX_ID_CHOICES = [("", "None (printed only)")] + [
    (kind, label) for kind, (label, _, _) in TAX_ID_TYPES.items()
]
UNBILLED = (ChargeStatus.PENDING, ChargeStatus.HELD)


def _refuse(message: str, code: str, field: str | None = None, **extra) -> ApplicationError:
    if field:
        extra["field"] = field
    return ApplicationError(message, code=code, extra=extra)


# -- sums ---------------------------------------------------------------------------------


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def stripe_line_taxes(amount: int, rates) -> list[int]:
    """Each rate's tax on a line of `amount` in Stripe's unit, as Stripe rounds it: an
    exclusive rate's on top of the amount, an inclusive rate's share of it."""
    inclusive = sum((rate.percentage for rate in rates if rate.inclusive), Decimal(0))
    return [
        _round(amount * rate.percentage / (100 + inclusive))
        if rate.inclusive
        else _round(amount * rate.percentage / 100)
        for rate in rates
    ]


def line_split(amount: int, currency: str, rates) -> tuple[int, int, int]:
    """(net, tax, gross) in minor units of a line whose price is `amount` under `rates`."""
    if not rates:
        return amount, 0, amount
    sent = to_stripe(amount, currency).amount
    taxes = stripe_line_taxes(sent, rates)
    included = sum(tax for rate, tax in zip(rates, taxes, strict=True) if rate.inclusive)
    added = sum(taxes) - included
    gross = from_stripe(sent + added, currency)
    net = from_stripe(sent - included, currency)
    return net, gross - net, gross


# -- tax rates ----------------------------------------------------------------------------


def parse_percentage(value) -> Decimal:
    """A percentage from 0 to 100 with at most four decimals, or a clear refusal."""
    try:
        percentage = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        raise _refuse(
            "Give the rate as a number, e.g. 20 or 7.5.", "tax_percentage_invalid", "percentage"
        ) from None
    if not percentage.is_finite() or not 0 <= percentage <= 100:
        raise _refuse(
            "A tax rate is from 0 to 100 percent.", "tax_percentage_out_of_range", "percentage"
        )
    if percentage.as_tuple().exponent < -PERCENT_DECIMALS:
        raise _refuse(
            f"A tax rate has at most {PERCENT_DECIMALS} decimals.",
            "tax_percentage_too_precise",
            "percentage",
        )
    return percentage.quantize(Decimal(1).scaleb(-PERCENT_DECIMALS))


def _clean_rate_fields(*, display_name, country, jurisdiction, description) -> dict:
    display_name = (display_name or "").strip()
    if not display_name:
        raise _refuse(
            "Name the rate as invoices show it, e.g. VAT.", "tax_name_required", "display_name"
        )
    if len(display_name) > 50:
        raise _refuse("Keep the name to 50 characters.", "tax_name_too_long", "display_name")
    country = (country or "").strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise _refuse(
            "The country is its two-letter code, e.g. DE.", "tax_country_invalid", "country"
        )
    jurisdiction = (jurisdiction or "").strip()
    if len(jurisdiction) > 50:
        raise _refuse(
            "Keep the jurisdiction to 50 characters.",
            "tax_jurisdiction_too_long",
            "jurisdiction",
        )
    description = (description or "").strip()
    if len(description) > 255:
        raise _refuse(
            "Keep the description to 255 characters.",
            "tax_description_too_long",
            "description",
        )
    return {
        "display_name": display_name,
        "country": country,
        "jurisdiction": jurisdiction,
        "description": description,
    }


def _stripe_fields(rate: TaxRate) -> dict:
    params = {"display_name": rate.display_name}
    for name in ("country", "jurisdiction", "description"):
        params[name] = getattr(rate, name) or ""
    return params


def stripe_tax_rate_id(*, agency, rate: TaxRate, stripe_client=None) -> str:
    """The rate's Stripe Tax Rate, made the first time, exactly once: the key is the rate's
    own, and after a 500 it is looked for by its metadata before it is asked for again."""
    if rate.stripe_tax_rate_id:
        return rate.stripe_tax_rate_id
    stripe_client = stripe_client or stripe_client_for(agency)
    metadata = {"agency_id": str(agency.pk), "tax_rate_id": str(rate.pk)}
    params = {
        **{k: v for k, v in _stripe_fields(rate).items() if v},
        "percentage": f"{rate.percentage.normalize():f}",
        "inclusive": rate.inclusive,
        "metadata": metadata,
    }

    def made_already():
        for found in stripe_client.v1.tax_rates.list(params={"limit": 100}).auto_paging_iter():
            held = found.metadata.to_dict() if found.metadata else {}
            if all(held.get(k) == v for k, v in metadata.items()):
                return found
        return None

    made = stripe_once(
        agency=agency,
        key=f"txr-{agency.pk}-{rate.pk}",
        send=lambda key: stripe_client.v1.tax_rates.create(
            params=params, options={"idempotency_key": key}
        ),
        find=made_already,
    )
    TaxRate.objects.filter(agency=agency, pk=rate.pk, stripe_tax_rate_id="").update(
        stripe_tax_rate_id=made.id
    )
    rate.stripe_tax_rate_id = (
        TaxRate.objects.filter(agency=agency, pk=rate.pk)
        .values_list("stripe_tax_rate_id", flat=True)
        .get()
    )
    return rate.stripe_tax_rate_id


def _push_new_rate(agency, rate: TaxRate) -> None:
    """Make the rate at Stripe now if Stripe is set up; if Stripe cannot be reached it is
    made the first time a charge carrying it is sent."""
    if not stripe_enabled_for(agency):
        return
    try:
        stripe_tax_rate_id(agency=agency, rate=rate)
    except stripe.StripeError as error:
        logger.warning("tax rate %s of agency %s not at Stripe yet: %s", rate.pk, agency.pk, error)


def tax_rate_create(
    *,
    agency,
    actor,
    display_name: str,
    percentage,
    inclusive: bool,
    country: str = "",
    jurisdiction: str = "",
    description: str = "",
    replaces: TaxRate | None = None,
) -> TaxRate:
    """A new tax rate of the agency (audited), made at Stripe once."""
    fields = _clean_rate_fields(
        display_name=display_name,
        country=country,
        jurisdiction=jurisdiction,
        description=description,
    )
    percentage = parse_percentage(percentage)
    with transaction.atomic():
        rate = TaxRate.objects.create(
            agency=agency,
            percentage=percentage,
            inclusive=bool(inclusive),
            replaces=replaces,
            created_by=actor if actor is not None and actor.is_authenticated else None,
            **fields,
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="tax_rate.created",
            target=rate,
            percentage=str(rate.percentage),
            inclusive=rate.inclusive,
            replaces=replaces.pk if replaces else None,
            **fields,
        )
    _push_new_rate(agency, rate)
    return rate


def tax_rate_update(
    *,
    agency,
    actor,
    tax_rate: TaxRate,
    display_name: str,
    percentage,
    inclusive: bool,
    country: str = "",
    jurisdiction: str = "",
    description: str = "",
) -> TaxRate:
    """Change a rate. Its name, country, jurisdiction and description change in place (and
    at Stripe); a new percentage or inclusiveness archives it and makes its successor,
    which takes its place among the clients' defaults. Returns the rate now in force."""
    tax_rate = TaxRate.objects.get(agency=agency, pk=tax_rate.pk)
    if not tax_rate.is_active:
        raise _refuse("This rate is archived; add a new one instead.", "tax_rate_archived")
    fields = _clean_rate_fields(
        display_name=display_name,
        country=country,
        jurisdiction=jurisdiction,
        description=description,
    )
    percentage = parse_percentage(percentage)
    if percentage != tax_rate.percentage or bool(inclusive) != tax_rate.inclusive:
        with transaction.atomic():
            successor = tax_rate_create(
                agency=agency,
                actor=actor,
                percentage=percentage,
                inclusive=inclusive,
                replaces=tax_rate,
                **fields,
            )
            ClientTaxRate.objects.filter(agency=agency, tax_rate=tax_rate).update(
                tax_rate=successor
            )
        tax_rate_archive(agency=agency, actor=actor, tax_rate=tax_rate)
        return successor
    with transaction.atomic():
        for name, value in fields.items():
            setattr(tax_rate, name, value)
        tax_rate.save(update_fields=list(fields))
        audit_record(
            agency=agency, actor=actor, action="tax_rate.updated", target=tax_rate, **fields
        )
    if tax_rate.stripe_tax_rate_id:
        client = stripe_client_for(agency)
        digest = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()[:16]
        try:
            stripe_once(
                agency=agency,
                key=f"txr-update-{tax_rate.pk}-{digest}",
                send=lambda key: client.v1.tax_rates.update(
                    tax_rate.stripe_tax_rate_id,
                    params=_stripe_fields(tax_rate),
                    options={"idempotency_key": key},
                ),
            )
        except stripe.StripeError as error:
            raise _refuse(
                "Saved here, but Stripe could not be told; save it again in a minute.",
                "stripe_unreachable",
                error=type(error).__name__,
            ) from None
    return tax_rate


def tax_rate_archive(*, agency, actor, tax_rate: TaxRate) -> TaxRate:
    """Archive a rate (audited): no new charge takes it, and it leaves the clients'
    defaults. Stripe archives it once nothing unbilled carries it (`tax_rates_retire`)."""
    with transaction.atomic():
        tax_rate = TaxRate.objects.select_for_update().get(agency=agency, pk=tax_rate.pk)
        if tax_rate.archived_at is not None:
            return tax_rate
        tax_rate.archived_at = timezone.now()
        tax_rate.archived_by = actor if actor is not None and actor.is_authenticated else None
        tax_rate.save(update_fields=["archived_at", "archived_by"])
        ClientTaxRate.objects.filter(agency=agency, tax_rate=tax_rate).delete()
        audit_record(agency=agency, actor=actor, action="tax_rate.archived", target=tax_rate)
    _retire_quietly(agency)
    return tax_rate


def _retire_quietly(agency) -> None:
    try:
        tax_rates_retire(agency=agency)
    except (stripe.StripeError, ApplicationError) as error:
        logger.warning("agency %s: archived tax rates not retired yet: %s", agency.pk, error)


def _carried_unbilled(agency) -> set[int]:
    carried = set()
    for ids in Charge.objects.filter(
        agency=agency, status__in=UNBILLED, tax_rates__isnull=False
    ).values_list("tax_rates", flat=True):
        carried.update(ids or [])
    return carried


def tax_rates_retire(*, agency) -> int:
    """Archive at Stripe (active=false) each archived rate no unbilled charge carries any
    more. Safe to run any number of times; returns how many it archived."""
    waiting = list(
        TaxRate.objects.filter(
            agency=agency, archived_at__isnull=False, stripe_archived_at__isnull=True
        )
    )
    if not waiting:
        return 0
    carried = _carried_unbilled(agency)
    stripe_client = stripe_client_for(agency) if stripe_enabled_for(agency) else None
    done = 0
    for rate in waiting:
        if rate.pk in carried:
            continue
        if rate.stripe_tax_rate_id and stripe_client is not None:
            stripe_once(
                agency=agency,
                key=f"txr-archive-{rate.pk}",
                send=lambda key, rate=rate: stripe_client.v1.tax_rates.update(
                    rate.stripe_tax_rate_id,
                    params={"active": False},
                    options={"idempotency_key": key},
                ),
            )
        TaxRate.objects.filter(agency=agency, pk=rate.pk).update(stripe_archived_at=timezone.now())
        done += 1
    return done


def retire_archived_tax_rates() -> int:
    """Beat: `tax_rates_retire` in every agency with an archived rate still live at Stripe.
    Spans agencies on purpose (one query with scopes off), each done in its own scope."""
    from core.tenancy import agency_scope, scopes_disabled

    with scopes_disabled():
        agencies = {
            rate.agency_id: rate.agency
            for rate in TaxRate.objects.filter(
                archived_at__isnull=False, stripe_archived_at__isnull=True
            ).select_related("agency")
        }
    done = 0
    for agency in agencies.values():
        with agency_scope(agency):
            try:
                done += tax_rates_retire(agency=agency)
            except (stripe.StripeError, ApplicationError) as error:
                logger.warning("agency %s: tax rates not retired: %s", agency.pk, error)
    return done


# -- clients ------------------------------------------------------------------------------


def client_tax_rates(*, agency, client: Client) -> list[TaxRate]:
    """The client's default rates (active ones), in a stable order."""
    return list(
        TaxRate.objects.filter(
            agency=agency,
            archived_at__isnull=True,
            client_links__client=client,
            client_links__agency=agency,
        ).order_by("pk")
    )


def check_tax_id(tax_id_type: str, tax_id: str) -> tuple[str, str]:
    """A tax id of a kind Stripe knows, in the shape that kind has; or a clear refusal."""
    tax_id_type = (tax_id_type or "").strip()
    tax_id = re.sub(r"\s+", " ", (tax_id or "").strip())
    if len(tax_id) > 64:
        raise _refuse("Keep the tax id to 64 characters.", "tax_id_too_long", "tax_id")
    if not tax_id_type:
        return "", tax_id
    if tax_id_type not in TAX_ID_TYPES:
        raise _refuse(
            "Choose a kind of tax id from the list.", "tax_id_type_invalid", "tax_id_type"
        )
    label, shape, example = TAX_ID_TYPES[tax_id_type]
    if not tax_id:
        raise _refuse(f"Give the tax id ({label}).", "tax_id_required", "tax_id")
    compact = tax_id if tax_id_type == "ch_vat" else tax_id.replace(" ", "").upper()
    if not shape.match(compact):
        raise _refuse(
            f"That is not a valid {label}: it looks like {example}.",
            "tax_id_invalid",
            "tax_id",
        )
    return tax_id_type, compact


def client_tax_update(
    *,
    agency,
    actor,
    client: Client,
    tax_status: str,
    tax_id_type: str = "",
    tax_id: str = "",
    tax_rate_ids=(),
) -> Client:
    """Set the client's tax status, tax id and default rates (audited). Work charged
    already keeps its tax; the next charge takes these. Stripe's customer is brought up to
    date now if it exists (else, or if Stripe cannot be reached, before its next item)."""
    if tax_status not in TaxStatus.values:
        raise _refuse("Choose how the client is taxed.", "tax_status_invalid", "tax_status")
    tax_id_type, tax_id = check_tax_id(tax_id_type, tax_id)
    try:
        wanted = sorted({int(pk) for pk in tax_rate_ids})
    except (TypeError, ValueError):
        raise _refuse("Choose the rates from the list.", "tax_rates_invalid", "tax_rates") from None
    rates = list(TaxRate.objects.filter(agency=agency, archived_at__isnull=True, pk__in=wanted))
    if len(rates) != len(wanted):
        raise _refuse(
            "Choose the rates from the list (archived rates cannot be chosen).",
            "tax_rates_invalid",
            "tax_rates",
        )
    if len(rates) > 5:
        raise _refuse(
            "A client's work carries at most 5 tax rates.", "tax_rates_too_many", "tax_rates"
        )
    with transaction.atomic():
        client = Client.objects.select_for_update().get(agency=agency, pk=client.pk)
        client.tax_status = tax_status
        client.tax_id_type, client.tax_id = tax_id_type, tax_id
        client.stripe_tax_synced = False
        client.save(update_fields=["tax_status", "tax_id_type", "tax_id", "stripe_tax_synced"])
        ClientTaxRate.objects.filter(agency=agency, client=client).exclude(
            tax_rate__in=rates
        ).delete()
        held = set(
            ClientTaxRate.objects.filter(agency=agency, client=client).values_list(
                "tax_rate_id", flat=True
            )
        )
        ClientTaxRate.objects.bulk_create(
            [
                ClientTaxRate(agency=agency, client=client, tax_rate=rate)
                for rate in rates
                if rate.pk not in held
            ]
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="client.tax_updated",
            target=client,
            tax_status=tax_status,
            tax_id_type=tax_id_type,
            tax_id=tax_id,
            tax_rates=wanted,
        )
    if client.stripe_customer_id and stripe_enabled_for(agency):
        try:
            client_tax_sync(agency=agency, client=client)
        except stripe.StripeError as error:
            logger.warning("client %s: tax details not at Stripe yet: %s", client.pk, error)
    return client


def client_tax_sync(*, agency, client: Client, stripe_client=None) -> None:
    """Stripe's customer gets the client's tax status (`tax_exempt`) and tax id (its only
    one: others there are removed). Every request is keyed by what it sets, so a retry
    repeats nothing."""
    stripe_client = stripe_client or stripe_client_for(agency)
    customer_id = client.stripe_customer_id
    digest = hashlib.sha256(
        f"{client.tax_status}|{client.tax_id_type}|{client.tax_id}".encode()
    ).hexdigest()[:16]
    stripe_once(
        agency=agency,
        key=f"cus-tax-{client.pk}-{digest}",
        send=lambda key: stripe_client.v1.customers.update(
            customer_id,
            params={"tax_exempt": client.tax_status},
            options={"idempotency_key": key},
        ),
    )
    held = list(stripe_client.v1.customers.tax_ids.list(customer_id, params={"limit": 100}))
    wanted = (client.tax_id_type, client.tax_id) if client.tax_id_type else None
    for tax_id in held:
        if (tax_id.type, tax_id.value) != wanted:
            try:
                stripe_client.v1.customers.tax_ids.delete(customer_id, tax_id.id)
            except stripe.InvalidRequestError as error:
                if error.code != "resource_missing":
                    raise
    if wanted and all((t.type, t.value) != wanted for t in held):
        stripe_once(
            agency=agency,
            key=f"cus-taxid-{client.pk}-{digest}",
            send=lambda key: stripe_client.v1.customers.tax_ids.create(
                customer_id,
                params={"type": wanted[0], "value": wanted[1]},
                options={"idempotency_key": key},
            ),
            find=lambda: next(
                (
                    t
                    for t in stripe_client.v1.customers.tax_ids.list(customer_id)
                    if (t.type, t.value) == wanted
                ),
                None,
            ),
        )
    Client.objects.filter(
        agency=agency,
        pk=client.pk,
        tax_status=client.tax_status,
        tax_id_type=client.tax_id_type,
        tax_id=client.tax_id,
    ).update(stripe_tax_synced=True)
    client.stripe_tax_synced = True


# -- charges ------------------------------------------------------------------------------


def charge_fix_tax(charge: Charge, *, save: bool = True) -> Charge:
    """Fix the charge's tax once, from its client as it stands now: its default rates,
    or none for an exempt or reverse-charged client; and the split of its amount into
    net, tax and gross. A charge fixed already keeps its tax."""
    if charge.tax_rates is not None:
        return charge
    client = charge.client
    if client.tax_status == TaxStatus.TAXABLE:
        rates = client_tax_rates(agency=charge.agency, client=client)
    else:
        rates = []
    charge.tax_rates = [rate.pk for rate in rates]
    charge.tax_status = client.tax_status
    charge.net_amount, charge.tax_amount, charge.gross_amount = line_split(
        charge.amount, charge.currency, rates
    )
    if save and charge.pk:
        Charge.objects.filter(agency_id=charge.agency_id, pk=charge.pk).update(
            tax_rates=charge.tax_rates,
            tax_status=charge.tax_status,
            net_amount=charge.net_amount,
            tax_amount=charge.tax_amount,
            gross_amount=charge.gross_amount,
        )
        report_months.charges_touched(agency_id=charge.agency_id, charges=[charge])
    return charge


def charge_rates(charge: Charge, *, known: dict[int, TaxRate] | None = None) -> list[TaxRate]:
    """The charge's rates, in its order; from `known` (rates_of_charges) when given."""
    if not charge.tax_rates:
        return []
    found = known
    if found is None:
        found = rates_of_charges(agency_id=charge.agency_id, charges=[charge])
    return [found[pk] for pk in charge.tax_rates if pk in found]


def rates_of_charges(*, agency_id: int, charges) -> dict[int, TaxRate]:
    """Every rate the charges were made under, by id: one query for a whole batch, none
    when no charge was taxed."""
    wanted = {pk for charge in charges for pk in (charge.tax_rates or ())}
    if not wanted:
        return {}
    return {rate.pk: rate for rate in TaxRate.objects.filter(agency_id=agency_id, pk__in=wanted)}


def item_tax_params(charge: Charge, *, agency, known: dict[int, TaxRate] | None = None) -> dict:
    """What an invoice item of the charge adds for tax: its rates' Stripe ids. On the way,
    its tax is fixed if nothing fixed it yet, its rates are made at Stripe if they are
    not there, and its client's tax details are brought up to date at Stripe. `known` is
    the batch's rates (rates_of_charges), so a period's hundreds of lines cost no query
    each."""
    if charge.tax_rates is None:
        charge_fix_tax(charge)
        known = None  # fixed just now: its rates are not in the batch's
    client = charge.client
    stripe_client = None
    if not client.stripe_tax_synced and client.stripe_customer_id:
        stripe_client = stripe_client_for(agency)
        client_tax_sync(agency=agency, client=client, stripe_client=stripe_client)
    rates = charge_rates(charge, known=known)
    if not rates:
        return {}
    if any(not rate.stripe_tax_rate_id for rate in rates):
        stripe_client = stripe_client or stripe_client_for(agency)
    return {
        "tax_rates": [
            stripe_tax_rate_id(agency=agency, rate=rate, stripe_client=stripe_client)
            for rate in rates
        ]
    }


def invoice_tax_params(client_id: int, agency_id: int) -> dict:
    """What a new Stripe invoice says of a client that pays no tax on it."""
    status = (
        Client.objects.filter(agency_id=agency_id, pk=client_id)
        .values_list("tax_status", flat=True)
        .first()
    )
    note = TAX_NOTES.get(status)
    if not note:
        return {}
    label = "Reverse charge" if status == TaxStatus.REVERSE else "Tax exempt"
    return {"footer": note, "custom_fields": [{"name": "Tax", "value": label}]}


# -- our copy of Stripe's figures ---------------------------------------------------------


def taxes_from_stripe(data: dict, currency: str, agency_id) -> tuple[int, int, list[dict]]:
    """(net, tax, per-rate taxes) of a Stripe invoice, in our minor units: Stripe's
    `total_excluding_tax`, its `total_taxes` and each rate's share, named as our rate."""
    total = data.get("total") or 0
    excluding = data.get("total_excluding_tax")
    net = from_stripe(total if excluding is None else excluding, currency)
    taxes = data.get("total_taxes") or []
    if not taxes:
        return net, 0, []
    stripe_ids = [(t.get("tax_rate_details") or {}).get("tax_rate") for t in taxes]
    ours = {
        rate.stripe_tax_rate_id: rate
        for rate in TaxRate.objects.filter(agency_id=agency_id, stripe_tax_rate_id__in=stripe_ids)
    }
    lines = []
    for stripe_id, tax in zip(stripe_ids, taxes, strict=True):
        rate = ours.get(stripe_id)
        lines.append(
            {
                "tax_rate": stripe_id,
                "display_name": rate.display_name if rate else "Tax",
                "percentage": f"{rate.percentage.normalize():f}" if rate else "",
                "inclusive": tax.get("tax_behavior") == "inclusive",
                "amount": from_stripe(tax.get("amount") or 0, currency),
                "taxable": from_stripe(tax.get("taxable_amount") or 0, currency),
            }
        )
    return net, sum(line["amount"] for line in lines), lines


def credit_split(charge: Charge, line_amount: int, currency: str) -> tuple[int, int, int, int]:
    """A credit of `line_amount` on the charge's line, as Stripe works it out from the
    line's rates: (Stripe amount of the line credited, Stripe total, our net, our tax)."""
    sent = to_stripe(line_amount, currency).amount
    rates = charge_rates(charge) if charge is not None else []
    taxes = stripe_line_taxes(sent, rates)
    included = sum(tax for rate, tax in zip(rates, taxes, strict=True) if rate.inclusive)
    total = sent + sum(taxes) - included
    net = from_stripe(sent - included, currency)
    return sent, total, net, from_stripe(total, currency) - net
