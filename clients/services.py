from django.db import transaction
from django.utils import timezone

from clients.models import Client
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error, unique_or_error

# The fields `client_update` may change; everything else has its own service or owner.
UPDATABLE_FIELDS = (
    "name",
    "billing_email",
    "time_zone",
    "currency",
    "status",
    "billing_address",
    "tax_id",
)


def _name_taken(name: str) -> str:
    return f"There is already a client called “{name}”."


def _normalise_manual(text: str) -> str:
    # Browsers post textareas with CRLF; store one form so "unchanged" compares equal.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def client_create(
    *,
    agency,
    actor,
    name: str,
    billing_email: str = "",
    time_zone: str,
    currency: str,
    status: str = Client.Status.ACTIVE,
    manual: str = "",
    billing_address: str = "",
    tax_id: str = "",
) -> Client:
    """Add a client business to the agency. Names are unique within the agency."""
    manual = _normalise_manual(manual)
    client = Client(
        agency=agency,
        name=name.strip(),
        billing_email=billing_email.strip(),
        time_zone=time_zone,
        currency=currency.upper(),
        status=status,
        manual=manual,
        billing_address=billing_address.strip(),
        tax_id=tax_id.strip(),
    )
    if manual.strip():
        client.manual_updated_at = timezone.now()
        client.manual_updated_by = actor if actor is not None and actor.is_authenticated else None
    clean_or_error(client)
    with unique_or_error(_name_taken(client.name), code="client_name_taken", field="name"):
        client.save()
        audit_record(agency=agency, actor=actor, action="client.created", target=client)
    return client


def client_update(
    *,
    agency,
    actor,
    client: Client,
    name: str | None = None,
    billing_email: str | None = None,
    time_zone: str | None = None,
    currency: str | None = None,
    status: str | None = None,
    billing_address: str | None = None,
    tax_id: str | None = None,
) -> Client:
    """Change a client's details; a field left as None keeps its value.

    Names stay unique within the agency. The currency may change: contracts copy the
    client's currency when they are made, so existing contracts, charges and invoices keep
    the currency they were priced in and only new contracts use the new one. An inactive
    client keeps its history and its people keep read access.
    """
    if client.agency_id != agency.pk:
        raise ApplicationError("Unknown client.", code="client_invalid", extra={"field": None})
    proposed = {
        "name": name.strip() if name is not None else None,
        "billing_email": billing_email.strip() if billing_email is not None else None,
        "time_zone": time_zone,
        "currency": currency.upper() if currency is not None else None,
        "status": status,
        "billing_address": billing_address.strip() if billing_address is not None else None,
        "tax_id": tax_id.strip() if tax_id is not None else None,
    }
    with transaction.atomic():
        # Work on a locked, fresh copy: a rejected change must leave the caller's object
        # untouched, and two admins saving at once must not interleave.
        current = Client.objects.select_for_update().get(agency=agency, pk=client.pk)
        changes = {}
        for field in UPDATABLE_FIELDS:
            value = proposed[field]
            if value is not None and value != getattr(current, field):
                changes[field] = [getattr(current, field), value]
                setattr(current, field, value)
        if not changes:
            return current
        saved = list(changes)
        if "tax_id" in changes and current.tax_id_type:
            # Typed here, the id is printed only: its kind (and Stripe's copy) is set again
            # on the client's tax page, which checks it against the kind.
            changes["tax_id_type"] = [current.tax_id_type, ""]
            current.tax_id_type, current.stripe_tax_synced = "", False
            saved += ["tax_id_type", "stripe_tax_synced"]
        clean_or_error(current)
        with unique_or_error(_name_taken(current.name), code="client_name_taken", field="name"):
            current.save(update_fields=saved)
            audit_record(
                agency=agency, actor=actor, action="client.updated", target=current, changes=changes
            )
    return current


def client_manual_update(*, agency, actor, client: Client, manual: str) -> Client:
    """Replace the client manual and record who changed it and when.

    Saving the same text again changes nothing, so "last updated" keeps meaning the last
    real edit.
    """
    if client.agency_id != agency.pk:
        raise ApplicationError("Unknown client.", code="client_invalid", extra={"field": None})
    manual = _normalise_manual(manual)
    with transaction.atomic():
        current = Client.objects.select_for_update().get(agency=agency, pk=client.pk)
        if manual == current.manual:
            return current
        previous_length = len(current.manual)
        current.manual = manual
        current.manual_updated_at = timezone.now()
        current.manual_updated_by = actor if actor is not None and actor.is_authenticated else None
        clean_or_error(current)
        current.save(update_fields=["manual", "manual_updated_at", "manual_updated_by"])
        audit_record(
            agency=agency,
            actor=actor,
            action="client.manual_updated",
            target=current,
            previous_length=previous_length,
            length=len(manual),
        )
    return current


def client_ensure_active(*, client: Client) -> None:
    """Refuse new work for an inactive client.

    For the services that start something new for a client (task requests, contracts);
    reading history is never blocked.
    """
    if not client.is_active:
        raise ApplicationError(
            f"{client.name} is inactive. Reactivate the client to start new work for it.",
            code="client_inactive",
            extra={"field": "client"},
        )
