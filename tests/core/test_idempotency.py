"""Idempotency keys (core.idempotency): an API POST with an `Idempotency-Key` header, and a
page form with its one-time key, act once however often they are sent."""

import datetime as dt
import re
import threading

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.urls import resolve, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from core.idempotency import FORM_FIELD, IdempotentPostMixin
from core.jobs import purge_idempotency_keys
from core.models import IdempotencyKey
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks.models import Attachment, Comment, Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory


@pytest.fixture
def shop(agency):
    """A client with an active contract for one service, its member, and an assistant
    skilled in it with room for three tasks."""
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=category)
    client = ClientFactory(agency=agency)
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=client, status="active"),
        service=service,
    )
    return {
        "service": service,
        "line": line,
        "person": MembershipFactory(agency=agency, role=Role.CLIENT, client=client),
        "assistant": AssistantProfileFactory(
            agency=agency, skills=[category], capacity=3
        ).membership,
    }


def api_url(name, agency, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def request_body(shop, title="Book flights"):
    return {"service": shop["service"].pk, "title": title}


def tasks_of(agency):
    with agency_scope(agency):
        return list(Task.objects.filter(agency=agency).order_by("pk"))


# -- the API ----------------------------------------------------------------------------


def test_the_same_request_twice_makes_one_task_and_the_same_answer(agency, shop, api):
    person = api(shop["person"].user)
    endpoint = api_url("task-list", agency)
    first = person.post(endpoint, request_body(shop), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = person.post(endpoint, request_body(shop), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again["Content-Type"] == first["Content-Type"]
    assert [t.pk for t in tasks_of(agency)] == [first.json()["id"]]
    # A new key is a new request.
    other = person.post(endpoint, request_body(shop), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert len(tasks_of(agency)) == 2


def test_without_a_key_each_post_acts(agency, shop, api):
    person = api(shop["person"].user)
    for _ in range(2):
        assert person.post(api_url("task-list", agency), request_body(shop)).status_code == 201
    assert len(tasks_of(agency)) == 2


def test_the_same_key_with_another_body_or_path_is_refused(agency, shop, api):
    person = api(shop["person"].user)
    endpoint = api_url("task-list", agency)
    assert person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    response = person.post(endpoint, request_body(shop, "Other"), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    task = tasks_of(agency)[0]
    response = person.post(
        api_url("task-comments", agency, pk=task.pk), {"body": "Hi"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422
    assert len(tasks_of(agency)) == 1
    with agency_scope(agency):
        assert not Comment.objects.filter(task=task).exists()


def test_a_refused_first_request_is_not_kept_so_the_corrected_one_runs(agency, shop, api):
    """Stripe keeps no result for a request that failed validation: nothing happened, so
    the same key with a corrected body is a first request."""
    person = api(shop["person"].user)
    endpoint = api_url("task-list", agency)
    bad = person.post(endpoint, request_body(shop, "   "), HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400 and bad.json()["code"] == "task_title_required"
    with agency_scope(agency):
        assert not IdempotencyKey.objects.exists()
    good = person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201
    assert person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k").json() == (
        good.json()
    )
    assert len(tasks_of(agency)) == 1


def test_keys_are_per_user_and_per_agency(agency, other_agency, shop, api):
    endpoint = api_url("task-list", agency)
    first = api(shop["person"].user).post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k")
    colleague = MembershipFactory(agency=agency, role=Role.CLIENT, client=shop["person"].client)
    second = api(colleague.user).post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    # The same person in another agency: their key there is theirs there.
    MembershipFactory(agency=other_agency, user=shop["person"].user, role=Role.CLIENT)
    response = api(shop["person"].user).post(
        api_url("task-list", other_agency), {"service": 1, "title": "x"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400  # their own request there, not a replay of this one


def test_a_key_lives_24_hours_and_beat_purges_it(agency, shop, api, time_machine):
    time_machine.move_to("2026-05-01 09:00Z", tick=False)
    person = api(shop["person"].user)
    endpoint = api_url("task-list", agency)
    first = person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k")
    time_machine.move_to("2026-05-02 08:59Z", tick=False)
    assert person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="k").json() == (
        first.json()
    )
    time_machine.move_to("2026-05-02 09:01Z", tick=False)
    later = person.post(endpoint, request_body(shop, "Other"), HTTP_IDEMPOTENCY_KEY="k")
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]

    time_machine.move_to("2026-05-03 09:02Z", tick=False)
    with agency_scope(agency):
        IdempotencyKey.objects.create(agency=agency, user=shop["person"].user, key="fresh")
    assert purge_idempotency_keys() == 1
    with scopes_disabled():
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_bad_key_is_a_400(agency, shop, api, key):
    response = api(shop["person"].user).post(
        api_url("task-list", agency), request_body(shop), HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert tasks_of(agency) == []


def test_take_next_comments_time_and_files_act_once_per_key(agency, shop, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for _ in range(2):
        TaskFactory(agency=agency, contract_line=shop["line"])
    me = api(shop["assistant"].user)
    taken = [
        me.post(api_url("task-take-next", agency), HTTP_IDEMPOTENCY_KEY="take") for _ in range(2)
    ]
    assert [r.status_code for r in taken] == [201, 201]
    assert taken[0].json() == taken[1].json()
    with agency_scope(agency):
        assert Task.objects.filter(assignee=shop["assistant"]).count() == 1
    pk = taken[0].json()["id"]

    for _ in range(2):
        me.post(
            api_url("task-comments", agency, pk=pk), {"body": "On it"}, HTTP_IDEMPOTENCY_KEY="c"
        )
        me.post(
            api_url("task-time-entries", agency, pk=pk),
            {"minutes": 30, "note": "Search"},
            HTTP_IDEMPOTENCY_KEY="t",
        )
        upload = SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", "application/pdf")
        response = me.post(
            api_url("task-files", agency, pk=pk),
            {"file": upload},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="f",
        )
        assert response.status_code == 201, response.content
    with agency_scope(agency):
        assert Comment.objects.filter(task_id=pk).count() == 1
        assert TimeEntry.objects.filter(task_id=pk).count() == 1
        assert Attachment.objects.filter(task_id=pk).count() == 1
        assert Task.objects.get(pk=pk).minutes_logged == 30


def test_every_creating_post_of_the_api_honours_the_key(db):
    """Each POST the schema says answers 201 is built on IdempotentPostMixin: an endpoint
    added tomorrow is covered the day it is added."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    creating = []
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if post and "201" in post["responses"]:
            concrete = re.sub(r"\{agency_slug\}", "some-agency", path)
            concrete = re.sub(r"\{[^}]+\}", "1", concrete)
            creating.append((path, resolve(concrete).func))
    assert len(creating) >= 10  # the walk found them
    missing = [
        path
        for path, view in creating
        if not issubclass(getattr(view, "cls", None) or view.view_class, IdempotentPostMixin)
    ]
    assert missing == [], "\n".join(missing)


# -- pages ---------------------------------------------------------------------------------


def key_in(html: str, marker: str) -> str:
    """The one-time key of the form whose opening tag holds `marker` (its action, say)."""
    form = re.search(rf"<form[^>]*{re.escape(marker)}[^>]*>.*?</form>", html, re.S).group(0)
    return re.search(rf'name="{FORM_FIELD}" value="([0-9a-f]+)"', form).group(1)


def test_a_double_click_on_take_next_claims_one_task(agency, shop, signed_in):
    first, second = (TaskFactory(agency=agency, contract_line=shop["line"]) for _ in range(2))
    http = signed_in(shop["assistant"].user)
    take_next = reverse("assistant_take_next", args=[agency.slug])
    key = key_in(
        http.get(reverse("assistant_queue", args=[agency.slug])).content.decode(), take_next
    )

    responses = [http.post(take_next, {FORM_FIELD: key}) for _ in range(2)]
    task_page = reverse("task_detail", args=[agency.slug, first.pk])
    assert [(r.status_code, r["Location"]) for r in responses] == [(302, task_page)] * 2
    with agency_scope(agency):
        assert [t.pk for t in Task.objects.filter(assignee=shop["assistant"])] == [first.pk]
        assert Task.objects.get(pk=second.pk).assignee is None
    page = http.get(task_page)
    said = [str(m) for m in page.context["messages"]]
    assert said == [f"“{first.title}” is yours now."]


def test_take_next_under_htmx_claims_once_and_hands_out_a_new_key(agency, shop, signed_in):
    for _ in range(2):
        TaskFactory(agency=agency, contract_line=shop["line"])
    http = signed_in(shop["assistant"].user)
    take_next = reverse("assistant_take_next", args=[agency.slug])
    key = key_in(
        http.get(reverse("assistant_queue", args=[agency.slug])).content.decode(), take_next
    )

    swaps = [http.post(take_next, {FORM_FIELD: key}, HTTP_HX_REQUEST="true") for _ in range(2)]
    assert swaps[0].content == swaps[1].content
    with agency_scope(agency):
        assert Task.objects.filter(assignee=shop["assistant"]).count() == 1
    # The swap shows the button again with a new key: pressing it on purpose takes another.
    fresh = key_in(swaps[0].content.decode(), take_next)
    assert fresh != key
    http.post(take_next, {FORM_FIELD: fresh}, HTTP_HX_REQUEST="true")
    with agency_scope(agency):
        assert Task.objects.filter(assignee=shop["assistant"]).count() == 2


def new_request(shop) -> dict:
    due = timezone.now() + dt.timedelta(days=3)
    return {
        "service": shop["service"].pk,
        "title": "Hotel in Porto",
        "priority": "1",
        "due_date": f"{due:%Y-%m-%d}",
        "due_time": "09:00",
        "max_budget": "",
    }


def test_a_form_sent_twice_posts_one_comment_and_one_request(agency, shop, signed_in):
    task = TaskFactory(agency=agency, contract_line=shop["line"])
    http = signed_in(shop["person"].user)
    detail = reverse("task_detail", args=[agency.slug, task.pk])
    comment = reverse("task_comment", args=[agency.slug, task.pk])
    key = key_in(http.get(detail).content.decode(), comment)
    for _ in range(2):
        assert http.post(comment, {"body": "Window seat", FORM_FIELD: key}).status_code == 302
    with agency_scope(agency):
        assert Comment.objects.filter(task=task).count() == 1

    create = reverse("client_task_create", args=[agency.slug])
    key = key_in(http.get(create).content.decode(), 'data-testid="request-form"')
    form = {**new_request(shop), FORM_FIELD: key}
    answers = [http.post(create, form) for _ in range(2)]
    assert answers[0]["Location"] == answers[1]["Location"]
    assert len(tasks_of(agency)) == 2  # the first task and the one request


def test_a_form_shown_again_for_its_errors_has_a_new_key(agency, shop, signed_in):
    http = signed_in(shop["person"].user)
    create = reverse("client_task_create", args=[agency.slug])
    form = 'data-testid="request-form"'
    key = key_in(http.get(create).content.decode(), form)
    refused = http.post(create, {**new_request(shop), "title": "", FORM_FIELD: key})
    assert refused.status_code == 200
    fresh = key_in(refused.content.decode(), form)
    assert fresh != key
    form = {**new_request(shop), FORM_FIELD: fresh}
    assert http.post(create, form).status_code == 302
    assert len(tasks_of(agency)) == 1


def test_the_pages_load_the_script_that_holds_a_sent_form(agency, shop, signed_in):
    html = (
        signed_in(shop["assistant"].user)
        .get(reverse("assistant_queue", args=[agency.slug]))
        .content.decode()
    )
    script = re.search(r'<script src="/static/([^"]*forms\.js)"', html).group(1)
    # Served by the app itself (whitenoise in production), never from a CDN.
    with open(finders.find(script)) as served:
        assert "button.disabled = true" in served.read()


# -- two at the same moment (PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_the_same_moment_make_one_task(agency, shop, api):
    """The second waits for the first (the key's row is written with the work, in one
    transaction) and answers with what it made."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent requests need PostgreSQL (set DATABASE_URL)")
    endpoint = api_url("task-list", agency)
    barrier = threading.Barrier(4, timeout=60)
    answers, failures = [], []

    def send():
        try:
            person = api(shop["person"].user)
            barrier.wait()
            response = person.post(endpoint, request_body(shop), HTTP_IDEMPOTENCY_KEY="same")
            answers.append((response.status_code, response.json()))
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert len(tasks_of(agency)) == 1


def test_a_key_older_than_its_lifetime_is_new_again(agency, shop, api, time_machine):
    time_machine.move_to("2026-05-01 09:00Z", tick=False)
    me = api(shop["assistant"].user)
    for _ in range(2):
        TaskFactory(
            agency=agency, contract_line=shop["line"], due_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        )
    me.post(api_url("task-take-next", agency), HTTP_IDEMPOTENCY_KEY="take")
    time_machine.move_to("2026-05-02 09:00:01Z", tick=False)
    me.post(api_url("task-take-next", agency), HTTP_IDEMPOTENCY_KEY="take")
    with agency_scope(agency):
        assert Task.objects.filter(assignee=shop["assistant"]).count() == 2
