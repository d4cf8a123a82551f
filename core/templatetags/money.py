from django import template

from core.money import format_money

register = template.Library()


@register.filter
def money(minor, currency):
    """{{ amount|money:currency }} → "$1,250.00" (amount in minor units)."""
    return format_money(minor, currency)


@register.filter
def hours(minutes):
    """{{ minutes|hours }} → "7.5 h" (durations are stored in whole minutes)."""
    if minutes is None:
        return "—"
    value = minutes / 60
    return f"{value:g} h"
