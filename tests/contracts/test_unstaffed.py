"""Work nobody can take: a service whose skill no active assistant has is flagged on the
catalogue, its page and the contract lines that sell it, and its waiting tasks reach the
staff dashboard at once."""

import pytest
from django.urls import reverse

from core.roles import Role
from core.tenancy import agency_scope
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.tasks.factories import TaskFactory

SECTION = "Waiting for an assistant nobody has the skill for"


@pytest.fixture
def shop(agency, member):
    staffed = CategoryFactory(agency=agency, name="Bookkeeping")
    orphan = CategoryFactory(agency=agency, name="Legal admin")
    AssistantProfileFactory(agency=agency, skills=[staffed])
    contract = ContractFactory(agency=agency, status="active")
    books = ServiceFactory(agency=agency, name="Books", category=staffed)
    legal = ServiceFactory(agency=agency, name="Court filings", category=orphan)
    return {
        "admin": member(Role.ADMIN).user,
        "staffed": staffed,
        "orphan": orphan,
        "contract": contract,
        "books": books,
        "legal": legal,
        "books_line": LineFactory(agency=agency, contract=contract, service=books),
        "legal_line": LineFactory(agency=agency, contract=contract, service=legal),
    }


def service_rows(html: str) -> dict[str, str]:
    body = html.split('data-testid="services"')[1].split("</table>")[0]
    return {row.split("</a>")[0].rsplit(">", 1)[-1]: row for row in body.split("<tr>")[2:]}


def test_the_catalogue_flags_a_service_nobody_active_can_do(agency, shop, signed_in):
    http = signed_in(shop["admin"])
    rows = service_rows(http.get(reverse("service_list", args=[agency.slug])).content.decode())
    assert "service-unstaffed" in rows["Court filings"]
    assert "service-unstaffed" not in rows["Books"]

    legal = reverse("service_update", args=[agency.slug, shop["legal"].pk])
    books = reverse("service_update", args=[agency.slug, shop["books"].pk])
    assert b"No active assistant has the Legal admin skill" in http.get(legal).content
    assert b"service-unstaffed" not in http.get(books).content


@pytest.mark.parametrize("inactive", ["profile", "membership"])
def test_an_inactive_assistants_skill_does_not_count(agency, shop, signed_in, inactive):
    profile = AssistantProfileFactory(agency=agency, skills=[shop["orphan"]])
    with agency_scope(agency):
        target = profile if inactive == "profile" else profile.membership
        target.is_active = False
        target.save()
    html = signed_in(shop["admin"]).get(reverse("service_list", args=[agency.slug]))
    assert "service-unstaffed" in service_rows(html.content.decode())["Court filings"]


def test_the_contract_page_flags_the_line_nobody_can_take(agency, shop, signed_in):
    http = signed_in(shop["admin"])
    url = reverse("contract_detail", args=[agency.slug, shop["contract"].pk])
    html = http.get(url).content.decode()
    rows = html.split('data-testid="lines"')[1].split("<tr")
    legal = next(row for row in rows if "Court filings" in row)
    books = next(row for row in rows if ">Books<" in row)
    assert "line-unstaffed" in legal and "Legal admin skill" in legal
    assert "line-unstaffed" not in books


def test_dedicated_assistants_decide_who_can_take_a_contracts_work(agency, shop, signed_in):
    http = signed_in(shop["admin"])
    url = reverse("contract_detail", args=[agency.slug, shop["contract"].pk])
    # An active dedicated assistant takes every line's work, whatever their skills ...
    dedicated = AssistantProfileFactory(agency=agency, skills=[])
    with agency_scope(agency):
        shop["contract"].dedicated.create(agency=agency, membership=dedicated.membership)
    assert "line-unstaffed" not in http.get(url).content.decode()
    # ... and only they do: when they stop, skilled assistants still may not.
    with agency_scope(agency):
        dedicated.is_active = False
        dedicated.save()
    html = http.get(url).content.decode()
    assert html.count('data-testid="line-unstaffed"') == 2
    assert "none of the dedicated assistants is active" in html


def test_the_dashboard_lists_tasks_nobody_can_take(agency, shop, signed_in, count_queries):
    http = signed_in(shop["admin"])
    url = reverse("dashboard", args=[agency.slug])
    assert SECTION not in http.get(url).content.decode()

    TaskFactory(agency=agency, contract_line=shop["books_line"], title="Reconcile March")
    stuck = TaskFactory(agency=agency, contract_line=shop["legal_line"], title="File the motion")
    taken = TaskFactory(
        agency=agency,
        contract_line=shop["legal_line"],
        title="Already assigned",
        status="assigned",
        assignee=AssistantProfileFactory(agency=agency).membership,
    )
    html = http.get(url).content.decode()
    section = html.split('data-testid="waiting-for-skill"')[1].split("</section>")[0]
    assert SECTION in html
    assert reverse("task_detail", args=[agency.slug, stuck.pk]) in section
    assert "File the motion" in section and "Legal admin" in section
    assert "Reconcile March" not in section and taken.title not in section

    few = count_queries(lambda: http.get(url))
    for n in range(15):
        TaskFactory(agency=agency, contract_line=shop["legal_line"], title=f"More {n}")
    more = http.get(url).content.decode()
    assert "of 16" in more
    assert count_queries(lambda: http.get(url)) == few

    # once someone has the skill, nothing is waiting for it
    AssistantProfileFactory(agency=agency, skills=[shop["orphan"]])
    assert SECTION not in http.get(url).content.decode()


def test_the_catalogue_costs_the_same_queries_for_1_and_many_services(
    agency, shop, signed_in, count_queries
):
    http = signed_in(shop["admin"])
    url = reverse("service_list", args=[agency.slug])
    few = count_queries(lambda: http.get(url))
    for _ in range(10):
        ServiceFactory(agency=agency, category=CategoryFactory(agency=agency))
    assert count_queries(lambda: http.get(url)) == few


def test_the_contract_page_costs_the_same_queries_for_1_and_many_lines(
    agency, shop, signed_in, count_queries
):
    http = signed_in(shop["admin"])
    url = reverse("contract_detail", args=[agency.slug, shop["contract"].pk])
    few = count_queries(lambda: http.get(url))
    for _ in range(8):
        LineFactory(agency=agency, contract=shop["contract"])
    assert count_queries(lambda: http.get(url)) == few
