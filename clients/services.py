from django.db import IntegrityError, transaction

from clients.models import Client
from core.audit import audit_record
from core.errors import ApplicationError


def client_create(
    *, agency, actor, name: str, billing_email: str = "", time_zone: str, currency: str
) -> Client:
    """Add a client business to the agency. Names are unique within the agency."""
    client = Client(
        agency=agency,
        name=name.strip(),
        billing_email=billing_email,
        time_zone=time_zone,
        currency=currency.upper(),
    )
    client.full_clean(exclude=["agency"])
    try:
        with transaction.atomic():
            client.save()
            audit_record(agency=agency, actor=actor, action="client.created", target=client)
    except IntegrityError:
        raise ApplicationError(
            f"There is already a client called “{client.name}”.",
            code="client_name_taken",
            extra={"field": "name"},
        ) from None
    return client
