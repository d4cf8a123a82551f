import datetime as dt

import factory

from contracts.models import (
    ContractLine,
    ContractTerms,
    PricingModel,
    Service,
    ServiceCategory,
    ServiceContract,
)
from tests.factories import AgencyFactory, ClientFactory, TenantFactory


class CategoryFactory(TenantFactory):
    class Meta:
        model = ServiceCategory

    agency = factory.SubFactory(AgencyFactory)
    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(TenantFactory):
    class Meta:
        model = Service

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    category = factory.SubFactory(CategoryFactory, agency=factory.SelfAttribute("..agency"))
    default_price = 4000
    default_turnaround_hours = 24


class ContractFactory(TenantFactory):
    class Meta:
        model = ServiceContract

    agency = factory.SubFactory(AgencyFactory)
    client = factory.SubFactory(ClientFactory, agency=factory.SelfAttribute("..agency"))
    name = factory.Sequence(lambda n: f"Contract {n}")
    starts_on = dt.date(2026, 1, 1)
    currency = factory.SelfAttribute("client.currency")
    billing_cadence = "monthly"
    collection_method = "send_invoice"
    days_until_due = 14


class LineFactory(TenantFactory):
    class Meta:
        model = ContractLine
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    contract = factory.SubFactory(ContractFactory, agency=factory.SelfAttribute("..agency"))
    service = factory.SubFactory(ServiceFactory, agency=factory.SelfAttribute("..agency"))
    terms = factory.RelatedFactory(
        "tests.contracts.factories.TermsFactory",
        factory_related_name="line",
        agency=factory.SelfAttribute("..agency"),
    )


class TermsFactory(TenantFactory):
    class Meta:
        model = ContractTerms

    agency = factory.SubFactory(AgencyFactory)
    line = factory.SubFactory(LineFactory, agency=factory.SelfAttribute("..agency"), terms=None)
    effective_from = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    pricing_model = PricingModel.HOURLY
    hourly_rate = 4000
    rounding_increment_minutes = 15
    minimum_minutes = 30
