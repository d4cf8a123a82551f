"""Time the admin dashboard, every report (page and CSV), the earnings pages and the
client's account page on the generated data.

    .venv/bin/python -m bench.bench_reports [--runs 20]

Same method as bench.bench_pages: one process, Django's test client signed in with
force_login, `DEBUG=false`, two warm-up requests, then `--runs` timed requests; prints the
median and the 95th percentile in milliseconds and the SQL queries of one request, on the
"bench" agency and on "bench-empty" (made here, removed afterwards). Reports run for this
month (their default) and, where named, for the last twelve months. Run
`python -m bench.generate` first: it writes the charges and invoices the reports count.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import dataclass

from bench.bench_pages import cells, make_empty_agency, people_of, remove_agency
from bench.generate import BIG_SLUG, setup_django


@dataclass
class Row:
    label: str
    url_name: str
    who: str  # admin, busy_assistant, big_client_person
    query: str = ""  # "year" for the last twelve months; other text is sent as it is


ROWS = [
    Row("dashboard", "dashboard", "admin"),
    Row("revenue", "report_revenue", "admin"),
    Row("revenue, 12 months", "report_revenue", "admin", "year"),
    Row("revenue CSV, 12 mo.", "report_revenue", "admin", "year&format=csv"),
    Row("hours", "report_hours", "admin"),
    Row("hours, 12 months", "report_hours", "admin", "year"),
    Row("on-time", "report_on_time", "admin"),
    Row("on-time, 12 months", "report_on_time", "admin", "year"),
    Row("contract usage", "report_usage", "admin"),
    Row("usage, 12 months", "report_usage", "admin", "year"),
    Row("margin", "report_margin", "admin"),
    Row("margin, 12 months", "report_margin", "admin", "year"),
    Row("earnings overview", "earnings_overview", "admin"),
    Row("my earnings", "my_earnings", "busy_assistant"),
    Row("statement CSV", "my_earnings_statement", "busy_assistant", "format=csv"),
    Row("our account", "our_account", "big_client_person"),
]
WHO = {"admin": "admin", "busy_assistant": "busy assistant", "big_client_person": "client"}


def url_for(agency, row: Row) -> str:
    from django.urls import reverse

    from core.periods import last_months, month_end

    url = reverse(row.url_name, kwargs={"agency_slug": agency.slug})
    query = row.query
    if query.startswith("year"):
        months = last_months(agency.time_zone, 12)
        query = f"start={months[0]}&end={month_end(months[-1])}" + query[len("year") :]
    return f"{url}?{query}" if query else url


def measure(agency, row: Row, people: dict, runs: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    membership = people[row.who]
    if membership is None:
        return {"note": "nobody to sign in as"}
    url = url_for(agency, row)
    http = Client()
    http.force_login(membership.user)
    try:
        for _ in range(2):
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
    except Exception as error:  # one failing page must not stop the others
        return {"note": f"error: {type(error).__name__}: {str(error)[:60]}"}
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
        "queries": len(queries),
    }


def describe(agency) -> str:
    from billing.models import Charge, Invoice
    from core.tenancy import agency_scope
    from tasks.models import Task, TimeEntry

    with agency_scope(agency):
        counts = {
            "tasks": Task.objects.filter(agency=agency).count(),
            "time entries": TimeEntry.objects.filter(agency=agency).count(),
            "charges": Charge.objects.filter(agency=agency).count(),
            "invoices": Invoice.objects.filter(agency=agency).count(),
        }
    return f"/a/{agency.slug}/: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_reports", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    os.environ.setdefault("DEBUG", "false")
    setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from accounts.models import Agency

    setup_test_environment()
    big = Agency.objects.filter(slug=BIG_SLUG).first()
    if big is None:
        sys.exit(f'No "{BIG_SLUG}" agency: run `python -m bench.generate` first.')
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, runs: {args.runs}")
    print(f"at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {describe(big)}\n")
    empty = make_empty_agency()
    try:
        people = {"bench": people_of(big), "empty": people_of(empty)}
        header = (
            f"{'page':<21} {'as':<15} {'bench median':>13} {'p95':>9} {'queries':>8}"
            f"   {'empty median':>13} {'p95':>9} {'queries':>8}"
        )
        print(header)
        print("-" * len(header))
        for row in ROWS:
            bench = measure(big, row, people["bench"], args.runs)
            quiet = measure(empty, row, people["empty"], args.runs)
            print(f"{row.label:<21} {WHO[row.who]:<15} {cells(bench)}   {cells(quiet)}", flush=True)
        print("\ntimes in milliseconds per request; queries per request")
    finally:
        remove_agency(empty)


if __name__ == "__main__":
    main()
