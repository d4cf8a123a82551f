"""Billing benchmark: bill N completed tasks per cadence through the in-repo Stripe server.

    .venv/bin/python -m bench.bench_billing [--tasks 10000] [--cadences per_task,weekly,monthly]
                                            [--clients 4] [--workers 1] [--stripe-process]
                                            [--stripe-url URL] [--keep]

For each cadence it makes an agency of its own ("bench-billing-<cadence>") with a few
clients, each on an active contract of that cadence (invoices sent, one hourly line), and
`--tasks` completed tasks with minutes logged, spread over the clients and completed within
the last week (per-task, weekly) or month (monthly). Rows are written with bulk_create.

Then it bills every task as the jobs do, in `--workers` processes forked from this one (as
Celery's prefork pool runs its children; each keeps its own Stripe connection), the tasks
dealt out between them: what tasks.jobs.task_completed
and billing.jobs.push_charge run for each task (the agency loaded and its scope entered per
job, charge_for_task, then, for per-task contracts only, billing.invoicing.push_charge: an
invoice of its own per task; a weekly or monthly charge queues no push job). For weekly
and monthly it then runs beat's close_billing_periods with `now` just after the period the
charges fall in has ended (periods follow the charge's creation time, which is the moment
it is billed).

Stripe is the in-repo test server, started in a thread here, or with --stripe-process as a
process of its own (`python -m stripe_test_server --port 0`), so the server's work is not
in the billing processes' GIL; --stripe-url names one already running. Its /_test/stats
request counts are read before and after each phase.
Afterwards it checks through the SDK that Stripe holds exactly one invoice item per charge,
on an invoice, for the charge's amount, and that the clients' invoices add up to the charges.
The bench agencies are removed at the end unless --keep (and at the start, if left over).

Note: close_billing_periods sweeps every agency in the database; run it on a database of
its own (see bench/README.md), or other agencies' unbilled charges are billed too.
"""

import argparse
import datetime as dt
import json
import logging
import random
import re
import sys
import time
import urllib.request
from collections import Counter

from bench.generate import EMAIL_DOMAIN, auto_timestamps_off, remove_agencies, setup_django

SLUG_PREFIX = "bench-billing-"
CADENCES = ("per_task", "weekly", "monthly")
SECRET_KEY = "sk_test_benchbilling"
BATCH = 2000
# (time zone, currency) of the clients, taken in turn
CLIENT_ZONES = [
    ("America/New_York", "USD"),
    ("Europe/London", "GBP"),
    ("Europe/Berlin", "EUR"),
    ("Australia/Sydney", "AUD"),
    ("America/Los_Angeles", "USD"),
    ("Asia/Manila", "USD"),
]
MINUTES = [15, 20, 30, 45, 60, 75, 90, 120, 180, 240]
# Stripe ids in a path (cus_..., in_..., ii_...) become {id}, so paths add up across objects.
STRIPE_ID = re.compile(r"/[a-z]{2,6}_[A-Za-z0-9]{6,}")
# Test-server controls go straight to localhost; a proxy in the environment must not see them.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_billing", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks billed per cadence")
    parser.add_argument("--cadences", default=",".join(CADENCES))
    parser.add_argument("--clients", type=int, default=4, help="clients per agency")
    parser.add_argument("--stripe-url", help="a Stripe test server already running")
    parser.add_argument(
        "--stripe-process",
        action="store_true",
        help="start the Stripe test server as a process of its own",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="billing processes, as a worker's concurrency"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="leave the bench agencies in place")
    args = parser.parse_args(argv)
    cadences = [c.strip() for c in args.cadences.split(",") if c.strip()]
    if unknown := set(cadences) - set(CADENCES):
        parser.error(f"unknown cadence(s): {', '.join(sorted(unknown))}")

    setup_django()
    # The SDK logs every request at INFO: 50,000 lines of noise, and time not spent billing.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection
    from django.db.models import Q

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    if removed := remove_agencies(Q(slug__startswith=SLUG_PREFIX)):
        print(f"removed {removed} bench billing agencies left by an earlier run")

    with stripe_server(args.stripe_url, process=args.stripe_process) as base_url:
        settings.STRIPE_API_BASE = base_url
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        print(
            f"stripe: {base_url} (SDK retries {settings.STRIPE_MAX_NETWORK_RETRIES}); "
            f"{args.workers} billing process(es)\n"
        )
        results = []
        try:
            for cadence in cadences:
                results.append(run_cadence(cadence, args, base_url))
        finally:
            if not args.keep:
                remove_agencies(Q(slug__startswith=SLUG_PREFIX))
    report(results)
    if not all(r["check_ok"] for r in results):
        sys.exit(1)


class stripe_server:
    """The given server's URL, or one started for the run: in a thread here, or (process)
    as `python -m stripe_test_server` in a process of its own."""

    def __init__(self, url: str | None, *, process: bool = False):
        self.url = url.rstrip("/") if url else None
        self.process = process
        self._running = None
        self._child = None

    def __enter__(self) -> str:
        if self.url:
            return self.url
        if self.process:
            import subprocess

            self._child = subprocess.Popen(
                [sys.executable, "-m", "stripe_test_server", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
            )
            first = self._child.stdout.readline()
            match = re.search(r"(http://\S+)", first)
            if match is None:
                self._child.kill()
                raise SystemExit(f"the Stripe test server did not start: {first!r}")
            return match.group(1)
        from stripe_test_server.runner import running_server

        self._running = running_server()
        return self._running.__enter__()

    def __exit__(self, *exc):
        if self._child is not None:
            self._child.terminate()
            self._child.wait(timeout=30)
            return False
        if self._running is not None:
            return self._running.__exit__(*exc)
        return False


def stripe_requests(base_url: str) -> Counter:
    """Requests the server has answered so far, by method and path (ids folded)."""
    with _opener.open(f"{base_url}/_test/stats", timeout=30) as response:
        stats = json.loads(response.read())
    counts = Counter()
    for key, n in stats["requests"].items():
        counts[STRIPE_ID.sub("/{id}", key)] += n
    return counts


# -- the data ----------------------------------------------------------------------------


def build(cadence: str, args, rng: random.Random):
    """One agency on this cadence, its clients and contracts, and the completed tasks.
    Returns (agency, task ids in completion order)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Agency, Membership, User
    from clients.models import Client
    from contracts.models import (
        ContractLine,
        ContractTerms,
        PricingModel,
        Service,
        ServiceCategory,
        ServiceContract,
    )
    from core.roles import Role
    from core.tenancy import agency_scope
    from tasks.models import Task, TaskStatus

    now = timezone.now()
    span = dt.timedelta(days=28 if cadence == "monthly" else 7)
    slug = f"{SLUG_PREFIX}{cadence.replace('_', '-')}"
    with transaction.atomic(), auto_timestamps_off():
        agency = Agency.objects.create(
            name=f"Bench Billing ({cadence})", slug=slug, time_zone="Europe/London"
        )
        with agency_scope(agency):
            user = User.objects.create(
                email=f"assistant@{slug}.{EMAIL_DOMAIN}", full_name="Bench Assistant"
            )
            assistant = Membership.objects.create(agency=agency, user=user, role=Role.ASSISTANT)
            category = ServiceCategory.objects.create(agency=agency, slug="admin", name="Admin")
            service = Service.objects.create(
                agency=agency, name="Inbox triage", category=category, default_price=3500
            )
            clients = Client.objects.bulk_create(
                Client(
                    agency=agency,
                    name=f"Bench Client {n + 1}",
                    billing_email=f"billing{n + 1}@{slug}.{EMAIL_DOMAIN}",
                    time_zone=zone,
                    currency=currency,
                )
                for n, (zone, currency) in enumerate(
                    CLIENT_ZONES[i % len(CLIENT_ZONES)] for i in range(args.clients)
                )
            )
            starts = now - dt.timedelta(days=90)
            contracts = ServiceContract.objects.bulk_create(
                ServiceContract(
                    agency=agency,
                    client=client,
                    name=f"{client.name} services",
                    status="active",
                    starts_on=starts.date(),
                    currency=client.currency,
                    billing_cadence=cadence,
                    collection_method="send_invoice",
                    days_until_due=14,
                    created_at=starts,
                    activated_at=starts,
                )
                for client in clients
            )
            lines = ContractLine.objects.bulk_create(
                ContractLine(agency=agency, contract=contract, service=service)
                for contract in contracts
            )
            ContractTerms.objects.bulk_create(
                ContractTerms(
                    agency=agency,
                    line=line,
                    effective_from=starts,
                    pricing_model=PricingModel.HOURLY,
                    hourly_rate=3000 + 250 * n,
                    rounding_increment_minutes=15,
                    minimum_minutes=15,
                )
                for n, line in enumerate(lines)
            )
            tasks = []
            for n in range(args.tasks):
                line = lines[n % len(lines)]
                minutes = rng.choice(MINUTES)
                completed = now - span + span * (n + 1) / (args.tasks + 1)
                started = completed - dt.timedelta(minutes=minutes)
                tasks.append(
                    Task(
                        agency_id=agency.pk,
                        client_id=line.contract.client_id,
                        contract_line_id=line.pk,
                        contract_id=line.contract_id,
                        service_id=service.pk,
                        category_id=category.pk,
                        currency=line.contract.currency,
                        title=f"Inbox triage #{n + 1}",
                        due_at=completed + dt.timedelta(hours=4),
                        status=TaskStatus.COMPLETED,
                        assignee_id=assistant.pk,
                        created_at=started - dt.timedelta(hours=2),
                        queued_at=started - dt.timedelta(hours=2),
                        started_at=started,
                        completed_at=completed,
                        completion_summary="Done.",
                        minutes_logged=minutes,
                    )
                )
            Task.objects.bulk_create(tasks, BATCH)
    return agency, [t.pk for t in tasks]


# -- billing, as the jobs do it ----------------------------------------------------------


def bill_as_jobs_do(agency_id: int, task_id: int) -> None:
    """tasks.jobs.task_completed's billing, then billing.jobs.push_charge, each as its own
    job would run it: the agency loaded and its scope entered, errors raised (a benchmark
    must not count a failure as work done)."""
    from accounts.models import Agency
    from billing.charges import charge_for_task
    from billing.invoicing import push_charge, pushed_at_once
    from core.tenancy import agency_scope
    from tasks.models import Task

    agency = Agency.objects.get(pk=agency_id)
    with agency_scope(agency):
        task = Task.objects.select_related("client", "contract").filter(pk=task_id).first()
        charge = charge_for_task(agency=agency, task=task)
    if not pushed_at_once(task.contract):
        return  # billing.jobs.bill queues no push: the period's close sends the charge
    agency = Agency.objects.get(pk=agency_id)
    with agency_scope(agency):
        push_charge(agency=agency, charge_id=charge.pk)


def bill_share(agency_id: int, task_ids: list[int]) -> None:
    started = time.perf_counter()
    for n, task_id in enumerate(task_ids, 1):
        bill_as_jobs_do(agency_id, task_id)
        if n % 2000 == 0:
            print(f"  {n:,} billed, {time.perf_counter() - started:.1f} s", flush=True)


def bill_all(agency_id: int, task_ids: list[int], workers: int) -> None:
    """Every task billed, by `workers` forked processes (each a share, in order), or here."""
    if workers <= 1:
        bill_share(agency_id, task_ids)
        return
    import multiprocessing

    from django.db import connections

    # Children open their own database connections; the parent's is not shared.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_bill_child, args=(agency_id, task_ids[n::workers]))
        for n in range(workers)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    if failed := [child.exitcode for child in children if child.exitcode]:
        raise SystemExit(f"billing processes failed: exit codes {failed}")


def _bill_child(agency_id: int, task_ids: list[int]) -> None:
    from django.db import connections

    try:
        bill_share(agency_id, task_ids)
    finally:
        connections.close_all()


def close_moment(agency, cadence: str) -> dt.datetime:
    """A minute after the latest period any of the agency's charges falls in has ended."""
    from django.db.models import Max

    from billing.invoicing import billing_period
    from billing.models import Charge
    from core.tenancy import agency_scope
    from core.times import local_midnight

    ends = []
    with agency_scope(agency):
        latest = Charge.objects.filter(agency=agency).values("client__time_zone")
        for row in latest.annotate(last=Max("created_at")).order_by():
            zone = row["client__time_zone"]
            ends.append(local_midnight(billing_period(cadence, row["last"], zone)[1], zone))
    return max(ends) + dt.timedelta(minutes=1)


def run_cadence(cadence: str, args, base_url: str) -> dict:
    from billing.invoicing import close_billing_periods

    rng = random.Random(f"{args.seed}-{cadence}")
    started = time.perf_counter()
    agency, task_ids = build(cadence, args, rng)
    print(f"{cadence}: {len(task_ids):,} tasks made in {time.perf_counter() - started:.1f} s")

    before = stripe_requests(base_url)
    started = time.perf_counter()
    bill_all(agency.pk, task_ids, args.workers)
    bill_seconds = time.perf_counter() - started
    after_bill = stripe_requests(base_url)

    close_seconds, invoices_closed = 0.0, 0
    if cadence != "per_task":
        now = close_moment(agency, cadence)
        started = time.perf_counter()
        invoices_closed = close_billing_periods(now=now)
        close_seconds = time.perf_counter() - started
        print(f"  periods closed as of {now:%Y-%m-%d %H:%M} UTC: {invoices_closed} invoices")
    after = stripe_requests(base_url)

    result = {
        "cadence": cadence,
        "tasks": len(task_ids),
        "bill_seconds": bill_seconds,
        "close_seconds": close_seconds,
        "invoices_closed": invoices_closed,
        "bill_requests": after_bill - before,
        "requests": after - before,
    }
    result.update(check(agency, base_url))
    return result


# -- what Stripe holds -------------------------------------------------------------------


def check(agency, base_url: str) -> dict:
    """One invoice item per charge, with its amount, on an invoice; every charge invoiced in
    our database; the clients' invoices adding up to the charges (per currency). Reads Stripe
    through the SDK after the request counts were taken, so it does not count itself."""
    import stripe

    from billing.models import Charge, ChargeStatus
    from clients.models import Client
    from core.tenancy import agency_scope

    sdk = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base_url}, max_network_retries=0)
    with agency_scope(agency):
        charges = {
            c.pk: c
            for c in Charge.objects.filter(agency=agency).only(
                "pk", "amount", "currency", "status", "stripe_invoice_item_id", "invoice_id"
            )
        }
        customers = list(
            Client.objects.filter(agency=agency).values_list("stripe_customer_id", flat=True)
        )
    items_per_charge: Counter = Counter()
    problems = []
    invoiced, charged = Counter(), Counter()
    invoices = 0
    for customer in filter(None, customers):
        listing = sdk.v1.invoice_items.list(params={"customer": customer, "limit": 100})
        for item in listing.auto_paging_iter():
            charge = charges.get(int(item.metadata.to_dict().get("charge_id", 0)))
            if charge is None:
                problems.append(f"item {item.id} of no charge of ours")
                continue
            items_per_charge[charge.pk] += 1
            if item.id != charge.stripe_invoice_item_id or item.amount != charge.amount:
                problems.append(f"item {item.id} does not match charge {charge.pk}")
            if not item.invoice:
                problems.append(f"item {item.id} (charge {charge.pk}) is on no invoice")
        listing = sdk.v1.invoices.list(params={"customer": customer, "limit": 100})
        for invoice in listing.auto_paging_iter():
            invoices += 1
            invoiced[invoice.currency.upper()] += invoice.total
    for charge in charges.values():
        charged[charge.currency] += charge.amount
        if charge.status != ChargeStatus.INVOICED or charge.invoice_id is None:
            problems.append(f"charge {charge.pk} is {charge.status}, not invoiced")
    missing = [pk for pk in charges if items_per_charge[pk] == 0]
    doubled = [pk for pk, n in items_per_charge.items() if n > 1]
    if missing:
        problems.append(f"{len(missing)} charges have no invoice item")
    if doubled:
        problems.append(f"{len(doubled)} charges have more than one invoice item")
    if invoiced != charged:
        problems.append(f"invoiced {dict(invoiced)} != charged {dict(charged)}")
    return {
        "charges": len(charges),
        "items": sum(items_per_charge.values()),
        "invoices": invoices,
        "charged": charged,
        "invoiced": invoiced,
        "problems": problems,
        "check_ok": not problems,
    }


# -- the report --------------------------------------------------------------------------


def money(totals: Counter) -> str:
    return ", ".join(f"{cur} {amount / 100:,.2f}" for cur, amount in sorted(totals.items()))


def report(results: list[dict]) -> None:
    print()
    head = (
        f"{'cadence':<9} {'tasks':>7} {'bill s':>8} {'close s':>8} {'wall s':>8} "
        f"{'tasks/s':>8} {'requests':>9} {'req/task':>8} {'invoices':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        wall = r["bill_seconds"] + r["close_seconds"]
        total = sum(r["requests"].values())
        print(
            f"{r['cadence']:<9} {r['tasks']:>7,} {r['bill_seconds']:>8.1f} "
            f"{r['close_seconds']:>8.1f} {wall:>8.1f} {r['tasks'] / wall:>8.1f} "
            f"{total:>9,} {total / r['tasks']:>8.2f} {r['invoices']:>8,}"
        )
    for r in results:
        print(f"\n{r['cadence']}: Stripe requests by path (billing + period close)")
        closing = r["requests"] - r["bill_requests"]
        for path, n in sorted(r["requests"].items(), key=lambda kv: (-kv[1], kv[0])):
            print(
                f"  {path:<40} {n:>7,}  {n / r['tasks']:>6.3f}/task"
                + (f"  (close {closing[path]:,})" if closing[path] else "")
            )
        status = "OK" if r["check_ok"] else "FAILED"
        print(
            f"  check {status}: {r['charges']:,} charges, {r['items']:,} invoice items "
            f"(one per charge), {r['invoices']:,} invoices; invoiced {money(r['invoiced'])}"
            f" {'=' if r['invoiced'] == r['charged'] else '!='} charged {money(r['charged'])}"
        )
        for problem in r["problems"][:10]:
            print(f"    ! {problem}")


if __name__ == "__main__":
    main()
