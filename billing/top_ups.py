"""Top-up hours: a client buys extra hours for a retainer line's month.

- The price of an hour is the terms' top-up rate, or the overage rate where the contract
  sets none: the client pays no more for hours bought ahead than for hours run over.
- The hours join this month's bank (client's calendar month) the moment they are bought,
  so the next task draws on them at once; they roll over and expire like the month's own
  hours (billing.retainer). The charge that bills them is a debt like any other, and an
  unpaid one meets the agency's late-payment policy like any other.
- The charge (kind top_up) goes to Stripe at once, whatever the contract's cadence: the
  card on file is charged, or, without one, the invoice is sent to pay by link.
- Exactly once: the confirm form carries a token; the database holds one purchase per
  client and token, so a double click, a retried request or a form sent again buys once.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import report_months
from billing.models import Charge, ChargeKind, ChargeStatus, TopUp
from contracts.models import ContractLine, ContractStatus, ContractTerms, PricingModel
from contracts.pricing import amount_for_minutes
from contracts.selectors import version_at
from core.audit import audit_record
from core.errors import ApplicationError
from core.jobs import queue_job
from core.money import format_money
from core.periods import month_start

logger = logging.getLogger(__name__)

# Bought in quarter hours, from a quarter to a hundred hours at a time.
STEP_MINUTES = 15
MAX_MINUTES = 100 * 60
TOKEN_MAX_LENGTH = 64


def top_up_charge_key(top_up_id: int) -> str:
    return f"charge-top-up-{top_up_id}"


def top_up_lines(*, agency, client) -> list[ContractLine]:
    """The client's retainer lines that hours can be bought for now: on an active contract,
    not removed, priced as a retainer today."""
    now = timezone.now()
    lines = (
        ContractLine.objects.filter(
            agency=agency,
            contract__client=client,
            contract__status=ContractStatus.ACTIVE,
            removed_at=None,
        )
        .select_related("contract", "service")
        .prefetch_related("terms")
        .order_by("service__name", "pk")
    )
    found = []
    for line in lines:
        versions = sorted(line.terms.all(), key=lambda v: v.effective_from, reverse=True)
        terms = version_at(versions, now)
        if terms is not None and terms.pricing_model == PricingModel.RETAINER:
            line.top_up_terms = terms
            found.append(line)
    return found


def top_up_price(terms: ContractTerms) -> int:
    """What one extra hour costs, in minor units."""
    return terms.top_up_rate if terms.top_up_rate is not None else terms.overage_rate


def top_up_quote(*, agency, client, line_id, minutes) -> dict:
    """What buying `minutes` for the line costs now, checked: the line, the hours."""
    line = next(
        (line for line in top_up_lines(agency=agency, client=client) if line.pk == line_id), None
    )
    if line is None:
        raise ApplicationError(
            "Choose a retainer service of your contract.",
            code="top_up_line_invalid",
            extra={"field": "line"},
        )
    if not isinstance(minutes, int) or minutes <= 0 or minutes > MAX_MINUTES:
        raise ApplicationError(
            f"Buy from 0.25 to {MAX_MINUTES // 60} hours.",
            code="top_up_hours_invalid",
            extra={"field": "hours"},
        )
    if minutes % STEP_MINUTES:
        raise ApplicationError(
            "Buy hours in quarter hours (0.25, 0.5, 0.75 …).",
            code="top_up_hours_invalid",
            extra={"field": "hours"},
        )
    terms = line.top_up_terms
    rate = top_up_price(terms)
    currency = line.contract.currency
    amount = amount_for_minutes(rate, minutes)
    return {
        "line": line,
        "terms": terms,
        "minutes": minutes,
        "hourly_price": rate,
        "amount": amount,
        "currency": currency,
        "price_words": format_money(amount, currency),
        "rate_words": format_money(rate, currency),
        "period_start": month_start(timezone.now(), client.time_zone),
    }


def top_up_buy(*, agency, actor, client, line_id: int, minutes: int, token: str) -> TopUp:
    """Buy extra hours for this month's bank of a retainer line, once per token: the
    purchase the token already made is returned as it is. The hours count at once; the
    charge is sent to Stripe after commit (audited)."""
    token = (token or "").strip()
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise ApplicationError(
            "This form has expired: start the purchase again.", code="top_up_token_invalid"
        )
    existing = TopUp.objects.filter(agency=agency, client=client, token=token).first()
    if existing is not None:
        return existing
    quote = top_up_quote(agency=agency, client=client, line_id=line_id, minutes=minutes)
    line = quote["line"]
    try:
        with transaction.atomic():
            # The line's lock orders this with every charge drawing on the bank.
            ContractLine.objects.select_for_update().filter(agency=agency, pk=line.pk).first()
            existing = TopUp.objects.filter(agency=agency, client=client, token=token).first()
            if existing is not None:
                return existing
            top_up = TopUp.objects.create(
                agency=agency,
                client=client,
                contract_line=line,
                terms=quote["terms"],
                period_start=quote["period_start"],
                minutes=minutes,
                hourly_price=quote["hourly_price"],
                amount=quote["amount"],
                currency=quote["currency"],
                token=token,
                bought_by=actor,
            )
            hours = f"{minutes / 60:g} h"
            charge = Charge.objects.create(
                agency=agency,
                kind=ChargeKind.TOP_UP,
                contract_line=line,
                terms=quote["terms"],
                client=client,
                period_start=quote["period_start"],
                amount=quote["amount"],
                currency=quote["currency"],
                description=(
                    f"Top-up {hours} of {line.service.name}, {quote['period_start']:%B %Y}"
                )[:255],
                idempotency_key=top_up_charge_key(top_up.pk),
                billable_at=timezone.now(),
                status=ChargeStatus.PENDING if quote["amount"] else ChargeStatus.COVERED,
                breakdown={
                    "top_up": top_up.pk,
                    "minutes": minutes,
                    "hourly_price": quote["hourly_price"],
                    "price_from": "top_up_rate"
                    if quote["terms"].top_up_rate is not None
                    else "overage_rate",
                    "period_start": quote["period_start"].isoformat(),
                    "amount": quote["amount"],
                },
            )
            top_up.charge = charge
            top_up.save(update_fields=["charge"])
            report_months.charges_touched(agency_id=agency.pk, charges=[charge])
            audit_record(
                agency=agency,
                actor=actor,
                action="top_up.bought",
                target=top_up,
                charge=charge.pk,
                minutes=minutes,
                amount=charge.amount,
                currency=charge.currency,
            )
            if charge.amount:
                transaction.on_commit(
                    lambda: queue_job(
                        "billing.jobs.push_charge", agency_id=agency.pk, charge_id=charge.pk
                    )
                )
    except IntegrityError:
        # The same token sent twice at once: the first one's purchase stands.
        existing = TopUp.objects.filter(agency=agency, client=client, token=token).first()
        if existing is None:
            raise
        return existing
    return top_up


def top_up_list(*, agency, client, limit: int = 20) -> list[TopUp]:
    """The client's latest purchases, newest first, with their line and charge."""
    return list(
        TopUp.objects.filter(agency=agency, client=client)
        .select_related("contract_line__service", "charge__invoice", "bought_by")
        .order_by("-created_at", "-pk")[:limit]
    )
