"""Client factories with the fields the clients app added (status, manual)."""

import factory
from django.utils import timezone

from clients.models import Client
from tests.factories import AgencyFactory, TenantFactory

SAMPLE_MANUAL = """# Acme house rules

Always reply **within one business day**.

- Use the shared inbox
- Never book flights before 9am

| Who | What |
|-----|------|
| Jo  | Travel |
"""


class ClientFactory(TenantFactory):
    class Meta:
        model = Client

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Business {n} Inc")
    billing_email = factory.Sequence(lambda n: f"accounts{n}@business.test")
    time_zone = "America/New_York"
    currency = "USD"
    status = Client.Status.ACTIVE
    manual = ""

    class Params:
        inactive = factory.Trait(status=Client.Status.INACTIVE)
        with_manual = factory.Trait(
            manual=SAMPLE_MANUAL, manual_updated_at=factory.LazyFunction(timezone.now)
        )
