from django import template

from billing.tax import TAX_ID_TYPES, client_tax_rates

register = template.Library()


@register.simple_tag
def client_tax(client) -> dict:
    """What a client's people see of their own tax details: status, tax id and rates."""
    label = TAX_ID_TYPES.get(client.tax_id_type, ("Tax id",))[0]
    return {
        "status": client.get_tax_status_display(),
        "tax_id_label": label,
        "rates": client_tax_rates(agency=client.agency, client=client),
    }
