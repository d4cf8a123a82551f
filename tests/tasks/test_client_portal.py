"""The client's request portal: the list, the request form, and approve / send back / cancel
on the task page."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tasks import services
from tasks.models import Attachment, Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

NOW = "2026-03-07 15:00Z"  # a Saturday; New York moves its clocks forward the next night
TRAVEL = [
    {"name": "destination", "label": "Destination", "type": "text", "required": True},
    {"name": "seat", "label": "Seat", "type": "choice", "required": False},
]
TRAVEL[1]["choices"] = ["Aisle", "Window"]


@pytest.fixture
def portal(agency, time_machine, settings, tmp_path):
    """A New York client with an active contract for travel (hourly, with a request
    template) and bookkeeping (retainer); a catalogue service they have not contracted;
    a client member; an assistant; and a second client of the same agency."""
    time_machine.move_to(NOW, tick=False)
    settings.MEDIA_ROOT = tmp_path / "media"
    category = CategoryFactory(agency=agency)
    travel = ServiceFactory(
        agency=agency,
        name="Travel arrangements",
        category=category,
        request_template=TRAVEL,
        default_turnaround_hours=24,
    )
    books = ServiceFactory(agency=agency, name="Bookkeeping", category=category)
    unsold = ServiceFactory(agency=agency, name="Legal admin", category=category)
    client = ClientFactory(agency=agency, time_zone="America/New_York", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    travel_line = LineFactory(agency=agency, contract=contract, service=travel)
    books_line = LineFactory(
        agency=agency,
        contract=contract,
        service=books,
        terms__pricing_model="retainer",
        terms__hourly_rate=None,
        terms__minimum_minutes=None,
        terms__retainer_fee=80000,
        terms__included_minutes=600,
        terms__rollover_cap_minutes=120,
        terms__overage_rate=5000,
    )
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    assistant = AssistantProfileFactory(agency=agency, skills=[category], capacity=50).membership
    neighbour = ClientFactory(agency=agency, name="Neighbour Inc")
    neighbour_line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=neighbour, status="active"),
        service=travel,
    )
    return {
        "travel": travel,
        "books": books,
        "unsold": unsold,
        "client": client,
        "travel_line": travel_line,
        "books_line": books_line,
        "person": person,
        "assistant": assistant,
        "neighbour_line": neighbour_line,
        "media": tmp_path / "media",
    }


def url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def stored_files(portal):
    return [p for p in portal["media"].rglob("*") if p.is_file()]


def good_request(portal, **extra):
    return {
        "service": portal["travel"].pk,
        "title": "Book flights to Lisbon",
        "details": "Two adults.",
        "priority": "1",
        "tpl_destination": "Lisbon",
        "tpl_seat": "Aisle",
        "due_date": "2026-03-10",
        "due_time": "09:00",
        "max_budget": "",
        **extra,
    }


# -- who may open what ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["client_task_list", "client_task_create", "client_task_fields", "recurring_list"],
)
def test_client_pages_are_for_client_members_only(agency, portal, member, signed_in, name):
    assert signed_in(portal["person"].user).get(url(agency, name)).status_code == 200
    for role in (Role.ASSISTANT, Role.ADMIN, Role.OWNER):
        assert signed_in(member(role).user).get(url(agency, name)).status_code == 403


def test_staff_and_assistants_cannot_use_the_client_actions(agency, portal, member, signed_in):
    task = TaskFactory(agency=agency, contract_line=portal["travel_line"])
    for role in (Role.ASSISTANT, Role.ADMIN):
        http = signed_in(member(role).user)
        for name in ("task_approve", "task_send_back", "task_cancel_request"):
            assert http.post(url(agency, name, pk=task.pk)).status_code == 403


# -- the list ------------------------------------------------------------------------------


def test_the_list_shows_only_our_own_requests(agency, portal, signed_in):
    TaskFactory(agency=agency, contract_line=portal["travel_line"], title="Ours")
    TaskFactory(agency=agency, contract_line=portal["neighbour_line"], title="Theirs")
    page = signed_in(portal["person"].user).get(url(agency, "client_task_list"))
    assert b"Ours" in page.content and b"Theirs" not in page.content
    # and the neighbour's task page is not ours to open
    with agency_scope(agency):
        theirs = Task.objects.get(title="Theirs")
    response = signed_in(portal["person"].user).get(url(agency, "task_detail", pk=theirs.pk))
    assert response.status_code == 404


def test_the_list_filters_by_where_each_request_stands(agency, portal, signed_in):
    line, me = portal["travel_line"], portal["assistant"]
    now = dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC)
    TaskFactory(agency=agency, contract_line=line, title="Queued one")
    TaskFactory(
        agency=agency, contract_line=line, title="Asked", status="waiting_on_client", assignee=me
    )
    TaskFactory(agency=agency, contract_line=line, title="Finished", status="completed")
    TaskFactory(
        agency=agency, contract_line=line, title="Signed off", status="completed", approved_at=now
    )
    TaskFactory(agency=agency, contract_line=line, title="Dropped", status="cancelled")
    http = signed_in(portal["person"].user)

    def titles(show):
        page = http.get(url(agency, "client_task_list"), {"show": show})
        return set(re.findall(r'/tasks/\d+/">([^<]+)</a>', page.content.decode()))

    assert titles("all") == {"Queued one", "Asked", "Finished", "Signed off", "Dropped"}
    assert titles("open") == {"Queued one", "Asked"}
    assert titles("waiting") == {"Asked"}
    assert titles("approval") == {"Finished"}
    assert titles("done") == {"Signed off"}
    assert titles("cancelled") == {"Dropped"}
    assert titles("nonsense") == titles("all")


def test_a_row_shows_who_when_how_long_and_what_it_costs(agency, portal, signed_in):
    me = portal["assistant"]
    TaskFactory(
        agency=agency,
        contract_line=portal["travel_line"],
        title="Late one",
        status="in_progress",
        assignee=me,
        due_at=dt.datetime(2026, 3, 6, 14, tzinfo=dt.UTC),  # yesterday, 09:00 in New York
        minutes_logged=50,
    )
    TaskFactory(agency=agency, contract_line=portal["books_line"], title="Ledger")
    page = signed_in(portal["person"].user).get(url(agency, "client_task_list")).content.decode()
    late = page.split("Late one")[1].split("</tr>")[0]
    assert me.user.get_full_name() in late
    assert "Fri 6 Mar, 09:00" in late and "overdue" in late  # in the client's zone
    assert "50 min" in late
    assert "$40.00" in late  # 50 min rounded up to 60 at $40/h
    ledger = page.split("Ledger")[1].split("</tr>")[0]
    assert "within retainer" in ledger and "overdue" not in ledger


def test_the_list_paginates_by_fifty(agency, portal, signed_in):
    TaskFactory.create_batch(51, agency=agency, contract_line=portal["travel_line"])
    http = signed_in(portal["person"].user)
    first = http.get(url(agency, "client_task_list"))
    assert first.content.count(b'data-testid="request-row"') == 50
    second = http.get(url(agency, "client_task_list") + first.context["page"].next_url)
    assert second.content.count(b'data-testid="request-row"') == 1


def test_the_list_costs_the_same_queries_for_1_and_200_requests(
    agency, portal, signed_in, count_queries
):
    http = signed_in(portal["person"].user)
    me = portal["assistant"]
    TaskFactory(agency=agency, contract_line=portal["travel_line"], assignee=me, status="assigned")
    http.get(url(agency, "client_task_list"))  # warm the session
    one = count_queries(lambda: http.get(url(agency, "client_task_list")))
    for index in range(199):
        line = portal["travel_line"] if index % 2 else portal["books_line"]
        other = AssistantProfileFactory(agency=agency).membership if index % 40 == 0 else None
        TaskFactory(agency=agency, contract_line=line, assignee=other or me, status="assigned")
    many = count_queries(lambda: http.get(url(agency, "client_task_list")))
    assert one == many


# -- the request form ----------------------------------------------------------------------


def test_the_form_offers_only_contracted_services(agency, portal, signed_in):
    page = signed_in(portal["person"].user).get(url(agency, "client_task_create")).content
    assert b"Travel arrangements" in page and b"Bookkeeping" in page
    assert b"Legal admin" not in page
    # asking for an uncontracted service by id is refused with the reason next to it
    response = signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), good_request(portal, service=portal["unsold"].pk)
    )
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    with agency_scope(agency):
        assert not Task.objects.exists()


def test_the_service_fields_follow_the_chosen_service(agency, portal, signed_in):
    http = signed_in(portal["person"].user)
    form = http.get(url(agency, "client_task_create")).content.decode()
    assert 'hx-get="' + url(agency, "client_task_fields") in form
    assert 'hx-target="#service-fields"' in form
    fields = http.get(
        url(agency, "client_task_fields"), {"service": portal["travel"].pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'name="tpl_destination"' in fields and 'name="tpl_seat"' in fields
    assert "<html" not in fields  # a partial, for htmx to swap in
    fields = http.get(
        url(agency, "client_task_fields"), {"service": portal["books"].pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "tpl_" not in fields and 'name="due_date"' in fields
    fields = http.get(
        url(agency, "client_task_fields"), {"service": portal["unsold"].pk}
    ).content.decode()
    assert "tpl_" not in fields and 'value="' not in fields  # nothing for what is not ours


def test_the_due_time_defaults_to_the_turnaround_on_the_clients_clock(agency, portal, signed_in):
    page = signed_in(portal["person"].user).get(
        url(agency, "client_task_create"), {"service": portal["travel"].pk}
    )
    html = page.content.decode()
    # 15:00 UTC Saturday + 24 h = 15:00 UTC Sunday, 11:00 in New York (summer time since 2:00)
    assert re.search(r'name="due_date"[^>]*value="2026-03-08"', html)
    assert re.search(r'name="due_time"[^>]*value="11:00"', html)
    assert "America/New_York" in html


def test_a_due_time_is_read_on_the_clients_clock(agency, portal, signed_in):
    response = signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), good_request(portal)
    )
    with agency_scope(agency):
        task = Task.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(agency, "task_detail", pk=task.pk)
    assert task.due_at == dt.datetime(2026, 3, 10, 13, tzinfo=dt.UTC)  # 09:00 EDT
    assert task.template_data == {"destination": "Lisbon", "seat": "Aisle"}
    assert task.requested_by == portal["person"].user


def test_a_missing_template_field_is_an_error_beside_it_and_no_task(agency, portal, signed_in):
    response = signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), good_request(portal, tpl_destination="")
    )
    assert response.status_code == 200
    html = response.content.decode()
    destination = html.split('name="tpl_destination"')[1].split("</div>")[0]
    assert "This field is required." in destination
    with agency_scope(agency):
        assert not Task.objects.exists()


def test_a_due_time_in_the_past_is_an_error_beside_it(agency, portal, signed_in):
    response = signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), good_request(portal, due_date="2026-03-01")
    )
    html = response.content.decode()
    assert "already passed" in html.split('name="due_date"')[1].split("</div>")[0]
    with agency_scope(agency):
        assert not Task.objects.exists()


@pytest.mark.parametrize("refused", ["bad-type", "too-large"])
def test_a_refused_file_leaves_no_task_and_no_file(agency, portal, signed_in, settings, refused):
    settings.ATTACHMENT_MAX_BYTES = 1024
    good = SimpleUploadedFile("itinerary.pdf", b"%PDF-1.4 fine", "application/pdf")
    if refused == "bad-type":
        bad = SimpleUploadedFile("setup.exe", b"MZ", "application/octet-stream")
    else:
        bad = SimpleUploadedFile("scan.png", b"x" * 2048, "image/png")
    response = signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), {**good_request(portal), "attachments": [good, bad]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert bad.name in html.split('name="attachments"')[1].split("</div>")[0]
    with agency_scope(agency):
        assert not Task.objects.exists() and not Attachment.objects.exists()
    assert stored_files(portal) == []


def test_a_request_with_two_files_attaches_both_for_the_client(agency, portal, signed_in):
    http = signed_in(portal["person"].user)
    files = [
        SimpleUploadedFile("itinerary.pdf", b"%PDF-1.4 itinerary", "application/pdf"),
        SimpleUploadedFile("passport.jpg", b"\xff\xd8\xff\xe0 passport", "image/jpeg"),
    ]
    response = http.post(
        url(agency, "client_task_create"), {**good_request(portal), "attachments": files}
    )
    assert response.status_code == 302
    with agency_scope(agency):
        task = Task.objects.get()
        attachments = list(task.attachments.order_by("name"))
    assert [a.name for a in attachments] == ["itinerary.pdf", "passport.jpg"]
    assert len(stored_files(portal)) == 2
    for attachment, content in zip(
        attachments, [b"%PDF-1.4 itinerary", b"\xff\xd8\xff\xe0 passport"], strict=True
    ):
        download = http.get(url(agency, "task_file", pk=task.pk, attachment_pk=attachment.pk))
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == content
    page = http.get(response["Location"])
    assert b"itinerary.pdf" in page.content and b"passport.jpg" in page.content


def test_the_budget_is_read_in_the_clients_currency(agency, portal, signed_in):
    signed_in(portal["person"].user).post(
        url(agency, "client_task_create"), good_request(portal, max_budget="120.50")
    )
    with agency_scope(agency):
        task = Task.objects.get()
    assert (task.max_budget, task.currency) == (12050, "USD")


def test_files_are_refused_by_kind_and_size(agency, portal, settings):
    """One check serves the request form (before the task exists) and the upload service."""
    settings.ATTACHMENT_MAX_BYTES = 1024
    task = TaskFactory(agency=agency, contract_line=portal["travel_line"])
    cases = [
        (SimpleUploadedFile("setup.exe", b"MZ"), "attachment_type_refused"),
        (SimpleUploadedFile("noextension", b"x"), "attachment_type_refused"),
        (SimpleUploadedFile("scan.png", b"x" * 2048), "attachment_too_large"),
        (SimpleUploadedFile("notes.txt", b"fine"), None),
    ]
    with agency_scope(agency):
        for upload, code in cases:
            try:
                services.attachment_add(agency=agency, actor=None, task=task, upload=upload)
            except ApplicationError as error:
                assert error.code == code, upload.name
            else:
                assert code is None, upload.name
        assert [a.name for a in task.attachments.all()] == ["notes.txt"]


def test_a_client_without_contracted_services_is_told_so(agency, member, signed_in):
    page = signed_in(member(Role.CLIENT).user).get(url(agency, "client_task_create"))
    assert page.status_code == 200 and b"no services you can request" in page.content


# -- actions on the task page --------------------------------------------------------------


def finished(agency, portal):
    me = portal["assistant"]
    task = TaskFactory(
        agency=agency, contract_line=portal["travel_line"], status="in_progress", assignee=me
    )
    with agency_scope(agency):
        services.task_complete(agency=agency, actor=me.user, membership=me, task=task, summary="Ok")
    return task


def test_approve_through_the_task_page(agency, portal, signed_in):
    task = finished(agency, portal)
    http = signed_in(portal["person"].user)
    page = http.get(url(agency, "task_detail", pk=task.pk)).content.decode()
    assert 'data-testid="approve"' in page and 'data-testid="send-back"' in page
    assert 'data-testid="cancel-request"' not in page
    response = http.post(url(agency, "task_approve", pk=task.pk), follow=True)
    assert response.redirect_chain[-1][0] == url(agency, "task_detail", pk=task.pk)
    assert b"Approved" in response.content
    task.refresh_from_db()
    assert task.approved_at is not None and task.approved_by == portal["person"].user
    # approving twice is a clear message, not a 500
    again = http.post(url(agency, "task_approve", pk=task.pk), follow=True)
    assert again.status_code == 200 and b"Only finished, unapproved work" in again.content


def test_send_back_needs_a_reason(agency, portal, signed_in):
    task = finished(agency, portal)
    http = signed_in(portal["person"].user)
    response = http.post(url(agency, "task_send_back", pk=task.pk), {"reason": " "}, follow=True)
    assert b"Say what still needs doing." in response.content
    task.refresh_from_db()
    assert task.status == "completed"
    http.post(url(agency, "task_send_back", pk=task.pk), {"reason": "Wrong dates"})
    task.refresh_from_db()
    assert task.status == "in_progress"
    with agency_scope(agency):
        assert task.comments.filter(kind="send_back", body="Wrong dates").exists()


def test_cancel_a_request_before_anyone_has_it(agency, portal, signed_in):
    task = TaskFactory(agency=agency, contract_line=portal["travel_line"])
    http = signed_in(portal["person"].user)
    page = http.get(url(agency, "task_detail", pk=task.pk)).content.decode()
    assert 'data-testid="cancel-request"' in page and 'data-testid="approve"' not in page
    http.post(url(agency, "task_cancel_request", pk=task.pk), {"reason": "Plans changed"})
    task.refresh_from_db()
    assert (task.status, task.cancel_reason) == ("cancelled", "Plans changed")


def test_illegal_client_actions_are_messages_not_errors(agency, portal, signed_in):
    me = portal["assistant"]
    busy = TaskFactory(
        agency=agency, contract_line=portal["travel_line"], status="assigned", assignee=me
    )
    http = signed_in(portal["person"].user)
    response = http.post(url(agency, "task_cancel_request", pk=busy.pk), follow=True)
    assert response.status_code == 200 and b"already working on this" in response.content
    response = http.post(url(agency, "task_approve", pk=busy.pk), follow=True)
    assert response.status_code == 200 and b"Only finished, unapproved work" in response.content
    busy.refresh_from_db()
    assert busy.status == "assigned" and busy.approved_at is None
    # another client's task does not exist for us
    theirs = TaskFactory(agency=agency, contract_line=portal["neighbour_line"])
    assert http.post(url(agency, "task_cancel_request", pk=theirs.pk)).status_code == 404


def test_the_panel_says_when_we_are_awaited(agency, portal, signed_in):
    task = TaskFactory(
        agency=agency,
        contract_line=portal["travel_line"],
        status="waiting_on_client",
        assignee=portal["assistant"],
    )
    page = signed_in(portal["person"].user).get(url(agency, "task_detail", pk=task.pk))
    explainer = page.content.decode().split('data-testid="explainer"')[1].split("</p>")[0]
    assert "Waiting on you" in explainer


# -- the dashboard and the nav -------------------------------------------------------------


def test_the_dashboard_counts_open_requests_and_links_to_them(
    agency, portal, signed_in, count_queries
):
    http = signed_in(portal["person"].user)
    TaskFactory(agency=agency, contract_line=portal["travel_line"])
    TaskFactory(agency=agency, contract_line=portal["neighbour_line"])  # not ours
    page = http.get(url(agency, "dashboard")).content.decode()
    assert re.search(r'data-testid="open-count">1 open request<', page)
    assert url(agency, "client_task_list") in page and url(agency, "client_task_create") in page
    assert f'href="{url(agency, "client_task_list")}"' in page.split('class="mainnav"')[1]
    one = count_queries(lambda: http.get(url(agency, "dashboard")))
    TaskFactory.create_batch(30, agency=agency, contract_line=portal["travel_line"])
    many = count_queries(lambda: http.get(url(agency, "dashboard")))
    assert one == many
    assert "31 open requests" in http.get(url(agency, "dashboard")).content.decode()
