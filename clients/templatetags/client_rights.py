"""{% client_may membership "invoices" as may_see_invoices %}: whether a member holds a
right (clients.permissions), for templates that show a client's people what they may use."""

from django import template

from clients.permissions import client_may as member_may

register = template.Library()


@register.simple_tag
def client_may(membership, what: str) -> bool:
    return member_may(membership, what)
