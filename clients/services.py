from clients.models import Client
from core.audit import audit_record
from core.errors import clean_or_error, unique_or_error


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
    clean_or_error(client)
    taken = f"There is already a client called “{client.name}”."
    with unique_or_error(taken, code="client_name_taken", field="name"):
        client.save()
        audit_record(agency=agency, actor=actor, action="client.created", target=client)
    return client
