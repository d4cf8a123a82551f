"""Task figures for pages whose views belong to other apps (the dashboards)."""

from django import template

from tasks.selectors import request_counts

register = template.Library()


@register.simple_tag
def client_request_counts(agency, client_id) -> dict[str, int]:
    """{% client_request_counts agency membership.client_id as counts %}: how many of the
    client's requests are open, waiting on them, awaiting approval... in one query."""
    return request_counts(agency=agency, client_id=client_id)
