"""The client's dashboard: what needs their answer, open requests, recent activity and what
they owe, in the same queries whatever the number of rows (reports.client_home)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import services
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(agency):
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, name="Travel booking", category=category)
    client = ClientFactory(agency=agency, name="Cedar Legal", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    LineFactory(agency=agency, contract=contract, service=service)
    carla = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    joao = AssistantProfileFactory(agency=agency, skills=[category], capacity=500).membership
    return {"service": service, "client": client, "carla": carla, "joao": joao}


def fill(agency, world, rows: int, tag: str):
    """`rows` of each: a question waiting, work to approve, an open request, an invoice."""
    carla, joao = world["carla"], world["joao"]
    with agency_scope(agency):
        for n in range(rows):

            def new(title, n=n):
                task = services.task_request(
                    agency=agency,
                    actor=carla.user,
                    client=world["client"],
                    service=world["service"],
                    title=f"{title} {tag}{n}",
                )
                return services.task_take(
                    agency=agency, actor=joao.user, membership=joao, task=task
                )

            asked = new("Asked")
            services.task_start(agency=agency, actor=joao.user, membership=joao, task=asked)
            services.task_ask_client(
                agency=agency,
                actor=joao.user,
                membership=joao,
                task=asked,
                question=f"Aisle or window {tag}{n}?",
            )
            done = new("Done")
            services.task_complete(
                agency=agency, actor=joao.user, membership=joao, task=done, summary="Booked"
            )
            # an internal note: never on the client's activity
            services.comment_add(
                agency=agency,
                actor=joao.user,
                membership=joao,
                task=done,
                body=f"secret note {tag}{n}",
                internal=True,
            )
            new("Open")
    with scopes_disabled():
        for n in range(rows):
            Invoice.objects.create(
                agency=agency,
                client=world["client"],
                collection_method="send_invoice",
                currency="USD",
                status="open",
                number=f"INV-{tag}{n}",
                amount_due=12500,
                amount_paid=2500,
                finalized_at=timezone.now(),
                hosted_invoice_url=f"https://pay.example.test/{tag}{n}",
            )


def dashboard(http, agency):
    return http.get(reverse("dashboard", args=[agency.slug]))


def test_the_dashboard_shows_what_needs_the_client_and_what_they_owe(agency, world, signed_in):
    fill(agency, world, 1, "a")
    response = dashboard(signed_in(world["carla"].user), agency)
    html = response.content.decode()
    home = response.context["home"]
    assert [t.title for t in home.waiting] == ["Asked a0"]
    assert home.waiting[0].question == "Aisle or window a0?"
    assert [t.title for t in home.to_approve] == ["Done a0"]
    assert {t.title for t in home.open_requests} == {"Asked a0", "Open a0"}
    assert home.owed == [("USD", 10000)]
    assert 'data-testid="waiting-row"' in html and "Aisle or window a0?" in html
    assert 'data-testid="approve-row"' in html
    assert "$100.00" in html and 'href="https://pay.example.test/a0"' in html
    # recent activity, newest first, in sentences; the internal note is not part of it
    activity = [(task.title, entry.text) for task, entry in home.activity]
    joao = world["joao"].user.get_full_name()
    assert activity[0] == (
        "Open a0",
        f"{joao} took it from the pool. Moved from Queued to Assigned.",
    )
    assert (
        "Done a0",
        f"{joao} completed it and wrote what was done. Moved from In progress to Completed.",
    ) in activity
    assert all("commented" not in text for _, text in activity)
    assert "secret note" not in html
    for name in ("client_task_list", "our_invoices", "client_task_create"):
        assert reverse(name, args=[agency.slug]) in html
    # what was there stays: the request counts and links
    assert 'data-testid="open-count"' in html


def test_a_new_client_sees_that_nothing_waits(agency, world, signed_in):
    html = dashboard(signed_in(world["carla"].user), agency).content.decode()
    assert 'data-testid="nothing-needed"' in html and 'data-testid="nothing-owed"' in html
    assert "No requests yet." in html


def test_the_dashboard_costs_the_same_queries_at_1_and_at_many_rows(
    agency, world, signed_in, count_queries
):
    http = signed_in(world["carla"].user)
    fill(agency, world, 1, "a")
    dashboard(http, agency)
    one = count_queries(lambda: dashboard(http, agency))
    fill(agency, world, 12, "b")
    many = count_queries(lambda: dashboard(http, agency))
    home = dashboard(http, agency).context["home"]
    assert len(home.waiting) == 5 and len(home.invoices) == 5 and len(home.activity) == 5
    assert home.owed == [("USD", 13 * 10000)]
    assert many == one
