"""Assistant profiles; the membership, the skills and the profile share one agency."""

import factory

from assistants.models import AssistantProfile, AssistantSkill
from assistants.schedule import default_working_hours
from core.roles import Role
from core.tenancy import scopes_disabled
from tests.factories import AgencyFactory, MembershipFactory, TenantFactory


class AssistantProfileFactory(TenantFactory):
    """AssistantProfileFactory(agency=a, skills=[category, ...]): skills must be a's."""

    class Meta:
        model = AssistantProfile
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    membership = factory.SubFactory(
        MembershipFactory, agency=factory.SelfAttribute("..agency"), role=Role.ASSISTANT
    )
    time_zone = "Europe/Lisbon"
    working_hours = factory.LazyFunction(default_working_hours)
    capacity = 5
    pay_rate = 1200
    pay_currency = "USD"
    is_active = True

    @factory.post_generation
    def skills(profile, create, extracted, **kwargs):
        if not create or not extracted:
            return
        foreign = [c for c in extracted if c.agency_id != profile.agency_id]
        assert not foreign, "a factory keeps an assistant's skills inside their agency"
        with scopes_disabled():
            AssistantSkill.objects.bulk_create(
                AssistantSkill(agency_id=profile.agency_id, profile=profile, category=category)
                for category in extracted
            )
