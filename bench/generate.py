"""Large-data generator for the benchmarks: one big agency, "bench", and a crowd of small ones.

    .venv/bin/python -m bench.generate [--tasks 200000 --clients 1000 --assistants 200
                                        --small-agencies 20 --seed 1] [--reset]

Rows are written with bulk_create in batches, inside each agency's scope, bypassing the
services for speed. What the services guarantee still holds, so pages and jobs see data
they could have made themselves:
- a task copies its contract, service, category and currency from its contract line, and
  its line is one of its client's active contract's lines;
- assigned, in-progress and waiting tasks have an assignee, and open work never puts an
  assistant past their capacity; completed tasks have an assignee, a summary and their
  times in order; a waiting task carries the assistant's question;
- a task's `minutes_logged` is the sum of its finished time entries; an assistant has at
  most one running timer, on a task of theirs that is in progress;
- contracts, lines and terms pass their check constraints (one line per service, complete
  terms for the pricing model, due days iff invoices are sent).
Audit rows are not written: nothing the benchmarks read depends on them.

Works on SQLite (the default) and PostgreSQL (DATABASE_URL). `--reset` first removes every
bench agency (and the people only they had); without it an existing "bench" agency stops
the run.
"""

import argparse
import contextlib
import datetime as dt
import itertools
import random
import sys
import time
from dataclasses import dataclass, field

BIG_SLUG = "bench"
SMALL_PREFIX = "bench-small-"
EMPTY_SLUG = "bench-empty"  # an empty agency earlier page benchmarks made; --reset removes it
EMAIL_DOMAIN = "bench.test"
UNUSABLE_PASSWORD = "!bench"  # nobody signs in with a password; the benchmarks force_login
BATCH = 2000

CLIENT_ZONES = [
    ("America/New_York", "USD"),
    ("America/Chicago", "USD"),
    ("America/Los_Angeles", "USD"),
    ("America/Toronto", "CAD"),
    ("Europe/London", "GBP"),
    ("Europe/Berlin", "EUR"),
    ("Europe/Madrid", "EUR"),
    ("Australia/Sydney", "AUD"),
]
ASSISTANT_ZONES = [
    "Asia/Manila",
    "Europe/Lisbon",
    "America/Bogota",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "Europe/Warsaw",
]
# (name, category slug, default pricing, price in minor units, turnaround hours, template)
SERVICES = [
    ("Inbox triage", "inbox-management", "hourly", 3500, 24, []),
    ("Calendar management", "calendar-scheduling", "hourly", 3000, 24, []),
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
    ("Invoice processing", "bookkeeping", "flat", 2500, 48, []),
    ("Social media posts", "social-media", "flat", 4000, 48, []),
    (
        "Blog article",
        "content-writing",
        "flat",
        12000,
        96,
        [
            {"name": "topic", "label": "Topic", "type": "text", "required": True},
            {"name": "words", "label": "Length in words", "type": "number", "required": False},
        ],
    ),
    ("Data entry", "data-entry", "hourly", 2500, 48, []),
    ("Document formatting", "document-preparation", "hourly", 3500, 48, []),
    ("Newsletter", "newsletters", "flat", 9000, 72, []),
    ("Call answering", "phone-handling", "hourly", 3000, 24, []),
    ("Market research", "research", "hourly", 5000, 96, []),
]
TEMPLATE_SAMPLES = {
    "origin": ["London", "Chicago", "Berlin", "Toronto"],
    "destination": ["Lisbon", "New York", "Tokyo", "Sydney", "Madrid"],
    "topic": ["Onboarding checklist", "Year-end taxes", "Remote teams", "Client retention"],
}
TITLES = {
    "Inbox triage": ["Clear the support inbox", "Sort this week's e-mail", "Unsubscribe sweep"],
    "Calendar management": ["Schedule board meeting", "Move Friday calls", "Book dentist"],
    "Travel booking": ["Book flights", "Hotel for the conference", "Train tickets"],
    "Monthly bookkeeping": ["Reconcile accounts", "Month-end close", "Categorise expenses"],
    "Invoice processing": ["Enter supplier invoices", "Chase unpaid invoices"],
    "Social media posts": ["Posts for the launch", "Weekly LinkedIn posts"],
    "Blog article": ["Write the monthly article", "Case study write-up"],
    "Data entry": ["Enter survey results", "CRM clean-up", "Update price list"],
    "Document formatting": ["Format the proposal", "Tidy the handbook"],
    "Newsletter": ["Draft the newsletter", "Send the customer update"],
    "Call answering": ["Cover the phones Monday", "Return missed calls"],
    "Market research": ["Competitor pricing", "Find venues", "Supplier shortlist"],
}
# Of all tasks ever requested, most are long finished. Open work that would put an
# assistant past their capacity stays queued instead (the pool's backlog).
STATUS_WEIGHTS = {
    "completed": 80,
    "cancelled": 6,
    "requested": 0.5,
    "queued": 8,
    "assigned": 2,
    "in_progress": 2.5,
    "waiting_on_client": 1,
}
ACTIVE = ("assigned", "in_progress", "waiting_on_client")
PRIORITY_WEIGHTS = {0: 15, 1: 60, 2: 20, 3: 5}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--assistants", type=int, default=200)
    parser.add_argument("--small-agencies", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reset", action="store_true", help="drop the bench agencies first")
    args = parser.parse_args(argv)

    setup_django()
    from django.db import connection

    started = time.perf_counter()
    progress = Progress(started)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    if args.reset:
        reset(progress)
    elif bench_exists():
        sys.exit(f'The "{BIG_SLUG}" agency exists already: run again with --reset.')

    rng = random.Random(args.seed)
    with auto_timestamps_off():
        big = build_agency(
            Plan(
                slug=BIG_SLUG,
                name="Bench Agency",
                clients=args.clients,
                assistants=args.assistants,
                tasks=args.tasks,
                services=len(SERVICES),
            ),
            rng,
            progress,
        )
        for number in range(1, args.small_agencies + 1):
            build_agency(
                Plan(
                    slug=f"{SMALL_PREFIX}{number:02d}",
                    name=f"Small Bench Agency {number}",
                    clients=rng.randint(3, 6),
                    assistants=rng.randint(2, 5),
                    tasks=rng.randint(24, 60),
                    services=rng.randint(3, 6),
                ),
                rng,
                progress=None,
            )
        progress.say(f"{args.small_agencies} small agencies")
    analyze()
    progress.say("statistics updated (VACUUM ANALYZE on PostgreSQL)")
    print(f"\nbench agency: {big}")
    print(f"total time: {time.perf_counter() - started:.1f} s")


def setup_django() -> None:
    import django

    from va_agency import use_settings_from_environment

    use_settings_from_environment()
    django.setup()


class Progress:
    def __init__(self, started: float):
        self.started = started

    def say(self, what: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f} s] {what}", flush=True)


@contextlib.contextmanager
def auto_timestamps_off():
    """Let bulk inserts carry their own creation times: history is spread over a year,
    not stamped with the moment the generator ran."""
    from billing.models import Charge, Invoice
    from contracts.models import ServiceContract
    from tasks.models import Comment, Task, TimeEntry

    fields = [
        m._meta.get_field("created_at")
        for m in (Task, TimeEntry, Comment, ServiceContract, Charge, Invoice)
    ]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f in fields:
            f.auto_now_add = True


def analyze() -> None:
    """Refresh the planner's statistics: right after a bulk load they still describe empty
    tables, and plans made on them are not what production would run. On PostgreSQL also
    VACUUM, as autovacuum would soon after such a load in production: until the visibility
    map is set, an index-only scan still reads every row it finds from the table (and a
    server with autovacuum off, as a development one may be, never sets it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def bench_exists() -> bool:
    from accounts.models import Agency

    return Agency.objects.filter(slug=BIG_SLUG).exists()


def reset(progress: Progress) -> None:
    from django.db.models import Q

    removed = remove_agencies(
        Q(slug=BIG_SLUG) | Q(slug__startswith=SMALL_PREFIX) | Q(slug=EMPTY_SLUG)
    )
    progress.say(f"removed {removed} bench agencies")


def remove_agencies(which) -> int:
    """Delete the matching agencies' rows table by table (one DELETE each, no per-row
    cascade collection, which PROTECT foreign keys would refuse anyway), then the agencies
    and the bench people. Returns how many agencies went."""
    from django.apps import apps
    from django.db import transaction

    from accounts.models import Agency, User
    from core.models import TenantModel
    from core.tenancy import scopes_disabled

    with scopes_disabled(), transaction.atomic():
        agencies = list(Agency.objects.filter(which).values_list("pk", "slug"))
        if not agencies:
            return 0
        ids = [pk for pk, _ in agencies]
        tenant_models = [
            m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy
        ]
        # Children before parents, so that the order suits immediate constraint checks too.
        for model in sorted(tenant_models, key=_depth, reverse=True):
            model.objects.filter(agency_id__in=ids)._raw_delete(model.objects.db)
        Agency.objects.filter(pk__in=ids).delete()
        for _, slug in agencies:
            User.objects.filter(email__endswith=f"@{slug}.{EMAIL_DOMAIN}").delete()
    return len(agencies)


def _depth(model, seen=()) -> int:
    """How deep a model sits under other tenant tables (its longest chain of foreign keys)."""
    from core.models import TenantModel

    parents = [
        f.related_model
        for f in model._meta.concrete_fields
        if f.is_relation
        and f.related_model is not model
        and f.related_model not in seen
        and issubclass(f.related_model, TenantModel)
    ]
    return 1 + max((_depth(p, (*seen, model)) for p in parents), default=0)


@dataclass
class Plan:
    slug: str
    name: str
    clients: int
    assistants: int
    tasks: int
    services: int


@dataclass
class Assistant:
    membership: object
    capacity: int
    categories: list
    load: int = 0
    in_progress: list = field(default_factory=list)


def build_agency(plan: Plan, rng: random.Random, progress: Progress | None) -> str:
    from django.db import transaction

    from accounts.models import Agency
    from core.tenancy import agency_scope

    with transaction.atomic():
        agency = Agency.objects.create(
            name=plan.name, slug=plan.slug, time_zone="Europe/London", default_currency="USD"
        )
        with agency_scope(agency):
            world = World(agency, plan, rng, progress)
            world.people_and_catalogue()
            world.contracts()
            world.tasks()
            world.billing()
    return world.summary()


class World:
    """One agency being built: what later steps need from earlier ones."""

    def __init__(self, agency, plan: Plan, rng: random.Random, progress: Progress | None):
        from django.utils import timezone

        self.agency, self.plan, self.rng, self.progress = agency, plan, rng, progress
        self.now = timezone.now()
        self.counts: dict[str, int] = {}

    def say(self, what: str) -> None:
        if self.progress:
            self.progress.say(f"{self.plan.slug}: {what}")

    # -- people and catalogue -----------------------------------------------------------

    def people_and_catalogue(self) -> None:
        from accounts.models import Membership, User
        from assistants.models import AssistantProfile, AssistantSkill
        from assistants.schedule import default_working_hours
        from clients.models import Client
        from contracts.models import COMMON_CATEGORIES, Service, ServiceCategory
        from core.roles import Role

        agency, plan, rng = self.agency, self.plan, self.rng
        categories = ServiceCategory.objects.bulk_create(
            ServiceCategory(agency=agency, slug=slug, name=name) for slug, name in COMMON_CATEGORIES
        )
        by_slug = {c.slug: c for c in categories}
        self.services = Service.objects.bulk_create(
            Service(
                agency=agency,
                name=name,
                category=by_slug[category],
                description=f"{name}, done by the agency's assistants.",
                default_pricing_model=model,
                default_price=price,
                default_turnaround_hours=turnaround,
                request_template=[{**f, "choices": []} for f in template],
            )
            for name, category, model, price, turnaround, template in SERVICES[: plan.services]
        )
        worked = sorted({s.category_id for s in self.services})

        self.clients = Client.objects.bulk_create(
            Client(
                agency=agency,
                name=f"Client {n:05d} Ltd",
                billing_email=f"billing{n}@client{n}.{plan.slug}.{EMAIL_DOMAIN}",
                time_zone=zone,
                currency=currency,
                manual=f"# Client {n}\n\n- Reply within one working day.\n- Sign as the team.",
            )
            for n, (zone, currency) in (
                (n, rng.choice(CLIENT_ZONES)) for n in range(1, plan.clients + 1)
            )
        )
        # A few large clients and a long tail, as agencies have (a Zipf-like spread).
        self.client_weights = list(
            itertools.accumulate(1 / (rank**0.8) for rank in range(1, plan.clients + 1))
        )

        def person(local: str, name: str):
            return User(
                email=f"{local}@{plan.slug}.{EMAIL_DOMAIN}",
                full_name=name,
                password=UNUSABLE_PASSWORD,
            )

        staff = [person("owner", "Olive Owner"), person("admin", "Adam Admin")]
        assistants = [person(f"assistant{n:04d}", f"Assistant {n}") for n in range(plan.assistants)]
        # the largest clients have a few people each, the rest one
        members = [
            (client, person(f"client{n:05d}-{k}", f"{client.name} person {k}"))
            for n, client in enumerate(self.clients)
            for k in range(3 if n < 10 else 1)
        ]
        User.objects.bulk_create([*staff, *assistants, *(u for _, u in members)], BATCH)
        Membership.objects.bulk_create(
            [
                Membership(agency=agency, user=staff[0], role=Role.OWNER),
                Membership(agency=agency, user=staff[1], role=Role.ADMIN),
            ]
        )
        assistant_members = Membership.objects.bulk_create(
            (Membership(agency=agency, user=u, role=Role.ASSISTANT) for u in assistants), BATCH
        )
        client_members = Membership.objects.bulk_create(
            (Membership(agency=agency, user=u, role=Role.CLIENT, client=c) for c, u in members),
            BATCH,
        )
        self.requesters: dict[int, list] = {}
        for membership in client_members:
            self.requesters.setdefault(membership.client_id, []).append(membership.user_id)

        profiles = AssistantProfile.objects.bulk_create(
            (
                AssistantProfile(
                    agency=agency,
                    membership=m,
                    time_zone=rng.choice(ASSISTANT_ZONES),
                    working_hours=default_working_hours(),
                    capacity=rng.randint(3, 12),
                    pay_rate=rng.randrange(800, 2500, 50),
                    pay_currency="USD",
                )
                for m in assistant_members
            ),
            BATCH,
        )
        self.assistants = []
        skills = []
        for profile, membership in zip(profiles, assistant_members, strict=True):
            chosen = rng.sample(worked, min(len(worked), rng.randint(2, 5)))
            skills += [
                AssistantSkill(agency=agency, profile=profile, category_id=c) for c in chosen
            ]
            self.assistants.append(Assistant(membership, profile.capacity, chosen))
        AssistantSkill.objects.bulk_create(skills, BATCH)
        self.skilled: dict[int, list[Assistant]] = {c: [] for c in worked}
        for assistant in self.assistants:
            for category in assistant.categories:
                self.skilled[category].append(assistant)
        self.counts.update(
            clients=len(self.clients),
            assistants=len(self.assistants),
            people=len(staff) + len(assistants) + len(members),
            services=len(self.services),
        )
        self.say(
            f"{len(self.services)} services, {len(self.clients)} clients, "
            f"{len(self.assistants)} assistants, {len(members)} client people"
        )

    # -- contracts -----------------------------------------------------------------------

    def contracts(self) -> None:
        from contracts.models import ContractAssistant, ContractLine, ContractTerms, ServiceContract

        agency, rng, now = self.agency, self.rng, self.now
        contracts = []
        for client in self.clients:
            starts_on = (now - dt.timedelta(days=rng.randint(400, 800))).date()
            by_card = rng.random() < 0.3
            contracts.append(
                ServiceContract(
                    agency=agency,
                    client=client,
                    name=f"{client.name} services",
                    status="active",
                    starts_on=starts_on,
                    currency=client.currency,
                    billing_cadence=rng.choice(["per_task", "weekly", "monthly", "monthly"]),
                    collection_method="charge_automatically" if by_card else "send_invoice",
                    days_until_due=None if by_card else rng.choice([7, 14, 30]),
                    created_at=dt.datetime.combine(starts_on, dt.time(9), tzinfo=dt.UTC),
                    activated_at=dt.datetime.combine(starts_on, dt.time(9), tzinfo=dt.UTC),
                )
            )
        contracts = ServiceContract.objects.bulk_create(contracts, BATCH)

        lines = []
        for contract in contracts:
            for service in rng.sample(self.services, min(len(self.services), rng.randint(1, 4))):
                lines.append(ContractLine(agency=agency, contract=contract, service=service))
        lines = ContractLine.objects.bulk_create(lines, BATCH)

        terms = []
        for line in lines:
            since = dt.datetime.combine(line.contract.starts_on, dt.time(0), tzinfo=dt.UTC)
            terms.append(self._terms(line, since, raise_by=1.0))
            if rng.random() < 0.1:  # a price change some months ago: two versions in force
                changed = now - dt.timedelta(days=rng.randint(20, 200))
                terms.append(self._terms(line, changed, raise_by=1.1, like=terms[-1]))
        ContractTerms.objects.bulk_create(terms, BATCH)
        self.terms_of: dict[int, list] = {}
        for version in sorted(terms, key=lambda v: v.effective_from, reverse=True):
            self.terms_of.setdefault(version.line_id, []).append(version)

        # A few clients have an assistant of their own: only they take that client's work.
        dedicated = []
        self.dedicated: dict[int, Assistant] = {}
        for contract in rng.sample(contracts, len(contracts) // 50):
            assistant = rng.choice(self.assistants)
            self.dedicated[contract.pk] = assistant
            dedicated.append(
                ContractAssistant(agency=agency, contract=contract, membership=assistant.membership)
            )
        ContractAssistant.objects.bulk_create(dedicated, BATCH)

        self.lines_of: dict[int, list] = {}
        for line in lines:
            self.lines_of.setdefault(line.contract.client_id, []).append(line)
        self.counts.update(contracts=len(contracts), lines=len(lines), terms=len(terms))
        self.say(f"{len(contracts)} contracts, {len(lines)} lines, {len(terms)} terms versions")

    def _terms(self, line, since, *, raise_by: float, like=None):
        from contracts.models import ContractTerms

        rng = self.rng
        if like is not None:
            model = like.pricing_model
        elif rng.random() < 0.1:
            model = "retainer"
        else:
            model = line.service.default_pricing_model
        base = line.service.default_price
        terms = ContractTerms(agency=self.agency, line=line, effective_from=since)
        terms.pricing_model = model
        if model == "flat":
            terms.flat_fee = round(base * rng.uniform(0.9, 1.2) * raise_by)
        elif model == "hourly":
            terms.hourly_rate = round(base * rng.uniform(0.9, 1.2) * raise_by)
            terms.rounding_increment_minutes = rng.choice([6, 15, 15, 30])
            terms.minimum_minutes = rng.choice([0, 15, 30])
        else:
            included = rng.choice([600, 1200, 2400])
            terms.retainer_fee = round(base * included / 60 * 0.9 * raise_by)
            terms.included_minutes = included
            terms.rollover_cap_minutes = included // 4
            terms.overage_rate = round(base * 1.25 * raise_by)
            terms.rounding_increment_minutes = 15
        return terms

    # -- tasks -----------------------------------------------------------------------------

    def tasks(self) -> None:
        from tasks.models import Comment, Task, TimeEntry

        rng, plan = self.rng, self.plan
        statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        status_cum = list(itertools.accumulate(status_weights))
        priorities, priority_weights = zip(*PRIORITY_WEIGHTS.items(), strict=True)
        priority_cum = list(itertools.accumulate(priority_weights))
        tally: dict[str, int] = dict.fromkeys(STATUS_WEIGHTS, 0)
        made = entries_made = 0
        while made < plan.tasks:
            size = min(BATCH * 5, plan.tasks - made)
            clients = rng.choices(self.clients, cum_weights=self.client_weights, k=size)
            wanted = rng.choices(statuses, cum_weights=status_cum, k=size)
            levels = rng.choices(priorities, cum_weights=priority_cum, k=size)
            batch, questions = [], []
            for client, status, priority in zip(clients, wanted, levels, strict=True):
                task, status = self._task(client, status, priority)
                tally[status] += 1
                batch.append(task)
            batch = Task.objects.bulk_create(batch, BATCH)

            entries = []
            for task in batch:
                if task.minutes_logged:
                    entries.append(self._finished_entry(task))
                if task.status == "waiting_on_client":
                    questions.append(
                        Comment(
                            agency=self.agency,
                            task=task,
                            author_id=self.by_membership[task.assignee_id].membership.user_id,
                            kind="question",
                            body="Could you confirm the details before I go on?",
                            created_at=task.started_at + dt.timedelta(minutes=30),
                        )
                    )
                if task.status == "in_progress":
                    self.by_membership[task.assignee_id].in_progress.append(task)
            TimeEntry.objects.bulk_create(entries, BATCH)
            Comment.objects.bulk_create(questions, BATCH)
            made += len(batch)
            entries_made += len(entries)
            if made % 20_000 < BATCH * 5 or made == plan.tasks:
                self.say(f"{made:,} tasks, {entries_made:,} time entries")

        # One running timer per assistant at most, on a task of theirs in progress.
        timers = []
        for assistant in self.assistants:
            if assistant.in_progress and rng.random() < 0.4:
                task = rng.choice(assistant.in_progress)
                timers.append(
                    TimeEntry(
                        agency=self.agency,
                        task=task,
                        assistant=assistant.membership,
                        started_at=self.now - dt.timedelta(minutes=rng.randint(3, 90)),
                        created_at=self.now,
                    )
                )
        TimeEntry.objects.bulk_create(timers, BATCH)
        self.counts.update(tasks=made, time_entries=entries_made + len(timers), timers=len(timers))
        self.counts.update({f"tasks {s}": n for s, n in tally.items()})
        self.say(
            "statuses: "
            + ", ".join(f"{s} {n:,}" for s, n in tally.items())
            + f"; {len(timers)} running timers"
        )

    # -- charges and invoices -------------------------------------------------------------

    def billing(self) -> None:
        """Charges for the completed work and invoices for past months, so the reports and
        the dashboard have money to count. Priced by contracts.pricing's own rules under the
        terms in force at completion (retainer banks simplified: each month's included
        hours, no rollover); a retainer line also has its monthly fee. Months are UTC
        calendar months. Past months are on one invoice per client and month (most paid,
        some open and a few overdue), this month's charges wait unbilled; about 2% of the
        charges are written off."""
        from billing.models import Charge, Invoice
        from contracts import pricing
        from core.periods import next_month
        from tasks.models import Task

        rng = random.Random(f"{self.plan.slug}-billing")  # the earlier steps' data unchanged
        agency, now = self.agency, self.now
        this_month = now.date().replace(day=1)
        lines = {line.pk: line for lines in self.lines_of.values() for line in lines}
        contracts = {line.contract_id: line.contract for line in lines.values()}
        charges, used = [], {}
        for task in (
            Task.objects.filter(agency=agency, status="completed")
            .values_list(
                "pk", "client_id", "contract_line_id", "minutes_logged", "completed_at", "title"
            )
            .order_by("completed_at", "pk")
            .iterator(chunk_size=BATCH)
        ):
            pk, client_id, line_id, minutes, completed_at, title = task
            versions = self.terms_of[line_id]
            terms = next((v for v in versions if v.effective_from <= completed_at), versions[-1])
            month = completed_at.date().replace(day=1)
            charge = Charge(
                agency=agency,
                kind="task",
                task_id=pk,
                contract_line_id=line_id,
                terms=terms,
                client_id=client_id,
                minutes_logged=minutes,
                currency=contracts[lines[line_id].contract_id].currency,
                description=title,
                idempotency_key=f"charge-task-{pk}",
                created_at=completed_at,
            )
            if terms.pricing_model == "flat":
                charge.amount = terms.flat_fee
            elif terms.pricing_model == "hourly":
                charge.minutes_billed, charge.amount = pricing.price_hourly(minutes, terms)
            else:
                left = terms.included_minutes - used.get((line_id, month), 0)
                price = pricing.price_retainer_task(minutes, left, terms)
                used[(line_id, month)] = used.get((line_id, month), 0) + price.from_bank
                charge.period_start = month
                charge.minutes_from_bank = price.from_bank
                charge.minutes_billed = price.overage_minutes
                charge.amount = price.amount
            charges.append(charge)

        for line in lines.values():  # retainer fees, month by month while on a retainer
            versions = self.terms_of[line.pk]
            start = max(line.contract.starts_on, (now - dt.timedelta(days=400)).date())
            month = start.replace(day=1)
            while month <= this_month:
                begins = dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)
                terms = next((v for v in versions if v.effective_from <= begins), None)
                if terms is not None and terms.pricing_model == "retainer":
                    charges.append(
                        Charge(
                            agency=agency,
                            kind="retainer_fee",
                            contract_line_id=line.pk,
                            terms=terms,
                            client_id=line.contract.client_id,
                            period_start=month,
                            amount=terms.retainer_fee,
                            currency=line.contract.currency,
                            description=f"Retainer fee {month:%B %Y}",
                            idempotency_key=f"charge-retainer-{line.pk}-{month:%Y-%m}",
                            created_at=begins,
                        )
                    )
                month = next_month(month)

        # One invoice per client and past month, in the contract's currency.
        totals: dict[tuple, int] = {}
        for charge in charges:
            month = charge.created_at.date().replace(day=1)
            if rng.random() < 0.02:
                charge.status = "written_off"
                charge.written_off_at = charge.created_at + dt.timedelta(days=2)
                charge.written_off_reason = "Goodwill"
            elif month < this_month:
                charge.status = "invoiced"
                key = (charge.client_id, month, charge.currency)
                totals[key] = totals.get(key, 0) + charge.amount
        invoices = {}
        for (client_id, month, currency), amount in sorted(totals.items()):
            month_end = next_month(month)
            issued = dt.datetime.combine(month_end, dt.time(6), tzinfo=dt.UTC)
            due = issued + dt.timedelta(days=14)
            paid = due < now - dt.timedelta(days=45) or rng.random() < 0.8
            invoices[(client_id, month, currency)] = Invoice(
                agency=agency,
                client_id=client_id,
                status="paid" if paid else "open",
                collection_method="send_invoice",
                currency=currency,
                amount_due=amount,
                amount_paid=amount if paid else 0,
                period_start=month,
                period_end=month_end,
                due_date=due,
                created_at=issued,
                finalized_at=issued,
                paid_at=(issued + dt.timedelta(days=rng.randint(1, 20))) if paid else None,
            )
        Invoice.objects.bulk_create(invoices.values(), BATCH)
        for charge in charges:
            if charge.status == "invoiced":
                month = charge.created_at.date().replace(day=1)
                charge.invoice = invoices[(charge.client_id, month, charge.currency)]
        Charge.objects.bulk_create(charges, BATCH)
        self.counts.update(charges=len(charges), invoices=len(invoices))
        self.say(f"{len(charges):,} charges, {len(invoices):,} invoices")

    @property
    def by_membership(self) -> dict[int, Assistant]:
        if not hasattr(self, "_by_membership"):
            self._by_membership = {a.membership.pk: a for a in self.assistants}
        return self._by_membership

    def _task(self, client, status: str, priority: int):
        from tasks.models import Task

        rng, now = self.rng, self.now
        line = rng.choice(self.lines_of[client.pk])
        service = line.service
        turnaround = dt.timedelta(hours=service.default_turnaround_hours)
        assignee = None
        if status in ACTIVE:
            assignee = self._free_assistant(line)
            if assignee is None:
                status = "queued"  # nobody has room: it waits in the pool
            else:
                assignee.load += 1
        elif status == "completed":
            assignee = self._any_assistant(line)

        task = Task(
            # ids rather than objects: setting related objects costs more than the insert
            agency_id=self.agency.pk,
            client_id=client.pk,
            contract_line_id=line.pk,
            contract_id=line.contract_id,
            service_id=service.pk,
            category_id=service.category_id,
            currency=line.contract.currency,
            title=rng.choice(TITLES.get(service.name, [service.name])),
            details="See the client manual. Attachments follow by e-mail.",
            template_data=self._template_data(service),
            priority=priority,
            status=status,
            assignee_id=assignee.membership.pk if assignee else None,
            requested_by_id=rng.choice(self.requesters[client.pk]),
            max_budget=rng.randrange(5000, 50000, 500) if rng.random() < 0.1 else None,
        )
        if status in ("completed", "cancelled"):
            created = now - dt.timedelta(minutes=rng.randint(3 * 24 * 60, 365 * 24 * 60))
            task.due_at = created + turnaround
        elif status in ("requested", "queued"):
            created = now - dt.timedelta(minutes=rng.randint(5, 7 * 24 * 60))
            task.due_at = now + dt.timedelta(minutes=rng.randint(-2 * 24 * 60, 14 * 24 * 60))
        else:
            created = now - dt.timedelta(minutes=rng.randint(60, 10 * 24 * 60))
            task.due_at = now + dt.timedelta(minutes=rng.randint(-24 * 60, 7 * 24 * 60))
        task.due_at = max(task.due_at, created + dt.timedelta(hours=1))
        task.created_at = task.queued_at = created  # the pool's wait counts from the request

        if status in ("in_progress", "waiting_on_client", "completed"):
            task.started_at = created + dt.timedelta(minutes=rng.randint(10, 24 * 60))
            task.minutes_logged = rng.choice([0, 15, 30, 45, 60, 90, 120, 180, 240])
            if status != "completed":  # work in hand: the time logged has already passed
                task.started_at = min(task.started_at, now - dt.timedelta(minutes=5))
                worked = (now - task.started_at) // dt.timedelta(minutes=1)
                task.minutes_logged = min(task.minutes_logged, worked)
        if status == "completed":
            task.minutes_logged = task.minutes_logged or 30
            task.completed_at = task.started_at + dt.timedelta(
                minutes=task.minutes_logged + rng.randint(0, 24 * 60)
            )
            task.completion_summary = "Done as asked; notes are in the comments."
            approved_at = task.completed_at + dt.timedelta(minutes=rng.randint(30, 3000))
            if approved_at < now and rng.random() < 0.95:  # the rest await the client
                task.approved_at = approved_at
                task.approved_by_id = task.requested_by_id
        elif status == "cancelled":
            task.cancelled_at = created + dt.timedelta(minutes=rng.randint(5, 2 * 24 * 60))
            task.cancel_reason = rng.choice(["No longer needed", "Done in-house", ""])
        return task, status

    def _free_assistant(self, line) -> Assistant | None:
        """Someone who could hold this task now: its contract's own assistant, or one
        skilled in its category with room under their capacity."""
        own = self.dedicated.get(line.contract_id)
        if own is not None:
            return own if own.load < own.capacity else None
        candidates = self.skilled.get(line.service.category_id) or []
        for assistant in self.rng.sample(candidates, min(6, len(candidates))):
            if assistant.load < assistant.capacity:
                return assistant
        return None

    def _any_assistant(self, line) -> Assistant:
        own = self.dedicated.get(line.contract_id)
        if own is not None:
            return own
        return self.rng.choice(self.skilled.get(line.service.category_id) or self.assistants)

    def _template_data(self, service) -> dict:
        data = {}
        for f in service.request_template:
            if not f.get("required") and self.rng.random() < 0.5:
                continue
            if f["type"] == "date":
                data[f["name"]] = (self.now + dt.timedelta(days=self.rng.randint(7, 60))).date()
                data[f["name"]] = data[f["name"]].isoformat()
            elif f["type"] == "number":
                data[f["name"]] = str(self.rng.randrange(500, 2500, 100))
            else:
                data[f["name"]] = self.rng.choice(TEMPLATE_SAMPLES.get(f["name"], ["As usual"]))
        return data

    def _finished_entry(self, task):
        from tasks.models import TimeEntry

        started = task.started_at
        return TimeEntry(
            agency=self.agency,
            task=task,
            assistant_id=task.assignee_id,
            started_at=started,
            ended_at=started + dt.timedelta(minutes=task.minutes_logged),
            minutes=task.minutes_logged,
            note="Worked on it",
            created_at=started + dt.timedelta(minutes=task.minutes_logged),
        )

    def summary(self) -> str:
        return f"/a/{self.agency.slug}/ " + ", ".join(
            f"{name} {count:,}" for name, count in self.counts.items()
        )


if __name__ == "__main__":
    main()
