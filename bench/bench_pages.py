"""Time the pages and endpoints that grow with an agency's work, on the generated data.

    .venv/bin/python -m bench.bench_pages [--runs 30]

Runs inside one process with Django's test client (signed in with force_login): each row
is the whole Django stack (middleware, view, queries, template or JSON rendering) without
a network or a web server in front. For each row it prints the median and the 95th
percentile of `--runs` timed requests (after two warm-up requests) and how many SQL
queries one request makes. Every row is measured again on an agency with no work at all
("bench-empty", made here and removed afterwards): the two columns should differ by the
cost of rendering the rows a page shows, never by the size of the table behind it.
Run `python -m bench.generate` first.
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

from bench.generate import (
    BIG_SLUG,
    EMAIL_DOMAIN,
    EMPTY_SLUG,
    UNUSABLE_PASSWORD,
    remove_agencies,
    setup_django,
)


@dataclass
class Row:
    label: str
    url_name: str
    who: str  # which person of the agency: admin, busy_assistant, big_client_person


ROWS = [
    Row("queue dashboard", "assistant_queue", "busy_assistant"),
    Row("client task list", "client_task_list", "big_client_person"),
    Row("staff task list", "task_list", "admin"),
    Row("API task list", "api:task-list", "admin"),
    Row("API task list", "api:task-list", "big_client_person"),
    Row("API task list", "api:task-list", "busy_assistant"),
]
WHO = {
    "admin": "admin",
    "busy_assistant": "busy assistant",
    "big_client_person": "biggest client's member",
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pages", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)

    # Measure what production runs: no debug mode (cached templates, no debug pages).
    os.environ.setdefault("DEBUG", "false")
    setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts.models import Agency

    setup_test_environment()  # lets the test client's "testserver" host in
    big = Agency.objects.filter(slug=BIG_SLUG).first()
    if big is None:
        sys.exit(f'No "{BIG_SLUG}" agency: run `python -m bench.generate` first.')
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, runs: {args.runs}")
    empty = make_empty_agency()
    try:
        people = {"bench": people_of(big), "empty": people_of(empty)}
        print(f"bench agency: {describe(big, people['bench'])}\n")
        results = []
        for row in ROWS:
            results.append(
                (
                    row,
                    measure(big, row, people["bench"], args.runs),
                    measure(empty, row, people["empty"], args.runs),
                )
            )
        print_table(results)
    finally:
        remove_agency(empty)


def people_of(agency) -> dict:
    """The admin, the assistant holding the most active work (ties: the largest pool),
    and a member of the client with the most tasks."""
    from django.db.models import Count, Q

    from accounts.models import Membership
    from core.roles import Role
    from core.tenancy import agency_scope
    from tasks.models import ACTIVE_STATUSES, Task

    with agency_scope(agency):
        members = Membership.objects.filter(agency=agency, is_active=True).select_related("user")
        admin = members.filter(role__in=[Role.ADMIN, Role.OWNER]).order_by("role").first()
        busy = (
            members.filter(role=Role.ASSISTANT)
            .annotate(
                active=Count("assigned_tasks", filter=Q(assigned_tasks__status__in=ACTIVE_STATUSES))
            )
            .order_by("-active", "pk")
            .first()
        )
        biggest = (
            Task.objects.filter(agency=agency)
            .values("client")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .first()
        )
        client_person = members.filter(role=Role.CLIENT)
        if biggest:
            client_person = client_person.filter(client_id=biggest["client"])
        return {
            "admin": admin,
            "busy_assistant": busy,
            "big_client_person": client_person.order_by("pk").first(),
            "busy_active": busy.active if busy else 0,
            "biggest_client_tasks": biggest["n"] if biggest else 0,
        }


def describe(agency, people) -> str:
    from core.tenancy import agency_scope
    from tasks.models import Task

    with agency_scope(agency):
        tasks = Task.objects.filter(agency=agency).count()
    return (
        f"/a/{agency.slug}/ with {tasks:,} tasks; the busy assistant holds "
        f"{people['busy_active']} active tasks; the biggest client has "
        f"{people['biggest_client_tasks']:,} tasks"
    )


def measure(agency, row: Row, people: dict, runs: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse(row.url_name, kwargs={"agency_slug": agency.slug})
    except NoReverseMatch:
        return {"note": "not available"}
    membership = people[row.who]
    if membership is None:
        return {"note": "nobody to sign in as"}
    http = Client()
    http.force_login(membership.user)
    try:
        for _ in range(2):  # warm-up: imports, template compilation, connection
            response = http.get(url)
        if response.status_code != 200:
            return {"note": f"HTTP {response.status_code}"}
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            http.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            http.get(url)
    except Exception as error:  # a page under construction must not stop the others
        return {"note": f"error: {type(error).__name__}: {str(error)[:60]}"}
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
        "queries": len(queries),
    }


def print_table(results) -> None:
    header = (
        f"{'page':<20} {'as':<24} {'bench median':>13} {'p95':>9} {'queries':>8}"
        f"   {'empty median':>13} {'p95':>9} {'queries':>8}"
    )
    print(header)
    print("-" * len(header))
    for row, bench, empty in results:
        print(f"{row.label:<20} {WHO[row.who]:<24} {cells(bench)}   {cells(empty)}")
    print("\ntimes in milliseconds per request; queries per request")


def cells(result: dict) -> str:
    if "note" in result:
        return f"{result['note']:>32}"
    return f"{result['median']:>13.1f} {result['p95']:>9.1f} {result['queries']:>8}"


def make_empty_agency():
    """A small agency with people of every role and a live contract, but no tasks."""
    import datetime as dt

    from django.db import transaction

    from accounts.models import Agency, Membership, User
    from assistants.models import AssistantProfile, AssistantSkill
    from clients.models import Client
    from contracts.models import (
        COMMON_CATEGORIES,
        ContractLine,
        ContractTerms,
        Service,
        ServiceCategory,
        ServiceContract,
    )
    from core.roles import Role
    from core.tenancy import agency_scope

    remove_agency(Agency.objects.filter(slug=EMPTY_SLUG).first())
    with transaction.atomic():
        agency = Agency.objects.create(name="Empty Bench Agency", slug=EMPTY_SLUG)
        with agency_scope(agency):
            categories = ServiceCategory.objects.bulk_create(
                ServiceCategory(agency=agency, slug=slug, name=name)
                for slug, name in COMMON_CATEGORIES
            )
            service = Service.objects.create(
                agency=agency, name="Inbox triage", category=categories[0], default_price=3500
            )
            client = Client.objects.create(agency=agency, name="Quiet Client", currency="USD")
            contract = ServiceContract.objects.create(
                agency=agency,
                client=client,
                name="Quiet contract",
                status="active",
                starts_on=dt.date(2024, 1, 1),
                currency="USD",
                days_until_due=14,
            )
            line = ContractLine.objects.create(agency=agency, contract=contract, service=service)
            ContractTerms.objects.create(
                agency=agency,
                line=line,
                effective_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                pricing_model="flat",
                flat_fee=3500,
            )

            def person(local, role, **kwargs):
                user = User.objects.create(
                    email=f"{local}@{EMPTY_SLUG}.{EMAIL_DOMAIN}", password=UNUSABLE_PASSWORD
                )
                return Membership.objects.create(agency=agency, user=user, role=role, **kwargs)

            person("admin", Role.ADMIN)
            person("client", Role.CLIENT, client=client)
            profile = AssistantProfile.objects.create(
                agency=agency, membership=person("assistant", Role.ASSISTANT)
            )
            AssistantSkill.objects.create(agency=agency, profile=profile, category=categories[0])
    return agency


def remove_agency(agency) -> None:
    from django.db.models import Q

    if agency is not None:
        remove_agencies(Q(pk=agency.pk))


if __name__ == "__main__":
    main()
