from django import template

from core.money import format_money

register = template.Library()


@register.filter
def money(minor, currency):
    """{{ amount|money:currency }} → "$1,250.00" (amount in minor units)."""
    return format_money(minor, currency)


@register.filter
def hours(minutes):
    """{{ minutes|hours }}: 50 → "50 min", 95 → "1 h 35 min", 600 → "10 h" (durations are
    stored in whole minutes)."""
    if minutes is None:
        return "—"
    whole, rest = divmod(int(minutes), 60)
    if not whole:
        return f"{rest} min"
    return f"{whole} h {rest} min" if rest else f"{whole} h"
