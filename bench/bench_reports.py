"""Time the admin dashboard, every report (page and CSV), the earnings pages and the
client's account page on the generated data, as ratios to the floor.

    .venv/bin/python -m bench.bench_reports [--runs 20] [--small bench-small-01]

Same method and table as bench.bench_pages (one process, Django's test client signed in
with force_login, `DEBUG=false`, the floors timed in the same loop, each row on "bench" and
on a small agency). Reports run for this month (their default) and, where named, for the
last twelve months. Run `python -m bench.generate` first: it writes the charges and
invoices the reports count.
"""

import argparse

from bench.bench_pages import Row, run_benchmark
from bench.generate import SMALL_PREFIX

ROWS = [
    Row("dashboard", "dashboard", "admin"),
    Row("revenue", "report_revenue", "admin"),
    Row("revenue, 12 mo.", "report_revenue", "admin", "year"),
    Row("revenue CSV, 12 mo.", "report_revenue", "admin", "year&format=csv"),
    Row("hours", "report_hours", "admin"),
    Row("hours, 12 mo.", "report_hours", "admin", "year"),
    Row("hours CSV, 12 mo.", "report_hours", "admin", "year&format=csv"),
    Row("on-time", "report_on_time", "admin"),
    Row("on-time, 12 mo.", "report_on_time", "admin", "year"),
    Row("on-time CSV, 12 mo.", "report_on_time", "admin", "year&format=csv"),
    Row("contract usage", "report_usage", "admin"),
    Row("usage, 12 mo.", "report_usage", "admin", "year"),
    Row("usage CSV, 12 mo.", "report_usage", "admin", "year&format=csv"),
    Row("margin", "report_margin", "admin"),
    Row("margin, 12 mo.", "report_margin", "admin", "year"),
    Row("margin CSV, 12 mo.", "report_margin", "admin", "year&format=csv"),
    Row("earnings overview", "earnings_overview", "admin"),
    Row("API earnings overview", "api:earnings-overview", "admin"),
    Row("my earnings", "my_earnings", "busy_assistant"),
    Row("statement CSV", "my_earnings_statement", "busy_assistant", "format=csv"),
    Row("our account", "our_account", "big_client_person"),
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_reports", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--small", default=f"{SMALL_PREFIX}01", help="the small agency's slug")
    args = parser.parse_args(argv)
    run_benchmark(ROWS, runs=args.runs, small_slug=args.small)


if __name__ == "__main__":
    main()
