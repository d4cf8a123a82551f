import datetime as dt

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Agency, Membership, User
from assistants.services import assistant_profile_ensure, assistant_profile_update
from clients.models import Client
from clients.services import client_manual_update
from contracts.models import Service, ServiceCategory
from contracts.plans import plan_create, plan_line_add, plan_publish
from contracts.public_page import listed_services_set, public_page_update
from contracts.services import (
    contract_create,
    contract_line_add,
    contract_transition,
    service_categories_seed,
    service_create,
)
from core.roles import Role
from core.tenancy import agency_scope
from tasks.services import (
    task_assign,
    task_complete,
    task_request,
    task_start,
    task_take_next,
    time_entry_add,
)

DEMO_SLUG = "demo"
CLIENTS = [
    ("Acme Dental", "billing@acme.test", "America/Chicago", "USD"),
    ("Bloom Studio", "accounts@bloom.test", "Europe/Berlin", "EUR"),
    ("Cedar Legal", "ap@cedar.test", "America/New_York", "USD"),
]
PEOPLE = [
    ("owner@demo.test", "Olivia Owner", Role.OWNER, None),
    ("admin@demo.test", "Adam Admin", Role.ADMIN, None),
    ("maria@demo.test", "Maria Santos", Role.ASSISTANT, None),
    ("joao@demo.test", "João Ferreira", Role.ASSISTANT, None),
    ("alice@acme.test", "Alice Park", Role.CLIENT, "Acme Dental"),
    ("ben@bloom.test", "Ben Krüger", Role.CLIENT, "Bloom Studio"),
    ("carla@cedar.test", "Carla Reyes", Role.CLIENT, "Cedar Legal"),
]
# Hours are in each assistant's own zone. Maria covers US business hours from Manila, so
# her shift runs past midnight: 21:00-24:00 one day, 00:00-05:00 the next.
_MANILA_NIGHTS = [["00:00", "05:00"], ["21:00", "24:00"]]
_LISBON_DAYS = [["09:00", "13:00"], ["14:00", "18:00"]]
ASSISTANT_PROFILES = {
    "maria@demo.test": {
        "time_zone": "Asia/Manila",
        "skills": ["calendar-scheduling", "inbox-management", "travel-arrangements", "data-entry"],
        "working_hours": {
            "mon": [["21:00", "24:00"]],
            **dict.fromkeys(["tue", "wed", "thu", "fri"], _MANILA_NIGHTS),
            "sat": [["00:00", "05:00"]],
            "sun": [],
        },
        "capacity": 6,
        "pay_rate": 1200,
        "pay_currency": "USD",
    },
    "joao@demo.test": {
        "time_zone": "Europe/Lisbon",
        "skills": ["bookkeeping", "content-writing", "newsletters", "social-media"],
        "working_hours": {
            **dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], _LISBON_DAYS),
            "sat": [],
            "sun": [],
        },
        "capacity": 5,
        "pay_rate": 1500,
        "pay_currency": "USD",
    },
}

DEMO_SERVICES = [
    ("Inbox triage", "inbox-management", "hourly", 3500, 24, []),
    (
        "Travel booking",
        "travel-arrangements",
        "flat",
        6000,
        48,
        [
            {"name": "origin", "label": "From", "type": "text", "required": True},
            {"name": "destination", "label": "To", "type": "text", "required": True},
            {"name": "depart_on", "label": "Departure date", "type": "date", "required": True},
        ],
    ),
    ("Monthly bookkeeping", "bookkeeping", "hourly", 4500, 72, []),
]
DEMO_CONTRACTS = [
    (
        "Acme Dental",
        "# Acme Dental\n\n- Patients are always *Mr/Ms Lastname*.\n"
        "- Never move appointments on Fridays without asking Alice.\n",
        {
            "name": "Front-desk support 2026",
            "starts_on": dt.date(2026, 1, 1),
            "billing_cadence": "weekly",
            "collection_method": "send_invoice",
            "days_until_due": 14,
        },
        [
            (
                "Inbox triage",
                {
                    "pricing_model": "hourly",
                    "hourly_rate": 3500,
                    "rounding_increment_minutes": 15,
                    "minimum_minutes": 15,
                },
            ),
            ("Travel booking", {"pricing_model": "flat", "flat_fee": 6000}),
        ],
    ),
    (
        "Bloom Studio",
        "# Bloom Studio\n\n## Bookkeeping\n\n1. Receipts live in the shared *Receipts* folder.\n"
        "2. Flag any expense over €500 to Ben.\n",
        {
            "name": "Bookkeeping retainer",
            "starts_on": dt.date(2026, 1, 1),
            "billing_cadence": "monthly",
            "collection_method": "charge_automatically",
        },
        [
            (
                "Monthly bookkeeping",
                {
                    "pricing_model": "retainer",
                    "retainer_fee": 80000,
                    "included_minutes": 20 * 60,
                    "rollover_cap_minutes": 5 * 60,
                    "overage_rate": 5625,
                    "rounding_increment_minutes": 15,
                },
            ),
        ],
    ),
    (
        "Cedar Legal",
        "# Cedar Legal\n\n- Book flights in economy unless a partner travels.\n",
        {
            "name": "Travel desk",
            "starts_on": dt.date(2026, 1, 1),
            "billing_cadence": "per_task",
            "collection_method": "send_invoice",
            "days_until_due": 14,
        },
        [("Travel booking", {"pricing_model": "flat", "flat_fee": 6000})],
    ),
]

DEMO_REQUESTS = [
    ("Acme Dental", "Inbox triage", "Sort the front-desk inbox before Monday", {}, 2),
    (
        "Acme Dental",
        "Travel booking",
        "Flights to the Chicago dental expo",
        {"origin": "Austin", "destination": "Chicago", "depart_on": "2027-02-10"},
        1,
    ),
    ("Bloom Studio", "Monthly bookkeeping", "Reconcile last month's card statements", {}, 1),
]
# Finished by Maria, so its invoice is waiting to be paid on Stripe's hosted page.
DEMO_FINISHED = (
    "Cedar Legal",
    "Travel booking",
    "Flights for the Boston deposition",
    {"origin": "New York", "destination": "Boston", "depart_on": "2027-03-02"},
)


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
                membership, _ = Membership.objects.get_or_create(
                    agency=agency,
                    user=user,
                    defaults={"role": role, "client": clients.get(client_name)},
                )
                if email in ASSISTANT_PROFILES:
                    self.set_up_assistant(agency, membership, ASSISTANT_PROFILES[email])
            if not Service.objects.filter(agency=agency).exists():
                self.set_up_catalogue_and_contracts(agency, clients)

        verb = "Created" if created else "Kept"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} the demo agency “{agency.name}” at /a/{agency.slug}/")
        )
        self.stdout.write(f"Sign in at /accounts/login/ with any of these (password: {password}):")
        for email, full_name, role, client_name in PEOPLE:
            extra = f" for {client_name}" if client_name else ""
            self.stdout.write(f"  {role.label:<10} {email:<22} {full_name}{extra}")

    def set_up_catalogue_and_contracts(self, agency, clients):
        """A small catalogue, a manual per client and one live contract each: an hourly
        and a flat line for Acme (USD), a retainer for Bloom (EUR), flat fees billed per
        task for Cedar (USD)."""
        category = {c.slug: c for c in ServiceCategory.objects.filter(agency=agency)}
        offer = {}
        for name, slug, model, price, turnaround, template in DEMO_SERVICES:
            offer[name] = service_create(
                agency=agency,
                actor=None,
                name=name,
                category=category[slug],
                default_pricing_model=model,
                default_price=price,
                default_turnaround_hours=turnaround,
                request_template=template,
            )
        for client_name, manual, contract, lines in DEMO_CONTRACTS:
            client = clients[client_name]
            client_manual_update(agency=agency, actor=None, client=client, manual=manual)
            draft = contract_create(agency=agency, actor=None, client=client, **contract)
            for service_name, terms in lines:
                contract_line_add(
                    agency=agency, actor=None, contract=draft, service=offer[service_name], **terms
                )
            contract_transition(agency=agency, actor=None, contract=draft, to="active")
        self.set_up_work(agency, clients, offer)
        self.set_up_public_page(agency, offer)

    def set_up_public_page(self, agency, offer):
        """The agency's public page, published, with a plan a visitor can sign up for
        (/p/<slug>/): a newcomer sees what a business finds before it is a client."""
        plan = plan_create(
            agency=agency,
            actor=None,
            name="Inbox care, 10 hours a month",
            description="Someone keeps your inbox at zero, every working day.",
            currency="USD",
            billing_cadence="monthly",
            collection_method="send_invoice",
            days_until_due=14,
        )
        plan_line_add(
            agency=agency,
            actor=None,
            plan=plan,
            service=offer["Inbox triage"],
            pricing_model="retainer",
            retainer_fee=30000,
            included_minutes=600,
            rollover_cap_minutes=120,
            overage_rate=3500,
            rounding_increment_minutes=15,
        )
        plan_publish(agency=agency, actor=None, plan=plan)
        listed_services_set(
            agency=agency,
            actor=None,
            rows=[
                {"service_id": offer["Inbox triage"].pk, "listed": True, "price_kind": "plan",
                 "plan_id": plan.pk, "turnaround": "Same working day"},
                {"service_id": offer["Travel booking"].pk, "listed": True, "price_kind": "flat",
                 "price": 6000, "turnaround": "Within two days"},
            ],
        )  # fmt: skip
        public_page_update(
            agency=agency,
            actor=None,
            is_published=True,
            brand_colour="#1f4e79",
            pitch="Assistants in three time zones, so your work moves while you sleep.",
            contact_email="hello@harbor-assist.example",
        )

    def set_up_work(self, agency, clients, offer):
        """A few requests, so the queue and the request lists are not empty at first sight;
        Maria has already taken the most urgent one she may do."""
        people = {
            m.client_id: m.user for m in Membership.objects.filter(agency=agency, role=Role.CLIENT)
        }
        for client_name, service_name, title, template_data, priority in DEMO_REQUESTS:
            client = clients[client_name]
            task_request(
                agency=agency,
                actor=people.get(client.pk),
                client=client,
                service=offer[service_name],
                title=title,
                template_data=template_data,
                priority=priority,
            )
        maria = Membership.objects.get(agency=agency, user__email="maria@demo.test")
        task_take_next(agency=agency, actor=maria.user, membership=maria)
        self.set_up_finished_work(agency, clients, offer, people, maria)

    def set_up_finished_work(self, agency, clients, offer, people, maria):
        """One request Maria has finished for Cedar Legal, a per-task client: completing it
        queues its billing, so once the worker and the Stripe test server run its invoice
        is open, to be paid on Stripe's hosted page from Carla's invoices."""
        client_name, service_name, title, template_data = DEMO_FINISHED
        client = clients[client_name]
        task = task_request(
            agency=agency,
            actor=people.get(client.pk),
            client=client,
            service=offer[service_name],
            title=title,
            template_data=template_data,
        )
        task = task_assign(agency=agency, actor=None, task=task, assignee=maria)
        task = task_start(agency=agency, actor=maria.user, membership=maria, task=task)
        time_entry_add(
            agency=agency,
            actor=maria.user,
            membership=maria,
            task=task,
            minutes=40,
            note="Compared three fares; booked the 07:10 shuttle.",
        )
        task_complete(
            agency=agency,
            actor=maria.user,
            membership=maria,
            task=task,
            summary="Booked: out 2 March 07:10, back 3 March 18:45. Tickets are in the files.",
        )

    def set_up_assistant(self, agency, membership, setup):
        profile = assistant_profile_ensure(agency=agency, membership=membership)
        if profile.skills.exists():
            return  # set up on an earlier run; keep whatever was changed since
        skills = list(ServiceCategory.objects.filter(agency=agency, slug__in=setup["skills"]))
        assistant_profile_update(
            agency=agency, actor=None, profile=profile, **{**setup, "skills": skills}
        )
