"""What each of a client's people may do for their company, decided in one place.

A client's owners may do everything their company can and manage its team (invite
colleagues, give and take rights, remove people). Everyone else holds the rights an owner
or the agency gave them: to request work, to approve (or send back) finished work, and to
see invoices (with the card on file, top-ups and credit notes that go with them).

`client_may(membership, what)` answers for one membership; `ClientMayMixin` refuses a page
or an endpoint with a 403 that says why; `client_actor_check` is the services' own check,
for callers that reach them without a page (e-mail intake, schedules, scripts).
"""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.views import View
from rest_framework import exceptions
from rest_framework.views import APIView

from accounts.models import Membership
from core.errors import ApplicationError
from core.roles import STAFF_ROLES, Role


class ClientRight(models.TextChoices):
    REQUEST = "request", "Request work"
    APPROVE = "approve", "Approve work"
    INVOICES = "invoices", "See invoices"
    # Owners only: invite colleagues, change their rights, remove them.
    TEAM = "team", "Manage the team"


# Which flag of ClientMemberRights holds each right an owner may give.
RIGHT_FIELDS = {
    ClientRight.REQUEST: "may_request",
    ClientRight.APPROVE: "may_approve",
    ClientRight.INVOICES: "may_see_invoices",
}

REFUSALS = {
    ClientRight.REQUEST: "Your company's owner has not let you request work.",
    ClientRight.APPROVE: "Your company's owner has not let you approve or send back work.",
    ClientRight.INVOICES: ("Your company's owner has not let you see invoices, cards or top-ups."),
    ClientRight.TEAM: "Only your company's owners can change who is on its team.",
}
ASK = " Ask them on the Our team page if you need to."


def member_rights(membership):
    """The membership's rights row, or None; read once per membership object."""
    try:
        return membership.client_rights
    except ObjectDoesNotExist:
        return None


def client_may(membership, what: str) -> bool:
    """May this member do `what` (a ClientRight) for their client?

    Agency staff may do everything a client can; assistants nothing of it. A client member
    with no rights row (made outside the invitation path, before rights existed) keeps what
    every client member could do until then: everything but manage the team.
    """
    if membership is None:
        return False
    return _may(membership, member_rights(membership), ClientRight(what))


def _may(membership, rights, what: str) -> bool:
    if not membership.is_active:
        return False
    if membership.role in STAFF_ROLES:
        return True
    if membership.role != Role.CLIENT:
        return False
    if rights is None:
        return what != ClientRight.TEAM
    if rights.is_owner:
        return True
    if what == ClientRight.TEAM:
        return False
    return getattr(rights, RIGHT_FIELDS[what])


def people_who_may(*, agency, people: dict, what: str) -> dict:
    """Of the people to tell, by client id (notifications' Recipients), those who may
    `what`: an e-mail about an invoice goes only to those who may see invoices. One query
    for all of them."""
    what = ClientRight(what)
    from clients.models import ClientMemberRights

    ids = {person.membership.pk for rows in people.values() for person in rows}
    rights = {
        row.membership_id: row
        for row in ClientMemberRights.objects.filter(agency=agency, membership_id__in=ids)
    }
    return {
        client_id: [
            person
            for person in rows
            if _may(person.membership, rights.get(person.membership.pk), what)
        ]
        for client_id, rows in people.items()
    }


def client_is_owner(membership) -> bool:
    rights = member_rights(membership) if membership.role == Role.CLIENT else None
    return rights is not None and rights.is_owner


def client_refusal(what: str) -> str:
    what = ClientRight(what)
    return REFUSALS[what] + ("" if what == ClientRight.TEAM else ASK)


def client_require(membership, what: str, *, api: bool = False) -> None:
    """Refuse with a 403 (the page's or the API's) unless the member may do `what`."""
    if client_may(membership, what):
        return
    if api:
        raise exceptions.PermissionDenied(client_refusal(what), code="client_right_missing")
    raise PermissionDenied(client_refusal(what))


def client_actor_check(*, agency, actor, client_id: int, what: str) -> None:
    """The services' check: a client member acting for their client must hold the right.

    Staff, and work started by the system (no actor), pass; an actor who is a member of
    this client without the right gets an ApplicationError that says so.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    membership = (
        Membership.objects.filter(agency=agency, user=actor, is_active=True)
        .select_related("client_rights")
        .first()
    )
    if membership is None or membership.role != Role.CLIENT:
        return
    if membership.client_id != client_id or not client_may(membership, what):
        raise ApplicationError(
            client_refusal(what) if membership.client_id == client_id else "Unknown client.",
            code="client_right_missing",
            extra={"right": str(ClientRight(what))},
        )


UNSAFE = ("post", "put", "patch", "delete")


class ClientMayMixin:
    """Refuse the view to client members who lack a right, with a 403 saying why.

    `client_right` guards every method, `client_write_right` only POST, PUT, PATCH and
    DELETE. Put it first among the bases: it guards the view's handlers, which run after
    the agency base class has found the membership, for pages and API alike.
    """

    client_right: str = ""
    client_write_right: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if View in mro and mro.index(ClientMayMixin) > mro.index(View):
            raise TypeError(f"{cls.__name__}: put ClientMayMixin before the view classes")

    def dispatch(self, request, *args, **kwargs):
        for method in self.http_method_names:
            handler = getattr(self, method, None)
            if handler is not None:
                setattr(self, method, self._guarded(method, handler))
        return super().dispatch(request, *args, **kwargs)

    def _guarded(self, method, handler):
        def guarded(request, *args, **kwargs):
            for what in self.client_rights_for(method):
                client_require(self.membership, what, api=isinstance(self, APIView))
            return handler(request, *args, **kwargs)

        return guarded

    def client_rights_for(self, method: str) -> list[str]:
        rights = [self.client_right] if self.client_right else []
        if self.client_write_right and method in UNSAFE:
            rights.append(self.client_write_right)
        return rights
