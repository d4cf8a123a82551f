"""`{% card_missing client as missing %}`, `{% card_missing client contract=contract as
missing %}`: whether to say that a "card on file" contract has no card to charge, on the
client's dashboard and the staff's contract page (billing.cards.card_missing)."""

from django import template

from billing.cards import card_missing as _card_missing

register = template.Library()


@register.simple_tag(takes_context=True)
def card_missing(context, client, contract=None) -> bool:
    agency = context.get("agency")
    if agency is None or client is None:
        return False
    return _card_missing(agency=agency, client=client, contract=contract)
