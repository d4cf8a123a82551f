"""The tasks API: who sees what, requests, every move, conversation, files and time."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks.models import Attachment, Comment, Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import (
    CategoryFactory,
    ContractFactory,
    LineFactory,
    ServiceFactory,
    TermsFactory,
)
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory


@pytest.fixture
def s(agency, member):
    """Two clients with active contracts for one travel service (hourly, 40.00/h, 30 min
    minimum), a member of each, an assistant skilled in travel, and an admin."""
    travel = CategoryFactory(agency=agency, name="Travel")
    service = ServiceFactory(
        agency=agency,
        category=travel,
        request_template=[
            {"name": "destination", "label": "Destination", "type": "text", "required": True}
        ],
    )
    client = ClientFactory(agency=agency, time_zone="America/New_York")
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=client, status="active"),
        service=service,
    )
    rival = ClientFactory(agency=agency)
    rival_line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=rival, status="active"),
        service=service,
    )
    return {
        "category": travel,
        "service": service,
        "client": client,
        "line": line,
        "rival_line": rival_line,
        "person": MembershipFactory(agency=agency, role=Role.CLIENT, client=client),
        "rival_person": MembershipFactory(agency=agency, role=Role.CLIENT, client=rival),
        "assistant": AssistantProfileFactory(agency=agency, skills=[travel], capacity=3).membership,
        "admin": member(Role.ADMIN),
    }


def url(name, agency, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def error_code(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message", "code", "extra"}
    return body["code"]


# -- who sees what --------------------------------------------------------------------------


def test_each_role_lists_only_what_it_may_see(agency, s, api, member):
    mine = TaskFactory(agency=agency, contract_line=s["line"])
    rivals = TaskFactory(agency=agency, contract_line=s["rival_line"])
    held = TaskFactory(
        agency=agency, contract_line=s["line"], status="assigned", assignee=s["assistant"]
    )
    colleague = AssistantProfileFactory(agency=agency, skills=[s["category"]]).membership
    held_by_colleague = TaskFactory(
        agency=agency, contract_line=s["rival_line"], status="assigned", assignee=colleague
    )
    unskilled = TaskFactory(agency=agency)  # another category: nobody's pool here
    everything = {mine.pk, rivals.pk, held.pk, held_by_colleague.pk, unskilled.pk}

    assert ids(api(s["admin"].user).get(url("task-list", agency))) == everything
    assert ids(api(member(Role.OWNER).user).get(url("task-list", agency))) == everything
    assert ids(api(s["person"].user).get(url("task-list", agency))) == {mine.pk, held.pk}
    assert ids(api(s["rival_person"].user).get(url("task-list", agency))) == {
        rivals.pk,
        held_by_colleague.pk,
    }
    # own work plus the pool (queued work of their skills), never a colleague's
    assert ids(api(s["assistant"].user).get(url("task-list", agency))) == {
        mine.pk,
        rivals.pk,
        held.pk,
    }


def test_a_task_opens_only_for_those_who_may_see_it(agency, other_agency, s, api):
    rivals = TaskFactory(agency=agency, contract_line=s["rival_line"])
    unskilled = TaskFactory(agency=agency)
    foreign = TaskFactory(agency=other_agency)
    person, assistant = api(s["person"].user), api(s["assistant"].user)

    assert person.get(url("task-detail", agency, pk=rivals.pk)).status_code == 404
    assert assistant.get(url("task-detail", agency, pk=unskilled.pk)).status_code == 404
    assert assistant.get(url("task-detail", agency, pk=rivals.pk)).status_code == 200
    for http in (person, assistant, api(s["admin"].user)):
        response = http.get(url("task-detail", agency, pk=foreign.pk))
        assert error_code(response, 404) == "not_found"
        # moves and sub-resources of another agency's task are 404 too
        assert http.post(url("task-cancel", agency, pk=foreign.pk)).status_code in (403, 404)
        assert http.get(url("task-comments", agency, pk=foreign.pk)).status_code == 404
        assert http.get(url("task-files", agency, pk=foreign.pk)).status_code == 404
        # an id past the database's range is a plain 404 too, not a crash in the driver
        assert http.get(url("task-detail", agency, pk=2**70)).status_code == 404
        huge_file = url("task-file-download", agency, pk=rivals.pk, file_pk=2**70)
        assert http.get(huge_file).status_code == 404
    person_moves = [("task-approve", {}), ("task-answer", {"answer": "x"})]
    for name, body in person_moves:
        assert person.post(url(name, agency, pk=rivals.pk), body).status_code == 404


def test_the_estimate_is_for_clients_and_staff_never_assistants(agency, s, api, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    hourly = TaskFactory(
        agency=agency,
        contract_line=s["line"],
        status="in_progress",
        assignee=s["assistant"],
        minutes_logged=50,
    )
    retainer_line = LineFactory(
        agency=agency,
        contract=s["line"].contract,
        service=ServiceFactory(agency=agency),
        terms=None,
    )
    TermsFactory(
        agency=agency,
        line=retainer_line,
        pricing_model="retainer",
        retainer_fee=100000,
        included_minutes=600,
        rollover_cap_minutes=120,
        overage_rate=5000,
        rounding_increment_minutes=15,
    )
    retainer = TaskFactory(
        agency=agency, contract_line=retainer_line, status="assigned", assignee=s["assistant"]
    )
    for user in (s["person"].user, s["admin"].user):
        rows = {r["id"]: r for r in api(user).get(url("task-list", agency)).json()["results"]}
        assert rows[hourly.pk]["estimate"] == 4000  # 50 min -> 60 billable at 40.00/h
        assert rows[retainer.pk]["estimate"] is None
        detail = api(user).get(url("task-detail", agency, pk=hourly.pk)).json()
        assert detail["estimate"] == 4000 and detail["currency"] == hourly.currency
    for row in api(s["assistant"].user).get(url("task-list", agency)).json()["results"]:
        assert "estimate" not in row
    detail = api(s["assistant"].user).get(url("task-detail", agency, pk=hourly.pk)).json()
    assert "estimate" not in detail and detail["minutes_logged"] == 50


def test_the_list_filters_and_orders_by_due_time(agency, s, api):
    now = dt.datetime.now(dt.UTC)
    later = TaskFactory(agency=agency, contract_line=s["line"], due_at=now + dt.timedelta(days=3))
    sooner = TaskFactory(agency=agency, contract_line=s["line"], due_at=now + dt.timedelta(days=1))
    held = TaskFactory(
        agency=agency,
        contract_line=s["rival_line"],
        status="in_progress",
        assignee=s["assistant"],
        due_at=now + dt.timedelta(days=2),
    )
    done = TaskFactory(agency=agency, contract_line=s["line"], status="cancelled")
    other_service = TaskFactory(agency=agency, due_at=now + dt.timedelta(days=5))
    admin = api(s["admin"].user)

    def listed(**query):
        response = admin.get(url("task-list", agency), query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert listed(status="open") == [sooner.pk, held.pk, later.pk, other_service.pk]
    assert listed(status="cancelled") == [done.pk]
    assert listed(status="queued", ordering="-due_at")[-2:] == [later.pk, sooner.pk]
    assert set(listed(client=s["client"].pk)) == {later.pk, sooner.pk, done.pk}
    assert listed(assignee=s["assistant"].pk) == [held.pk]
    assert set(listed(service=s["service"].pk)) == {later.pk, sooner.pk, held.pk, done.pk}
    for bad in ({"status": "lost"}, {"client": "x"}, {"ordering": "title"}, {"service": 2**70}):
        response = admin.get(url("task-list", agency), bad)
        assert error_code(response) == "invalid"
        assert set(response.json()["extra"]["fields"]) == set(bad)


# -- requests ----------------------------------------------------------------------------------


def test_a_client_requests_work_with_a_due_time_in_their_zone(agency, s, api):
    response = api(s["person"].user).post(
        url("task-list", agency),
        {
            "service": s["service"].pk,
            "title": "Book flights to Lisbon",
            "details": "Aisle seats",
            "due_at": "2099-05-01T17:00:00",  # no offset: New York time
            "priority": 2,
            "max_budget": 120000,
            "template_data": {"destination": "Lisbon"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["due_at"] == "2099-05-01T21:00:00Z"
    assert body["status"] == "queued" and body["contract_line"] == s["line"].pk
    assert body["template_data"] == {"destination": "Lisbon"}
    assert body["estimate"] == 2000  # nothing logged yet: the 30-minute minimum
    with agency_scope(agency):
        task = Task.objects.get(pk=body["id"])
        assert task.requested_by == s["person"].user and task.client == s["client"]
        assert AuditEvent.objects.filter(action="task.requested", target_id=str(task.pk)).exists()


def _foreign_service(other_agency):
    return ServiceFactory(agency=other_agency).pk


@pytest.mark.parametrize(
    "change, code",
    [
        ({"service": "foreign"}, "task_service_not_contracted"),
        ({"service": "uncontracted"}, "task_service_not_contracted"),
        ({"service": 999999}, "task_service_not_contracted"),
        ({"service": 2**70}, "invalid"),
        ({"service": "abc"}, "invalid"),
        ({"title": ""}, "task_title_required"),
        ({"title": None}, "invalid"),
        ({"title": "   "}, "task_title_required"),
        ({"due_at": "2001-01-01T00:00:00Z"}, "task_due_in_past"),
        ({"due_at": "next week"}, "invalid"),
        ({"priority": 9}, "invalid"),
        ({"max_budget": -1}, "task_budget_invalid"),
        ({"max_budget": 2**40}, "invalid"),
        ({"template_data": {}}, "task_template_invalid"),
        ({"template_data": {"destination": "Rome", "seat": "A"}}, "task_template_invalid"),
        ({"template_data": "Rome"}, "invalid"),
    ],
)
def test_a_bad_request_is_a_400_with_a_code_and_no_task(agency, other_agency, s, api, change, code):
    body = {"service": s["service"].pk, "title": "Book", "template_data": {"destination": "X"}}
    body.update(change)
    if body["service"] == "foreign":
        body["service"] = _foreign_service(other_agency)
    elif body["service"] == "uncontracted":
        body["service"] = ServiceFactory(agency=agency).pk
    response = api(s["person"].user).post(url("task-list", agency), body, format="json")
    assert error_code(response) == code
    with agency_scope(agency):
        assert not Task.objects.exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.ASSISTANT])
def test_only_clients_request_work(agency, s, api, member, role):
    body = {"service": s["service"].pk, "title": "Book", "template_data": {"destination": "X"}}
    response = api(member(role).user).post(url("task-list", agency), body, format="json")
    assert error_code(response, 403) == "permission_denied"


# -- the moves ---------------------------------------------------------------------------------


def test_the_whole_life_through_the_api(agency, s, api):
    task = TaskFactory(agency=agency, contract_line=s["line"])
    person, me = api(s["person"].user), api(s["assistant"].user)

    response = me.post(url("task-take-next", agency))
    assert response.status_code == 201 and response.json()["id"] == task.pk
    assert response.json()["status"] == "assigned"
    assert response.json()["assignee"] == s["assistant"].pk
    assert me.post(url("task-take-next", agency)).status_code == 204  # the pool is empty

    def move(http, name, body=None, status=200):
        response = http.post(url(name, agency, pk=task.pk), body or {}, format="json")
        assert response.status_code == status, response.content
        return response.json()

    assert move(me, "task-start")["status"] == "in_progress"
    assert move(me, "task-ask", {"question": "Aisle or window?"})["status"] == "waiting_on_client"
    assert move(person, "task-answer", {"answer": "Aisle"})["status"] == "in_progress"
    done = move(me, "task-complete", {"summary": "Booked TAP 201"})
    assert done["status"] == "completed" and done["completion_summary"] == "Booked TAP 201"
    assert move(person, "task-send-back", {"reason": "Wrong day"})["status"] == "in_progress"
    move(me, "task-complete", {"summary": "Rebooked"})
    approved = move(person, "task-approve")
    assert approved["approved_at"] is not None

    assert error_code(person.post(url("task-approve", agency, pk=task.pk))) == (
        "task_not_awaiting_approval"
    )
    with agency_scope(agency):
        kinds = list(Comment.objects.filter(task=task).values_list("kind", flat=True))
        actions = set(
            AuditEvent.objects.filter(target_id=str(task.pk)).values_list("action", flat=True)
        )
    assert kinds == ["question", "answer", "send_back"]
    assert {"task.taken", "task.started", "task.completed", "task.approved"} <= actions


def test_illegal_moves_are_400s_with_the_services_code(agency, s, api, member):
    queued = TaskFactory(agency=agency, contract_line=s["line"])
    held = TaskFactory(
        agency=agency, contract_line=s["line"], status="assigned", assignee=s["assistant"]
    )
    colleague = AssistantProfileFactory(agency=agency, skills=[s["category"]]).membership
    person, me, admin = api(s["person"].user), api(s["assistant"].user), api(s["admin"].user)
    they = api(colleague.user)

    def code(http, name, task, body=None):
        return error_code(http.post(url(name, agency, pk=task.pk), body or {}, format="json"))

    assert code(me, "task-start", queued) == "task_not_yours"  # in my pool, not mine
    assert code(they, "task-start", queued) == "task_not_yours"
    assert code(me, "task-ask", held, {"question": "  "}) == "task_question_required"
    assert code(me, "task-ask", held) == "task_question_required"
    assert code(person, "task-answer", held, {"answer": "Yes"}) == "task_not_waiting"
    assert code(me, "task-complete", held, {"summary": ""}) == "task_summary_required"
    assert code(person, "task-approve", held) == "task_not_awaiting_approval"
    assert code(person, "task-send-back", held, {"reason": "no"}) == "task_not_awaiting_approval"
    assert code(person, "task-send-back", held) == "task_reason_required"
    assert code(me, "task-release", queued) == "task_not_yours"
    assert code(person, "task-cancel", held) == "task_cancel_too_late"
    assert code(admin, "task-assign", queued, {"assignee": s["person"].pk}) == (
        "task_assignee_invalid"
    )
    assert code(admin, "task-assign", queued, {"assignee": 2**70}) == "invalid"
    assert code(admin, "task-assign", queued) == "invalid"  # nobody named
    # roles a move does not allow are refused before the service runs
    for http, name in [(person, "task-start"), (me, "task-approve"), (admin, "task-complete")]:
        assert error_code(http.post(url(name, agency, pk=held.pk)), 403) == "permission_denied"
    assert error_code(me.post(url("task-cancel", agency, pk=held.pk)), 403) == "permission_denied"
    with agency_scope(agency):
        assert Task.objects.get(pk=held.pk).status == "assigned"
        assert Task.objects.get(pk=queued.pk).status == "queued"


def test_assign_release_and_cancel(agency, other_agency, s, api):
    task = TaskFactory(agency=agency, contract_line=s["line"])
    admin, me, person = api(s["admin"].user), api(s["assistant"].user), api(s["person"].user)
    foreign = MembershipFactory(agency=other_agency, role=Role.ASSISTANT)
    response = admin.post(
        url("task-assign", agency, pk=task.pk), {"assignee": foreign.pk}, format="json"
    )
    assert error_code(response) == "invalid"

    response = admin.post(
        url("task-assign", agency, pk=task.pk),
        {"assignee": s["assistant"].pk, "note": "Client prefers morning flights"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["assignee"] == s["assistant"].pk
    response = me.post(url("task-release", agency, pk=task.pk), {"note": "Away"}, format="json")
    assert response.json()["status"] == "queued" and response.json()["assignee"] is None

    # handover notes are internal: the client's conversation has none
    client_comments = person.get(url("task-comments", agency, pk=task.pk)).json()["results"]
    staff_comments = admin.get(url("task-comments", agency, pk=task.pk)).json()["results"]
    assert client_comments == []
    assert [c["kind"] for c in staff_comments] == ["handover", "handover"]

    response = person.post(url("task-cancel", agency, pk=task.pk), {"reason": "Not needed"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    response = admin.post(url("task-cancel", agency, pk=task.pk))
    assert error_code(response) == "task_transition_invalid"


def test_staff_cancel_work_in_hand(agency, s, api):
    task = TaskFactory(
        agency=agency, contract_line=s["line"], status="in_progress", assignee=s["assistant"]
    )
    response = api(s["admin"].user).post(url("task-cancel", agency, pk=task.pk))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_take_next_refuses_past_capacity_and_non_assistants(agency, s, api, member):
    for _ in range(4):
        TaskFactory(agency=agency, contract_line=s["line"])
    me = api(s["assistant"].user)
    for _ in range(3):  # capacity 3
        assert me.post(url("task-take-next", agency)).status_code == 201
    assert error_code(me.post(url("task-take-next", agency))) == "task_capacity_reached"
    no_profile = api(member(Role.ASSISTANT).user)
    assert error_code(no_profile.post(url("task-take-next", agency))) == "task_not_an_assistant"
    response = api(s["person"].user).post(url("task-take-next", agency))
    assert error_code(response, 403) == "permission_denied"


# -- conversation --------------------------------------------------------------------------------


def test_comments_and_internal_notes(agency, s, api):
    task = TaskFactory(agency=agency, contract_line=s["line"])
    person, admin = api(s["person"].user), api(s["admin"].user)
    endpoint = url("task-comments", agency, pk=task.pk)

    response = admin.post(endpoint, {"body": "Check the manual", "internal": True}, format="json")
    assert response.status_code == 201 and response.json()["internal"] is True
    response = person.post(endpoint, {"body": "Thanks!", "internal": True}, format="json")
    assert response.status_code == 201 and response.json()["internal"] is False
    assert response.json()["author_name"] == str(s["person"].user)
    assert error_code(person.post(endpoint, {"body": "  "}, format="json")) == "comment_empty"

    assert [c["body"] for c in person.get(endpoint).json()["results"]] == ["Thanks!"]
    assert [c["body"] for c in admin.get(endpoint).json()["results"]] == [
        "Check the manual",
        "Thanks!",
    ]
    rival = api(s["rival_person"].user)
    assert rival.get(endpoint).status_code == 404
    assert rival.post(endpoint, {"body": "Hi"}).status_code == 404


def test_a_clients_comment_on_a_waiting_task_is_their_answer(agency, s, api):
    task = TaskFactory(
        agency=agency, contract_line=s["line"], status="waiting_on_client", assignee=s["assistant"]
    )
    response = api(s["person"].user).post(
        url("task-comments", agency, pk=task.pk), {"body": "Window"}, format="json"
    )
    assert response.status_code == 201 and response.json()["kind"] == "answer"
    with agency_scope(agency):
        assert Task.objects.get(pk=task.pk).status == "in_progress"


# -- files -------------------------------------------------------------------------------------


def test_files_upload_list_and_download(agency, s, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    task = TaskFactory(agency=agency, contract_line=s["line"])
    person, me = api(s["person"].user), api(s["assistant"].user)
    endpoint = url("task-files", agency, pk=task.pk)

    upload = SimpleUploadedFile("itinerary.pdf", b"%PDF-1.4 flights", "application/pdf")
    response = person.post(endpoint, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    stored = response.json()
    assert (stored["name"], stored["size"], stored["content_type"]) == (
        "itinerary.pdf",
        16,
        "application/pdf",
    )
    listed = me.get(endpoint).json()["results"]
    assert [f["id"] for f in listed] == [stored["id"]]

    download = me.get(listed[0]["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 flights"
    assert 'filename="itinerary.pdf"' in download["Content-Disposition"]

    rival = api(s["rival_person"].user)
    assert rival.get(listed[0]["download"]).status_code == 404
    other_task = TaskFactory(agency=agency, contract_line=s["line"])
    wrong_task = url("task-file-download", agency, pk=other_task.pk, file_pk=stored["id"])
    assert person.get(wrong_task).status_code == 404


def test_a_refused_file_type_and_a_missing_file(agency, s, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    task = TaskFactory(agency=agency, contract_line=s["line"])
    person = api(s["person"].user)
    endpoint = url("task-files", agency, pk=task.pk)
    upload = SimpleUploadedFile("setup.exe", b"MZ", "application/octet-stream")
    response = person.post(endpoint, {"file": upload}, format="multipart")
    assert error_code(response) == "attachment_type_refused"
    assert response.json()["extra"] == {"field": "file"}
    assert error_code(person.post(endpoint, {}, format="multipart")) == "invalid"
    with agency_scope(agency):
        assert not Attachment.objects.exists()
    assert list(tmp_path.rglob("*.*")) == []


# -- time ----------------------------------------------------------------------------------------


def test_the_timer_and_time_entries(agency, s, api, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    task = TaskFactory(
        agency=agency, contract_line=s["line"], status="assigned", assignee=s["assistant"]
    )
    me = api(s["assistant"].user)
    assert me.get(url("timer", agency)).json() == {"entry": None}

    response = me.post(url("timer-start", agency), {"task": task.pk}, format="json")
    assert response.status_code == 201 and response.json()["ended_at"] is None
    running = me.get(url("timer", agency)).json()["entry"]
    assert running["task"] == task.pk and running["id"] == response.json()["id"]
    time_machine.shift(dt.timedelta(minutes=20, seconds=5))
    stopped = me.post(url("timer-stop", agency)).json()["entry"]
    assert stopped["minutes"] == 21 and stopped["ended_at"] is not None
    assert me.post(url("timer-stop", agency)).json() == {"entry": None}  # nothing runs now

    entries = url("task-time-entries", agency, pk=task.pk)
    response = me.post(entries, {"minutes": 45, "note": "Compared fares"}, format="json")
    assert response.status_code == 201 and response.json()["manual"] is True
    assert error_code(me.post(entries, {"minutes": 0}, format="json")) == (
        "time_entry_out_of_range"
    )
    assert error_code(me.post(entries, {"minutes": "x"}, format="json")) == "invalid"
    listed = api(s["admin"].user).get(entries).json()["results"]
    assert [e["minutes"] for e in listed] == [45, 21]  # the manual 45 minutes began earlier
    detail = me.get(url("task-detail", agency, pk=task.pk)).json()
    assert detail["minutes_logged"] == 66 and detail["status"] == "in_progress"

    person = api(s["person"].user)
    assert error_code(person.get(entries), 403) == "permission_denied"
    assert error_code(api(s["admin"].user).post(entries, {"minutes": 5}), 403) == (
        "permission_denied"
    )


def test_the_timer_refuses_what_is_not_the_callers(agency, s, api):
    queued = TaskFactory(agency=agency, contract_line=s["line"])
    unskilled = TaskFactory(agency=agency, status="assigned", assignee=s["assistant"])
    colleague = AssistantProfileFactory(agency=agency, skills=[s["category"]]).membership
    theirs = TaskFactory(
        agency=agency, contract_line=s["line"], status="assigned", assignee=colleague
    )
    me = api(s["assistant"].user)

    def start(task_id):
        return error_code(me.post(url("timer-start", agency), {"task": task_id}, format="json"))

    assert start(queued.pk) == "task_not_yours"
    assert start(theirs.pk) == "task_unknown"  # not even visible
    assert start(2**70) == "invalid"
    assert me.post(url("timer-start", agency), {"task": unskilled.pk}).status_code == 201
    entries = url("task-time-entries", agency, pk=queued.pk)
    assert error_code(me.post(entries, {"minutes": 5})) == "task_not_yours"
    with agency_scope(agency):
        assert TimeEntry.objects.count() == 1


# -- queries do not grow with rows ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "person", "assistant"])
def test_the_task_list_costs_the_same_queries_for_1_and_200_tasks(
    agency, s, api, count_queries, role
):
    http = api(s[role].user)
    endpoint = url("task-list", agency) + "?page_size=200"

    def make(n):
        for i in range(n):
            TaskFactory(
                agency=agency,
                contract_line=s["line"],
                status="assigned" if i % 2 else "queued",
                assignee=s["assistant"] if i % 2 else None,
            )

    make(1)
    few = count_queries(lambda: http.get(endpoint))
    make(199)
    response = http.get(endpoint)
    assert len(response.json()["results"]) == 200
    many = count_queries(lambda: http.get(endpoint))
    assert few == many


def test_the_comment_list_costs_the_same_queries_for_1_and_200_comments(
    agency, s, api, count_queries
):
    task = TaskFactory(agency=agency, contract_line=s["line"])
    authors = [s["person"].user, s["admin"].user, s["assistant"].user]
    http = api(s["person"].user)
    endpoint = url("task-comments", agency, pk=task.pk) + "?page_size=200"

    def make(n):
        with agency_scope(agency):
            Comment.objects.bulk_create(
                Comment(agency=agency, task=task, author=authors[i % 3], body=f"Note {i}")
                for i in range(n)
            )

    make(1)
    few = count_queries(lambda: http.get(endpoint))
    make(199)
    assert len(http.get(endpoint).json()["results"]) == 200
    assert count_queries(lambda: http.get(endpoint)) == few
