"""A client's address for requests by e-mail, for the pages that show it: the client's
own dashboard and the client's page for staff."""

from django import template

from tasks.inbound.addresses import intake_address
from tasks.inbound.models import ClientIntake
from tasks.inbound.services import client_intake_ensure

register = template.Library()


@register.simple_tag(takes_context=True)
def client_intake_address(context, client, make: bool = True) -> str:
    """The address: made the first time the client's own people are shown it; for staff
    (make=False) read only, "" when there is none yet, so their page only ever reads."""
    if make:
        intake = client_intake_ensure(agency=context["agency"], client=client)
    else:
        intake = ClientIntake.objects.filter(agency=context["agency"], client=client).first()
    return intake_address(intake.token) if intake is not None else ""
