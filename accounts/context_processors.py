from functools import cache

from django.utils.functional import SimpleLazyObject

from accounts.selectors import memberships_for_user


def tenancy(request):
    """The current agency and the user's other agencies, for the header and switcher."""
    return {
        "current_agency": getattr(request, "agency", None),
        "current_membership": getattr(request, "membership", None),
        "user_memberships": SimpleLazyObject(lambda: memberships_for_user(request.user)),
    }


def notifications(request):
    """The header's unread count: one COUNT query, made only when a page inside an agency
    shows it (a callable, which the template calls once inside {% with %})."""
    agency = getattr(request, "agency", None)
    if agency is None or getattr(request, "membership", None) is None:
        return {}

    @cache
    def unread() -> int:
        from accounts.notifications import unread_count
        from core.tenancy import agency_scope

        with agency_scope(agency):
            return unread_count(agency=agency, user=request.user)

    return {"unread_notifications": unread}
