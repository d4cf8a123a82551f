"""Tasks and the contract they hang on, all inside one agency."""

import datetime as dt

import factory
from django.utils import timezone

from tasks.models import Task
from tests.contracts.factories import ContractFactory, LineFactory
from tests.factories import AgencyFactory, TenantFactory


class TaskFactory(TenantFactory):
    """TaskFactory(agency=a) makes a queued task under a fresh active contract line; pass
    `contract_line=` to put it under an existing one."""

    class Meta:
        model = Task

    agency = factory.SubFactory(AgencyFactory)
    contract_line = factory.SubFactory(
        LineFactory,
        agency=factory.SelfAttribute("..agency"),
        contract=factory.SubFactory(
            ContractFactory, agency=factory.SelfAttribute("..agency"), status="active"
        ),
    )
    contract = factory.SelfAttribute("contract_line.contract")
    client = factory.SelfAttribute("contract_line.contract.client")
    service = factory.SelfAttribute("contract_line.service")
    category = factory.SelfAttribute("contract_line.service.category")
    currency = factory.SelfAttribute("contract_line.contract.currency")
    title = factory.Sequence(lambda n: f"Task {n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=2))
    status = "queued"
