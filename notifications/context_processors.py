from functools import cache

from core.tenancy import agency_scope
from notifications.selectors import unread_count


def unread_notifications(request):
    """The header's unread count: one COUNT query, made only when a page inside an agency
    shows it (a callable, which the template calls once inside {% with %})."""
    agency = getattr(request, "agency", None)
    if agency is None or getattr(request, "membership", None) is None:
        return {}

    @cache
    def unread() -> int:
        with agency_scope(agency):
            return unread_count(agency=agency, user=request.user)

    return {"unread_notifications": unread}
