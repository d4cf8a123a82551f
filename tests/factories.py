"""Factories. Related objects always stay inside one agency."""

import factory
from allauth.account.models import EmailAddress
from factory.django import DjangoModelFactory

from accounts.models import Agency, Invitation, Membership, User
from clients.models import Client
from core.roles import Role
from core.tenancy import scopes_disabled

PASSWORD = "correct horse battery staple"


class TenantFactory(DjangoModelFactory):
    """Test data is made outside any request, so it says so: scopes are off while creating."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(user, create, extracted, **kwargs):
        if create:
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class AgencyFactory(DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")
    time_zone = "Europe/London"
    default_currency = "GBP"


class ClientFactory(TenantFactory):
    class Meta:
        model = Client

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Client {n} Ltd")
    billing_email = factory.Sequence(lambda n: f"billing{n}@client.test")
    time_zone = "America/New_York"
    currency = "USD"


class MembershipFactory(TenantFactory):
    class Meta:
        model = Membership

    agency = factory.SubFactory(AgencyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ASSISTANT
    client = factory.Maybe(
        factory.LazyAttribute(lambda m: m.role == Role.CLIENT),
        yes_declaration=factory.SubFactory(ClientFactory, agency=factory.SelfAttribute("..agency")),
        no_declaration=None,
    )


class InvitationFactory(TenantFactory):
    class Meta:
        model = Invitation

    agency = factory.SubFactory(AgencyFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.ASSISTANT
    client = None
