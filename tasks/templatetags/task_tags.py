"""Task figures for pages whose views belong to other apps (the dashboards)."""

from django import template

from tasks.selectors import request_counts, tasks_nobody_can_take

register = template.Library()


@register.simple_tag
def client_request_counts(agency, client_id) -> dict[str, int]:
    """{% client_request_counts agency membership.client_id as counts %}: how many of the
    client's requests are open, waiting on them, awaiting approval... in one query."""
    return request_counts(agency=agency, client_id=client_id)


@register.simple_tag
def tasks_waiting_for_skill(agency, limit: int = 10) -> dict:
    """{% tasks_waiting_for_skill agency as waiting %}: queued tasks nobody active may take
    (the first `limit`, and how many there are), in two queries whatever their number."""
    tasks = tasks_nobody_can_take(agency=agency)
    return {"tasks": list(tasks[:limit]), "count": tasks.count()}
