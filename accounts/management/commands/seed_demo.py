from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Agency, Membership, User
from billing.services import service_categories_seed
from clients.models import Client
from core.roles import Role
from core.tenancy import agency_scope

DEMO_SLUG = "demo"
CLIENTS = [
    ("Acme Dental", "billing@acme.test", "America/Chicago", "USD"),
    ("Bloom Studio", "accounts@bloom.test", "Europe/Berlin", "EUR"),
]
PEOPLE = [
    ("owner@demo.test", "Olivia Owner", Role.OWNER, None),
    ("admin@demo.test", "Adam Admin", Role.ADMIN, None),
    ("maria@demo.test", "Maria Santos", Role.ASSISTANT, None),
    ("joao@demo.test", "João Ferreira", Role.ASSISTANT, None),
    ("alice@acme.test", "Alice Park", Role.CLIENT, "Acme Dental"),
    ("ben@bloom.test", "Ben Krüger", Role.CLIENT, "Bloom Studio"),
]


class Command(BaseCommand):
    help = "Create the demo agency with one person per role (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-pass-2026")

    @transaction.atomic
    def handle(self, *args, password, **options):
        agency, created = Agency.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={
                "name": "Harbor Assist",
                "time_zone": "America/New_York",
                "default_currency": "USD",
            },
        )
        with agency_scope(agency):
            service_categories_seed(agency=agency)
            clients = {}
            for name, billing_email, time_zone, currency in CLIENTS:
                clients[name], _ = Client.objects.get_or_create(
                    agency=agency,
                    name=name,
                    defaults={
                        "billing_email": billing_email,
                        "time_zone": time_zone,
                        "currency": currency,
                    },
                )
            for email, full_name, role, client_name in PEOPLE:
                user, user_created = User.objects.get_or_create(
                    email=email, defaults={"full_name": full_name}
                )
                if user_created:
                    user.set_password(password)
                    user.save(update_fields=["password"])
                EmailAddress.objects.update_or_create(
                    user=user, email=email, defaults={"verified": True, "primary": True}
                )
                Membership.objects.get_or_create(
                    agency=agency,
                    user=user,
                    defaults={"role": role, "client": clients.get(client_name)},
                )

        verb = "Created" if created else "Kept"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} the demo agency “{agency.name}” at /a/{agency.slug}/")
        )
        self.stdout.write(f"Sign in at /accounts/login/ with any of these (password: {password}):")
        for email, full_name, role, client_name in PEOPLE:
            extra = f" for {client_name}" if client_name else ""
            self.stdout.write(f"  {role.label:<10} {email:<22} {full_name}{extra}")
