"""Cover for dedicated work while its assistant is on time off: the queue, take-next, the
assign form and the client manuals follow assistants.selectors.dedicated_takers, and work
goes back to the dedicated assistant when the time off ends."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assistants import time_off
from assistants.selectors import assistants_on_shift, clients_workable_by
from contracts.models import ContractAssistant
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tasks import queries, services
from tasks.selectors import pool_for
from tests.assistants.conftest import ALWAYS
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

ASKED = "2026-03-02 12:00Z"  # Monday
DURING = "2026-03-04 12:00Z"  # Wednesday, inside Tue 3 to Thu 5 March
AFTER = "2026-03-06 12:00Z"  # Friday: back
FIRST, LAST = dt.date(2026, 3, 3), dt.date(2026, 3, 5)


def named(membership, name):
    membership.user.full_name = name
    membership.user.save(update_fields=["full_name"])
    return membership


@pytest.fixture
def world(agency, member, time_machine):
    """Acme's contract is dedicated to Dee; Cody and Pat are skilled in its work, Una is
    not; Zed's contract dedicates nobody."""
    time_machine.move_to(ASKED, tick=False)
    inbox = CategoryFactory(agency=agency, name="Inbox management")
    service = ServiceFactory(agency=agency, category=inbox)
    acme = ClientFactory(agency=agency, name="Acme", time_zone="America/New_York")
    contract = ContractFactory(agency=agency, client=acme, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    zed_line = LineFactory(
        agency=agency,
        contract=ContractFactory(
            agency=agency, client=ClientFactory(agency=agency, name="Zed"), status="active"
        ),
        service=service,
    )
    people = {
        key: named(
            AssistantProfileFactory(
                agency=agency, skills=skills, working_hours=ALWAYS, time_zone="Europe/Lisbon"
            ).membership,
            name,
        )
        for key, name, skills in [
            ("dee", "Dee Dedicated", [inbox]),
            ("cody", "Cody Cover", [inbox]),
            ("pat", "Pat Pool", [inbox]),
            ("una", "Una Unskilled", []),
        ]
    }
    with agency_scope(agency):
        ContractAssistant.objects.create(agency=agency, contract=contract, membership=people["dee"])
    owner = member(Role.OWNER)
    return {
        "agency": agency,
        "line": line,
        "zed_line": zed_line,
        "acme": acme,
        "owner": owner,
        "client_member": member(Role.CLIENT, client=acme),
        **people,
    }


def away(world, cover=None):
    """Dee asks for Tue 3 to Thu 5 March and the owner approves, naming `cover`."""
    agency = world["agency"]
    with agency_scope(agency):
        asked = time_off.time_off_request(
            agency=agency,
            actor=world["dee"].user,
            membership=world["dee"],
            starts_on=FIRST,
            ends_on=LAST,
        )
        return time_off.time_off_approve(
            agency=agency, actor=world["owner"].user, time_off=asked, cover=cover
        )


def task(world, key="line", **kwargs):
    return TaskFactory(agency=world["agency"], contract_line=world[key], **kwargs)


def pool(world, who):
    with agency_scope(world["agency"]):
        return list(pool_for(agency=world["agency"], membership=world[who]))


def offered(world, work):
    with agency_scope(world["agency"]):
        profiles = queries.assistants_for_task(
            agency=world["agency"], task=work, now=dt.datetime.now(dt.UTC)
        )
    return {p.membership_id for p in profiles}


def test_dedicated_work_goes_to_the_cover_while_away_and_back_after(world, time_machine):
    acme, zed = task(world), task(world, key="zed_line")
    away(world, cover=world["cody"])

    # Before the first day: nothing changes.
    assert pool(world, "dee") == [acme, zed] and pool(world, "cody") == [zed]

    time_machine.move_to(DURING, tick=False)
    assert pool(world, "cody") == [acme, zed]
    assert pool(world, "dee") == []  # away: offered nothing at all
    assert pool(world, "pat") == [zed]  # the cover is named: the pool does not get it
    assert offered(world, acme) == {world["cody"].pk}
    assert world["dee"].pk not in offered(world, zed)

    time_machine.move_to(AFTER, tick=False)
    assert pool(world, "dee") == [acme, zed] and pool(world, "cody") == [zed]
    assert offered(world, acme) == {world["dee"].pk}


def test_without_a_named_cover_the_skill_pool_takes_it(world, time_machine):
    acme = task(world)
    away(world)
    time_machine.move_to(DURING, tick=False)
    assert pool(world, "pat") == [acme] and pool(world, "cody") == [acme]
    assert pool(world, "una") == [] and pool(world, "dee") == []
    assert offered(world, acme) == {world["cody"].pk, world["pat"].pk}


def test_take_next_goes_to_the_cover_and_refuses_the_one_away(world, time_machine):
    acme = task(world)
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    agency = world["agency"]
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as refused:
            services.task_take_next(agency=agency, actor=world["dee"].user, membership=world["dee"])
        assert refused.value.code == "task_taker_on_time_off"
        assert "Thu 5 Mar 2026" in refused.value.message
        taken = services.task_take_next(
            agency=agency, actor=world["cody"].user, membership=world["cody"]
        )
    assert taken.pk == acme.pk and taken.assignee_id == world["cody"].pk


def test_already_assigned_work_stays_with_whoever_has_it(world, time_machine):
    held = task(world, status="assigned", assignee=world["dee"])
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    held.refresh_from_db()
    assert held.assignee_id == world["dee"].pk


def test_staff_cannot_assign_to_someone_away(world, time_machine):
    acme = task(world)
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    agency = world["agency"]
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        services.task_assign(
            agency=agency, actor=world["owner"].user, task=acme, assignee=world["dee"]
        )
    assert refused.value.code == "task_assignee_on_time_off"
    assert refused.value.extra == {"field": "assignee"}


def test_the_assign_form_names_the_cover_and_refuses_the_one_away(world, time_machine, signed_in):
    acme = task(world)
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    http = signed_in(world["owner"].user)
    page = reverse("task_detail", kwargs={"agency_slug": world["agency"].slug, "pk": acme.pk})
    html = http.get(page).content.decode()
    select = re.search(r'<select id="assign-to".*?</select>', html, re.S).group(0)
    assert "Cody Cover" in select and "Dee Dedicated" not in select
    response = http.post(
        reverse("task_assign", kwargs={"agency_slug": world["agency"].slug, "pk": acme.pk}),
        {"assignee": world["dee"].pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "is on time off until Thu 5 Mar 2026" in response.content.decode()
    acme.refresh_from_db()
    assert acme.assignee_id is None


def test_the_cover_reads_the_manual_and_the_handover_notes(world, time_machine, signed_in):
    acme = task(world)
    with agency_scope(world["agency"]):
        acme.comments.create(
            agency=world["agency"],
            author=world["owner"].user,
            kind="handover",
            body="Acme's CEO wants replies before noon",
            internal=True,
        )
    away(world, cover=world["cody"])
    with agency_scope(world["agency"]):
        assert world["acme"] not in clients_workable_by(
            agency=world["agency"], membership=world["cody"]
        )
    time_machine.move_to(DURING, tick=False)
    with agency_scope(world["agency"]):
        assert world["acme"] in clients_workable_by(
            agency=world["agency"], membership=world["cody"]
        )
        # The one away keeps their own clients' manuals.
        assert world["acme"] in clients_workable_by(agency=world["agency"], membership=world["dee"])
    http = signed_in(world["cody"].user)
    slug = world["agency"].slug
    manual = reverse("manual_view", kwargs={"agency_slug": slug, "pk": world["acme"].pk})
    assert http.get(manual).status_code == 200
    detail = http.get(reverse("task_detail", kwargs={"agency_slug": slug, "pk": acme.pk}))
    assert "Acme&#x27;s CEO wants replies before noon" in detail.content.decode()


def test_someone_away_is_not_on_shift(world, time_machine, signed_in):
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    now = dt.datetime.now(dt.UTC)
    with agency_scope(world["agency"]):
        on_shift = {p.membership_id for p in assistants_on_shift(agency=world["agency"], at=now)}
    assert world["dee"].pk not in on_shift and world["cody"].pk in on_shift
    html = signed_in(world["owner"].user).get(
        reverse("assistant_on_shift", kwargs={"agency_slug": world["agency"].slug})
    )
    assert "Dee Dedicated" not in html.content.decode()


def test_the_queue_costs_the_same_queries_with_time_off_in_force(
    world, time_machine, signed_in, count_queries
):
    for _ in range(3):
        task(world)
    http = signed_in(world["cody"].user)
    url = reverse("assistant_queue", kwargs={"agency_slug": world["agency"].slug})
    http.get(url)
    before = count_queries(lambda: http.get(url))
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    for _ in range(20):
        task(world)
    response = http.get(url)
    assert len(response.context["pool"]) == 23
    assert count_queries(lambda: http.get(url)) == before


def test_the_assign_form_stays_one_query_with_time_off(world, time_machine):
    acme = task(world)
    away(world, cover=world["cody"])
    time_machine.move_to(DURING, tick=False)
    with agency_scope(world["agency"]), CaptureQueriesContext(connection) as captured:
        queries.assistants_for_task(agency=world["agency"], task=acme, now=dt.datetime.now(dt.UTC))
    assert len(captured) == 1


def test_a_contract_with_another_dedicated_assistant_present_stays_theirs(world, time_machine):
    acme, zed = task(world), task(world, key="zed_line")
    with agency_scope(world["agency"]):
        ContractAssistant.objects.create(
            agency=world["agency"], contract=world["line"].contract, membership=world["una"]
        )
    away(world)  # Dee is away with nobody named, but Una is still dedicated to Acme
    time_machine.move_to(DURING, tick=False)
    assert pool(world, "una") == [acme]
    assert pool(world, "pat") == [zed]
    assert offered(world, acme) == {world["una"].pk}
