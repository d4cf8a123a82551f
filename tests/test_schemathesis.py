"""The API keeps to its OpenAPI schema, checked with Schemathesis through the WSGI app.

Answers the schema promises are checked one by one everywhere (a member's null client, a
timer that is not running, every kind of error). On PostgreSQL (CI's second pass), a
bounded fuzzing run sends every operation generated requests as an admin, a client member
and an assistant of an agency filled by the benchmark generator, and checks that nothing
is a server error and every answer (status, content type, headers, body) is one the
schema documents.
"""

import random
import time

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import DatabaseError, close_old_connections, connection, transaction
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from accounts.models import Membership
from core.roles import Role
from core.tenancy import agency_scope
from tests.conftest import api_token_for
from tests.tasks.factories import TaskFactory
from va_agency.wsgi import application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PREFIX = "/api/v1/a/{agency_slug}"


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, called in the test's own thread and database transaction:
    as Django's test client does, the request signals must not close that connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app, db):
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app)


def token_for(user) -> dict:
    return {"Authorization": f"Token {api_token_for(user)}"}


def checked(api_schema, method, path, *, headers=None, **case):
    """Send one request the schema describes and hold its answer to the schema."""
    operation = api_schema[path][method]
    made = operation.Case(**case)
    response = made.call(headers=headers or {})
    made.validate_response(response, checks=CHECKS, headers=headers or {})
    return response


# -- answers checked one by one --------------------------------------------------------------


def test_members_without_a_client_say_null(api_schema, agency, member):
    owner = member(Role.OWNER)
    member(Role.CLIENT)
    response = checked(
        api_schema,
        "GET",
        f"{PREFIX}/members/",
        headers=token_for(owner.user),
        path_parameters={"agency_slug": agency.slug},
    )
    clients = [row["client"] for row in response.json()["results"]]
    assert None in clients and any(isinstance(client, int) for client in clients)
    me = checked(api_schema, "GET", "/api/v1/me/", headers=token_for(owner.user))
    assert me.json()["memberships"][0]["client"] is None


def test_the_timer_answers_in_its_shape_running_or_not(api_schema, agency, member):
    assistant = member(Role.ASSISTANT)
    task = TaskFactory(agency=agency, status="assigned", assignee=assistant)
    headers = token_for(assistant.user)
    slug = {"agency_slug": agency.slug}
    idle = checked(api_schema, "GET", f"{PREFIX}/timer/", headers=headers, path_parameters=slug)
    assert idle.json() == {"entry": None}
    stopped = checked(
        api_schema, "POST", f"{PREFIX}/timer/stop/", headers=headers, path_parameters=slug
    )
    assert stopped.json() == {"entry": None}
    started = checked(
        api_schema,
        "POST",
        f"{PREFIX}/timer/start/",
        headers=headers,
        path_parameters=slug,
        body={"task": task.pk},
        media_type="application/json",
    )
    assert started.status_code == 201
    running = checked(api_schema, "GET", f"{PREFIX}/timer/", headers=headers, path_parameters=slug)
    assert running.json()["entry"]["task"] == task.pk


def test_every_kind_of_error_is_documented_with_the_error_body(api_schema, agency, member):
    owner, assistant = member(Role.OWNER), member(Role.ASSISTANT)
    theirs = TaskFactory(agency=agency, status="assigned", assignee=assistant)
    slug = {"agency_slug": agency.slug}
    cases = [
        (401, "GET", f"{PREFIX}/clients/", {}, {"path_parameters": slug}),
        (403, "GET", f"{PREFIX}/clients/", token_for(assistant.user), {"path_parameters": slug}),
        (
            404,
            "GET",
            f"{PREFIX}/clients/",
            token_for(owner.user),
            {"path_parameters": {"agency_slug": "no-such-agency"}},
        ),
        (
            404,
            "GET",
            f"{PREFIX}/clients/{{id}}/",
            token_for(owner.user),
            {"path_parameters": {**slug, "id": 2**62}},
        ),
        (
            400,
            "POST",
            f"{PREFIX}/clients/",
            token_for(owner.user),
            {"path_parameters": slug, "body": {"name": ""}, "media_type": "application/json"},
        ),
        (
            400,
            "GET",
            f"{PREFIX}/clients/",
            token_for(owner.user),
            {"path_parameters": slug, "query": {"status": "nonsense"}},
        ),
        (
            400,
            "POST",
            f"{PREFIX}/tasks/{{id}}/start/",
            token_for(assistant.user),
            {  # a move that takes no fields still takes only an object
                "path_parameters": {**slug, "id": theirs.pk},
                "body": ["start"],
                "media_type": "application/json",
            },
        ),
    ]
    for status, method, path, headers, case in cases:
        response = checked(api_schema, method, path, headers=headers, **case)
        assert response.status_code == status, (method, path, response.content)
        assert set(response.json()) == {"message", "code", "extra"}


# -- the bounded fuzzing run (PostgreSQL) ----------------------------------------------------

EXAMPLES_PER_OPERATION = 20
SCENARIOS, STEPS_PER_SCENARIO = 40, 5
ROLES = {"admin": Role.ADMIN, "client member": Role.CLIENT, "assistant": Role.ASSISTANT}


def seed_agency():
    """A small agency as the benchmark generator makes it: clients with contracts, a
    catalogue, tasks in every status with time, comments and charges, and invoices."""
    from bench import generate

    plan = generate.Plan(
        slug="fuzzed", name="Fuzzed Agency", clients=3, assistants=3, tasks=80, services=6
    )
    with generate.auto_timestamps_off():
        generate.build_agency(plan, random.Random(3), progress=None)
    from accounts.models import Agency
    from billing.models import TaxRate

    agency = Agency.objects.get(slug=plan.slug)
    with agency_scope(agency):
        TaxRate.objects.create(agency=agency, display_name="VAT", percentage=20)
    return agency


def known_ids(agency) -> dict[str, list[int]]:
    """Ids that name rows of the agency, by the path segment before them, and one past
    them all (a 404): the generated ids are drawn from these."""
    from accounts.models import Invitation
    from assistants.models import AssistantProfile, TimeOff, WorkSample
    from billing.models import Charge, Invoice, TaxRate
    from clients.models import Client
    from contracts.models import ContractLine, Proposal, QuoteRequest, Service, ServiceContract
    from contracts.plans import Plan
    from notifications.models import Notification
    from tasks.models import Attachment, RecurringRequest, Task, TimeEntry, Timesheet

    models = {
        "clients": Client,
        "client-manuals": Client,
        "assistants": AssistantProfile,
        "services": Service,
        "contracts": ServiceContract,
        "lines": ContractLine,
        "charges": Charge,
        "invoices": Invoice,
        "tax-rates": TaxRate,
        "tasks": Task,
        "files": Attachment,
        "notifications": Notification,
        "invitations": Invitation,
        "recurring-requests": RecurringRequest,
        "earnings": Membership,
        "time-entries": TimeEntry,
        "time-off": TimeOff,
        "work-samples": WorkSample,
        "timesheets": Timesheet,
        "plans": Plan,
        "proposals": Proposal,
        "our-proposals": Proposal,
        "quote-requests": QuoteRequest,
        "our-quote-requests": QuoteRequest,
        # our-team/members/<id>/: a client member of the agency
        "members": Membership,
    }
    ids = {}
    with agency_scope(agency):
        for segment, model in models.items():
            rows = model.objects.filter(agency=agency)
            if segment == "earnings":  # earnings/<id>/ names an assistant's membership
                rows = rows.filter(role=Role.ASSISTANT)
            elif segment == "members":
                rows = rows.filter(role=Role.CLIENT)
            found = list(rows.values_list("pk", flat=True)[:30])
            ids[segment] = [*found, max(found, default=0) + 1000]
    return ids


def pin_path_parameters(api_schema, agency, ids) -> None:
    """Every generated request names the agency by its slug, and each id one of the rows
    its path names (or none): random ones would only ever be 404s."""

    @api_schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if path_parameters is None:  # a path without parameters
            return st.none()
        segments = context.operation.path.strip("/").split("/")
        drawn = {name: st.just(value) for name, value in path_parameters.items()}
        drawn["agency_slug"] = st.just(agency.slug)
        for index, segment in enumerate(segments):
            if segment.startswith("{") and segment != "{agency_slug}":
                drawn[segment[1:-1]] = st.sampled_from(ids[segments[index - 1]])
        return st.fixed_dictionaries(drawn)


class Sent:
    """What the run sent and what failed, one failure kept per operation."""

    def __init__(self, headers):
        self.headers = headers
        self.requests: list[str] = []
        self.failures: dict[str, str] = {}

    def call_and_check(self, case):
        # Each request in a savepoint, so that one that breaks the transaction (the
        # failure then reported) does not take every later request down with it.
        savepoint = transaction.savepoint()
        try:
            response = case.call(headers=self.headers)
        finally:
            self.requests.append(case.operation.label)
        try:
            case.validate_response(response, checks=CHECKS, headers=self.headers)
        except (AssertionError, FailureGroup) as failure:  # each one is reported at the end
            self.failures.setdefault(
                case.operation.label, f"{case.as_curl_command(self.headers)}\n{failure}"
            )
        try:
            transaction.savepoint_commit(savepoint)
        except DatabaseError:  # the request broke the transaction: undo it
            transaction.savepoint_rollback(savepoint)
        return response


SETTINGS = hypothesis.settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)


def fuzz_each_operation(api_schema, sent: Sent) -> None:
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(
            SETTINGS,
            max_examples=EXAMPLES_PER_OPERATION,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case):
            sent.call_and_check(case)

        run()


def follow_links(api_schema, sent: Sent) -> int:
    """Sequences of calls, each using what an earlier answer made (a client, a contract, a
    task...), along the links Schemathesis infers from the schema. Returns how many."""
    links = api_schema.apply_stateful_inference(None).selected

    class Scenarios(api_schema.as_state_machine()):
        # Every scenario starts from the same data and leaves nothing behind: Hypothesis
        # replays scenarios, and one that met other data would take another course.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def call(self, case, **kwargs):
            return sent.call_and_check(case)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            pass  # checked as it was sent

    Scenarios.run(
        settings=hypothesis.settings(
            SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO
        )
    )
    return links


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fuzzing run is CI's PostgreSQL pass"
)
@pytest.mark.parametrize("role", ROLES.values(), ids=ROLES.keys())
def test_every_operation_keeps_to_the_schema_under_generated_requests(
    role, api_schema, settings, tmp_path, capsys
):
    settings.MEDIA_ROOT = tmp_path
    settings.STRIPE_SECRET_KEY = ""  # billing waits: nothing leaves for Stripe
    agency = seed_agency()
    with agency_scope(agency):
        caller = Membership.objects.filter(agency=agency, role=role).select_related("user")[0]
    sent = Sent(token_for(caller.user))
    pin_path_parameters(api_schema, agency, known_ids(agency))
    started = time.monotonic()
    fuzz_each_operation(api_schema, sent)
    singles = len(sent.requests)
    links = follow_links(api_schema, sent)
    with capsys.disabled():
        print(
            f"\nschemathesis as {role}: {len(sent.requests)} requests in "
            f"{time.monotonic() - started:.0f} s: {singles} to the "
            f"{len(set(sent.requests))} operations one by one, the rest along {links} links"
        )
    assert not sent.failures, "\n\n".join(
        f"{label}:\n{text}" for label, text in sent.failures.items()
    )
