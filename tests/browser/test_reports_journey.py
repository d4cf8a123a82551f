"""The agency's numbers in a real browser: the owner opens the dashboard (charts drawn as
inline SVG, nothing fetched from elsewhere), opens the revenue report for April and
downloads its CSV, whose figures are the hand-worked ones."""

import csv
import datetime as dt
import io

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, AgencyFactory
from tests.reports.test_reports_books import build_books

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_and_revenue_csv(page, screenshot, live_server, time_machine):
    real_now = dt.datetime.now(dt.UTC)
    agency = AgencyFactory(slug="ledger", name="Ledger Assist")
    books = build_books(agency, time_machine)
    # The books are dated March and April 2026; the browser runs on the real clock (its
    # session cookie must not look expired), and April stays within the charts' 12 months.
    time_machine.move_to(real_now, tick=True)
    requests_elsewhere = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(live_server.url)
            else requests_elsewhere.append(request.url)
        ),
    )

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(books.owner.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/ledger/")

    expect(page.get_by_test_id("dashboard-figures")).to_be_visible()
    expect(page.get_by_role("img", name="Revenue by month (USD)")).to_be_visible()
    expect(page.get_by_role("img", name="Revenue by month (EUR)")).to_be_visible()
    expect(page.get_by_role("img", name="On-time rate by month")).to_be_visible()
    expect(page.get_by_role("img", name="Assistant utilisation this month")).to_be_visible()
    bars = page.locator("[data-testid=chart-revenue] svg rect")
    assert bars.count() >= 3  # March and April in USD (April billed + unbilled), EUR too
    screenshot("reports-dashboard")

    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Revenue").click()
    page.get_by_label("From").fill("2026-04-01")
    page.get_by_label("To").fill("2026-04-30")
    page.get_by_role("button", name="Show").click()
    table = page.get_by_test_id("table-by_client")
    expect(table).to_contain_text("Acme Dental")
    expect(table).to_contain_text("$100.00")
    expect(table).to_contain_text("€837.50")
    screenshot("reports-revenue")

    with page.expect_download() as download_info:
        page.get_by_test_id("csv-by_client").click()
    download = download_info.value
    assert download.suggested_filename == "revenue-by-client-2026-04-ledger.csv"
    with open(download.path(), encoding="utf-8") as handle:
        lines = list(csv.reader(io.StringIO(handle.read())))
    # Client, billed, unbilled, credited, revenue, tax, with tax, written off, voided, tasks
    acme = ["Acme Dental", "40.00", "60.00", "0.00", "100.00", "0.00", "100.00", "20.00", "0.00"]
    assert [*acme, "3", "USD"] in lines
    euro = ["Total", "0.00", "837.50", "0.00", "837.50", "0.00", "837.50", "0.00", "0.00"]
    assert [*euro, "2", "EUR"] in lines
    assert requests_elsewhere == []
