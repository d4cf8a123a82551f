"""The main pages of each role: the accessibility, layout and title tests all walk the
same list, in one agency with a little of everything (a pool task, a task in hand, work
waiting for approval, an open invoice).

`walk` signs each role in once and resizes that one signed-in page from width to width:
signing in and building the agency cost more than looking at a page, and no check here
depends on a fresh session per width."""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Invoice
from core.roles import Role
from core.tenancy import scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

ROLES = ["staff", "assistant", "client"]
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class Agency:
    slug: str
    emails: dict
    pages: dict  # role -> [(name, path)]


def an_agency() -> Agency:
    agency = AgencyFactory(slug="harbor", name="Harbor Assist", time_zone="America/New_York")
    category = CategoryFactory(agency=agency, name="Travel")
    service = ServiceFactory(
        agency=agency,
        name="Travel booking",
        category=category,
        request_template=[
            {"name": "destination", "label": "Destination", "type": "text", "required": True}
        ],
    )
    client = ClientFactory(agency=agency, name="Cedar Legal", manual="# Cedar\n\nAisle seats.")
    contract = ContractFactory(
        agency=agency, client=client, status="active", name="Travel desk 2026"
    )
    line = LineFactory(agency=agency, contract=contract, service=service)
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    carla = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).user
    maria = AssistantProfileFactory(agency=agency, skills=[category], working_hours=ALWAYS)
    TaskFactory(agency=agency, contract_line=line, title="Flights to the Lisbon conference")
    in_hand = TaskFactory(
        agency=agency,
        contract_line=line,
        title="Hotel for the Boston deposition",
        status="assigned",
        assignee=maria.membership,
    )
    to_approve = TaskFactory(
        agency=agency,
        contract_line=line,
        title="Train to the Albany hearing",
        status="completed",
        assignee=maria.membership,
        completed_at=timezone.now() - dt.timedelta(hours=3),
        completion_summary="Booked the 07:10 train; tickets are in the files.",
    )
    with scopes_disabled():
        Invoice.objects.create(
            agency=agency,
            client=client,
            contract=contract,
            number="HA-0001",
            status="open",
            collection_method="send_invoice",
            currency="USD",
            total=6000,
            amount_due=6000,
            hosted_invoice_url="https://invoice.stripe.test/i/HA-0001",
            due_date=timezone.now() + dt.timedelta(days=14),
        )
    base = f"/a/{agency.slug}/"
    task = f"{base}tasks/{in_hand.pk}/"
    return Agency(
        slug=agency.slug,
        emails={
            "staff": owner.email,
            "assistant": maria.membership.user.email,
            "client": carla.email,
        },
        pages={
            "staff": [
                ("dashboard", base),
                ("task list", f"{base}tasks/"),
                ("task page", task),
                ("clients", f"{base}clients/"),
                ("contracts", f"{base}contracts/"),
                ("invoices", f"{base}billing/invoices/"),
                ("reports", f"{base}reports/"),
            ],
            "assistant": [
                ("queue", f"{base}queue/"),
                ("task page", task),
                ("earnings", f"{base}me/earnings/"),
            ],
            "client": [
                ("dashboard", base),
                ("request form", f"{base}requests/new/"),
                ("task list", f"{base}requests/"),
                ("task page", f"{base}tasks/{to_approve.pk}/"),
                ("invoices", f"{base}our-invoices/"),
            ],
        },
    )


def sign_in(page, agency: Agency, role: str):
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(agency.emails[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"/a/{agency.slug}/")


def walk(
    page,
    agency: Agency,
    *,
    widths: Iterable[int],
    height: int,
    look: Callable[[str, int, str], object],
    after_width: Callable[[str, int], None] | None = None,
) -> dict:
    """Opens every main page of every role at every width, signed in once per role, and
    calls look(role, width, page name) on each page once it answered 200. Returns what
    `look` found, by "<role> at <width> px: <page name>", leaving out pages where it found
    nothing. after_width(role, width), if given, runs after each width's pages."""
    found = {}
    for role in ROLES:
        sign_in(page, agency, role)
        for width in widths:
            page.set_viewport_size({"width": width, "height": height})
            for name, path in agency.pages[role]:
                response = page.goto(path)
                where = f"{role} at {width} px: {name}"
                assert response.status == 200, f"{where} ({path}) answered {response.status}"
                finding = look(role, width, name)
                if finding:
                    found[where] = finding
            if after_width is not None:
                after_width(role, width)
    return found
