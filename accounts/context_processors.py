from django.utils.functional import SimpleLazyObject

from accounts.selectors import memberships_for_user


def tenancy(request):
    """The current agency and the user's other agencies, for the header and switcher."""
    return {
        "current_agency": getattr(request, "agency", None),
        "current_membership": getattr(request, "membership", None),
        "user_memberships": SimpleLazyObject(lambda: memberships_for_user(request.user)),
    }
