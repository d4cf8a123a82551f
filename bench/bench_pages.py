"""Time the product's pages and API lists on the generated data, as ratios to the floor.

    .venv/bin/python -m bench.bench_pages [--runs 30] [--small bench-small-01] [--only WORD]

Runs inside one process with Django's test client (signed in with force_login), with
`DEBUG=false`: each row is the whole Django stack (middleware, view, queries, template or
JSON rendering) without a network or a web server in front.

Two floors are timed in the same loop as the pages (bench/urls.py): a page that only signs
the member in and enters the agency (204), and a DRF list of 25 rows of a small table.
Every row is timed once per round, floors included, round after round, so whatever else
the machine does lands on all of them alike; each row prints its median and 95th
percentile, the SQL queries and the size of one answer, and its median over its floor's
(pages over the page floor, API lists over the API floor). Every row runs on "bench" and
on a small agency (`--small`), and "x small" is the one's median over the other's: a page
that shows a bounded number of rows should stay near 1 at any size.

Rows whose URL name does not exist print "not available"; a row that fails prints its
error and the others go on. A deep page is reached by following the list's own "next"
links (jumping straight to `--deep` when those links carry a page number).
Run `python -m bench.generate` first.
"""

import argparse
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from bench.generate import BIG_SLUG, SMALL_PREFIX, setup_django

FLOOR_PAGE = "bench_floor"
FLOOR_API = "bench_api_floor"


@dataclass
class Row:
    label: str
    url_name: str
    who: str  # a key of cast_of(): admin, busy_assistant, big_client_person, ...
    query: str = ""  # "year" for the last twelve months (and more after it); else as it is
    target: str = ""  # a key of cast_of() whose pk goes in the URL as `pk`
    deep: bool = False  # follow the list's "next" links to page --deep

    @property
    def is_api(self) -> bool:
        return self.url_name.startswith("api:") or self.url_name == FLOOR_API


FLOORS = [
    Row("floor: page (204)", FLOOR_PAGE, "admin"),
    Row("floor: API list of 25", FLOOR_API, "admin"),
]
ROWS = [
    Row("queue dashboard", "assistant_queue", "busy_assistant"),
    Row("client task list", "client_task_list", "big_client_person"),
    Row("client task list", "client_task_list", "small_client_person"),
    Row("task page", "task_detail", "admin", target="task"),
    Row("task page", "task_detail", "task_client_person", target="task"),
    Row("task page", "task_detail", "task_assignee", target="task"),
    Row("staff tasks, open", "task_list", "admin"),
    Row("staff tasks, all", "task_list", "admin", "status=all"),
    Row("staff tasks, deep", "task_list", "admin", "status=all", deep=True),
    Row("API task list", "api:task-list", "admin"),
    Row("API task list, deep", "api:task-list", "admin", deep=True),
    Row("admin dashboard", "dashboard", "admin"),
    Row("revenue, 12 mo.", "report_revenue", "admin", "year"),
    Row("revenue CSV, 12 mo.", "report_revenue", "admin", "year&format=csv"),
    Row("hours, 12 mo.", "report_hours", "admin", "year"),
    Row("hours CSV, 12 mo.", "report_hours", "admin", "year&format=csv"),
    Row("on-time, 12 mo.", "report_on_time", "admin", "year"),
    Row("on-time CSV, 12 mo.", "report_on_time", "admin", "year&format=csv"),
    Row("usage, 12 mo.", "report_usage", "admin", "year"),
    Row("usage CSV, 12 mo.", "report_usage", "admin", "year&format=csv"),
    Row("margin, 12 mo.", "report_margin", "admin", "year"),
    Row("margin CSV, 12 mo.", "report_margin", "admin", "year&format=csv"),
    Row("invoice (largest)", "invoice_detail", "admin", target="invoice"),
    Row("invoice (largest)", "our_invoice_detail", "invoice_client_person", target="invoice"),
    Row("client list", "client_list", "admin"),
    Row("contracts", "contract_list", "admin"),
    Row("team", "team", "admin"),
    Row("earnings overview", "earnings_overview", "admin"),
    Row("assistants", "assistant_list", "admin"),
    Row("on shift", "assistant_on_shift", "admin"),
    Row("client manuals", "manual_list", "busy_assistant"),
]
WHO = {
    "admin": "admin",
    "busy_assistant": "busy assistant",
    "big_client_person": "biggest client",
    "small_client_person": "small client",
    "task_client_person": "its client",
    "task_assignee": "its assistant",
    "invoice_client_person": "its client",
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pages", description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--small", default=f"{SMALL_PREFIX}01", help="the small agency's slug")
    parser.add_argument("--deep", type=int, default=2000, help="the deep page's number")
    parser.add_argument("--only", default="", help="only rows whose label has this text")
    args = parser.parse_args(argv)
    rows = [row for row in ROWS if args.only.lower() in row.label.lower()]
    run_benchmark(rows, runs=args.runs, small_slug=args.small, deep=args.deep)


def start_django():
    """Django as production runs it (no debug mode: cached templates, no debug pages),
    with the benchmarks' floor URLs beside the product's."""
    os.environ.setdefault("DEBUG", "false")
    setup_django()
    # A failing row says so in the table; its traceback in the log would bury the table.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    from django.conf import settings
    from django.test.utils import setup_test_environment
    from django.urls import clear_url_caches

    setup_test_environment()  # lets the test client's "testserver" host in
    settings.ROOT_URLCONF = "bench.urls"
    clear_url_caches()


def run_benchmark(rows, *, runs: int, small_slug: str, deep: int = 2000) -> None:
    start_django()
    from django.db import connection

    from accounts.models import Agency

    big = Agency.objects.filter(slug=BIG_SLUG).first()
    if big is None:
        sys.exit(f'No "{BIG_SLUG}" agency: run `python -m bench.generate` first.')
    small = Agency.objects.filter(slug=small_slug).first()
    if small is None:
        sys.exit(f'No "{small_slug}" agency: run `python -m bench.generate` first.')
    role = connection.settings_dict["USER"] or "(default)"
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']} as {role}, runs: {runs}"
    )
    casts = {"bench": cast_of(big), "small": cast_of(small)}
    print(f"bench agency: {describe(big, casts['bench'])}")
    print(f"small agency: {describe(small, casts['small'])}\n", flush=True)

    probes = {}  # (agency label, row index) -> Probe; floors first
    for label, agency in (("bench", big), ("small", small)):
        for index, row in enumerate(FLOORS + rows):
            probes[(label, index)] = Probe(agency, row, casts[label], deep)
    for probe in probes.values():
        probe.prepare()
    live = [p for p in probes.values() if p.note is None]
    for _ in range(runs):
        for probe in live:
            probe.time_one()
    for probe in live:
        probe.finish()
    print_table(FLOORS + rows, probes)


class Probe:
    """One row on one agency: its URL, a client signed in as its person, its timings."""

    def __init__(self, agency, row: Row, cast: dict, deep: int):
        self.agency, self.row, self.cast, self.deep = agency, row, cast, deep
        self.note, self.url, self.timings, self.result = None, None, [], {}

    def prepare(self) -> None:
        from django.test import Client
        from django.urls import NoReverseMatch, reverse

        row = self.row
        kwargs = {"agency_slug": self.agency.slug}
        if row.target:
            if self.cast.get(row.target) is None:
                self.note = f"no {row.target}"
                return
            kwargs["pk"] = self.cast[row.target]
        try:
            url = reverse(row.url_name, kwargs=kwargs)
        except NoReverseMatch:
            self.note = "not available"
            return
        membership = self.cast.get(row.who)
        if membership is None:
            self.note = "nobody to sign in as"
            return
        self.http = Client()
        self.http.force_login(membership.user)
        query = year_query(self.agency, row.query) if row.query.startswith("year") else row.query
        self.url = f"{url}?{query}" if query else url
        try:
            if row.deep:
                self.url, self.depth = deep_page(self.http, self.url, self.deep, api=row.is_api)
            for _ in range(2):  # warm-up: imports, template compilation, connection
                response = self.http.get(self.url)
            if response.status_code != 200 and not (
                response.status_code == 204 and row.url_name == FLOOR_PAGE
            ):
                self.note = f"HTTP {response.status_code}"
        except Exception as error:  # a page under construction must not stop the others
            self.note = (
                f"error: {type(error).__name__}: {(str(error).splitlines() or [''])[0][:60]}"
            )

    def time_one(self) -> None:
        if self.note is not None:
            return
        try:
            started = time.perf_counter()
            self.http.get(self.url).getvalue()  # a streamed CSV is read to its end
            self.timings.append((time.perf_counter() - started) * 1000)
        except Exception as error:
            self.note = (
                f"error: {type(error).__name__}: {(str(error).splitlines() or [''])[0][:60]}"
            )

    def finish(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if self.note is not None or not self.timings:
            return
        with CaptureQueriesContext(connection) as queries:
            body = self.http.get(self.url).getvalue()
        timings = sorted(self.timings)
        self.result = {
            "median": statistics.median(timings),
            "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
            "queries": len(queries),
            "kb": len(body) / 1024,
        }
        if self.row.deep:
            self.result["depth"] = self.depth


def deep_page(http, url: str, depth: int, *, api: bool) -> tuple[str, str]:
    """The URL of page `depth` of a list, found from its own "next" links: when the link
    to page 2 carries `page=2`, page numbers exist and the deep page is asked for by
    number (a page past the end: the last, found from the count or by the list itself);
    otherwise (a cursor) the links are followed one by one. Returns the URL and which
    page it is, as far as the list told."""
    next_url = next_link(http.get(url), api=api, base=url)
    if next_url is None:
        return url, "1 (the only page)"
    params = dict(parse_qsl(urlsplit(next_url).query))
    if params.get("page") == "2":
        deep_url = with_query(next_url, page=str(depth))
        response = http.get(deep_url)
        if response.status_code == 200:
            return path_of(deep_url), f"{depth:,}"
        if api and response.status_code == 404:  # past the end: ask for the last page
            first = json.loads(http.get(url).content)
            per_page = len(first.get("results", [])) or 1
            last = max(1, -(-first.get("count", 0) // per_page))
            return path_of(with_query(next_url, page=str(last))), f"{last:,} (the last)"
        raise RuntimeError(f"page {depth} answered {response.status_code}")
    hops = 1
    while hops < depth - 1:
        following = next_link(http.get(next_url), api=api, base=next_url)
        if following is None:
            return path_of(next_url), f"{hops + 1:,} (the last)"
        next_url, hops = following, hops + 1
    return path_of(next_url), f"{depth:,} (by cursor)"


class _NextLink(HTMLParser):
    def __init__(self):
        super().__init__()
        self.href = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.href is None and tag in ("a", "link") and "next" in (attrs.get("rel") or ""):
            self.href = attrs.get("href")


def next_link(response, *, api: bool, base: str) -> str | None:
    if response.status_code != 200:
        raise RuntimeError(f"{base} answered {response.status_code}")
    if api:
        href = json.loads(response.content).get("next")
    else:
        finder = _NextLink()
        finder.feed(response.content.decode())
        href = finder.href
    return urljoin(base, href.replace("&amp;", "&")) if href else None


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def year_query(agency, query: str) -> str:
    from core.periods import last_months, month_end

    months = last_months(agency.time_zone, 12)
    return f"start={months[0]}&end={month_end(months[-1])}" + query[len("year") :]


def cast_of(agency) -> dict:
    """Who signs in, and what they look at: the admin; the assistant holding the most
    active work; a member of the client with the most tasks and of one with the fewest
    (but some); one active task of the biggest client, with its assignee; the invoice with
    the most lines, with a member of its client."""
    from django.db.models import Count, Q

    from accounts.models import Membership
    from billing.models import Charge
    from core.roles import Role
    from core.tenancy import agency_scope
    from tasks.models import ACTIVE_STATUSES, Task

    with agency_scope(agency):
        members = Membership.objects.filter(agency=agency, is_active=True).select_related("user")
        clients_people = members.filter(role=Role.CLIENT).order_by("pk")
        by_client = list(
            Task.objects.filter(agency=agency)
            .values("client")
            .annotate(n=Count("pk"))
            .order_by("-n", "client")
        )
        biggest = by_client[0] if by_client else None
        smallest = by_client[-1] if by_client else None
        busy = (
            members.filter(role=Role.ASSISTANT)
            .annotate(
                active=Count("assigned_tasks", filter=Q(assigned_tasks__status__in=ACTIVE_STATUSES))
            )
            .order_by("-active", "pk")
            .first()
        )
        task = None
        if biggest:
            task = (
                Task.objects.filter(
                    agency=agency,
                    client_id=biggest["client"],
                    status__in=ACTIVE_STATUSES,
                    assignee__isnull=False,
                )
                .order_by("-minutes_logged", "pk")
                .first()
            )
        invoice = (
            Charge.objects.filter(agency=agency, invoice__isnull=False)
            .values("invoice", "invoice__client")
            .annotate(lines=Count("pk"))
            .order_by("-lines", "invoice")
            .first()
        )

        def person_of(client_id):
            return clients_people.filter(client_id=client_id).first() if client_id else None

        return {
            "admin": members.filter(role__in=[Role.ADMIN, Role.OWNER]).order_by("role").first(),
            "busy_assistant": busy,
            "busy_active": busy.active if busy else 0,
            "big_client_person": person_of(biggest and biggest["client"]),
            "biggest_client_tasks": biggest["n"] if biggest else 0,
            "small_client_person": person_of(smallest and smallest["client"]),
            "smallest_client_tasks": smallest["n"] if smallest else 0,
            "task": task.pk if task else None,
            "task_client_person": person_of(task and task.client_id),
            "task_assignee": members.filter(pk=task.assignee_id).first() if task else None,
            "invoice": invoice["invoice"] if invoice else None,
            "invoice_lines": invoice["lines"] if invoice else 0,
            "invoice_client_person": person_of(invoice and invoice["invoice__client"]),
        }


def describe(agency, cast) -> str:
    from core.tenancy import agency_scope
    from tasks.models import Task

    with agency_scope(agency):
        tasks = Task.objects.filter(agency=agency).count()
    return (
        f"/a/{agency.slug}/ with {tasks:,} tasks; the busy assistant holds "
        f"{cast['busy_active']} active tasks; clients' tasks from "
        f"{cast['biggest_client_tasks']:,} down to {cast['smallest_client_tasks']:,}; "
        f"the largest invoice has {cast['invoice_lines']:,} lines"
    )


def print_table(rows, probes) -> None:
    columns = f"{'median':>8} {'p95':>8} {'q':>4} {'KB':>7} {'x floor':>8}"
    header = f"{'page':<22} {'as':<15} {'bench: ' + columns:>46}   {'small: ' + columns:>46}"
    header += f" {'x small':>8}"
    print(header)
    print("-" * len(header))
    floors = {
        label: {
            "page": probes[(label, 0)].result.get("median"),
            "api": probes[(label, 1)].result.get("median"),
        }
        for label in ("bench", "small")
    }
    for index, row in enumerate(rows):
        bench, small = probes[("bench", index)], probes[("small", index)]
        line = f"{row.label:<22} {WHO[row.who]:<15} {cells(bench, floors['bench'])}"
        line += f"   {cells(small, floors['small'])}"
        if bench.result and small.result:
            line += f" {bench.result['median'] / small.result['median']:>8.1f}"
        print(line)
        for label, probe in (("bench", bench), ("small", small)):
            if probe.result.get("depth"):
                print(f"{'':<38}({label}: page {probe.result['depth']})")
    print(
        "\nmilliseconds per request (median, 95th percentile); q: SQL queries of one request;"
        "\nKB: size of one answer; x floor: median over the page floor (API lists: the API"
        "\nfloor); x small: the bench agency's median over the small agency's"
    )


def cells(probe: Probe, floors: dict) -> str:
    if probe.note is not None or not probe.result:
        return f"{probe.note or 'no result':>46}"
    result = probe.result
    floor = floors["api" if probe.row.is_api else "page"]
    ratio = f"{result['median'] / floor:>8.1f}" if floor else f"{'-':>8}"
    return (
        f"{result['median']:>8.1f} {result['p95']:>8.1f} {result['queries']:>4} "
        f"{result['kb']:>7.1f} {ratio}"
    )


if __name__ == "__main__":
    main()
