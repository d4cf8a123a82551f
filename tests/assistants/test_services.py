from datetime import UTC, datetime

import pytest

from assistants import services
from assistants.models import AssistantProfile
from assistants.selectors import assistant_list, assistants_on_shift, assistants_with_skill
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.assistants.conftest import ALWAYS
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory

WEEKDAYS_9_TO_5 = {
    **{day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [],
    "sun": [],
}


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


def audit_rows(agency, action):
    with agency_scope(agency):
        return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_ensure_makes_a_profile_with_the_agencys_defaults_once(agency, member):
    membership = member(Role.ASSISTANT)
    with agency_scope(agency):
        profile = services.assistant_profile_ensure(agency=agency, membership=membership)
        again = services.assistant_profile_ensure(agency=agency, membership=membership)
        assert again.pk == profile.pk
        assert AssistantProfile.objects.count() == 1
    assert (profile.time_zone, profile.pay_currency) == ("Europe/London", "GBP")
    assert profile.working_hours == WEEKDAYS_9_TO_5
    assert (profile.capacity, profile.pay_rate, profile.is_active) == (5, 0, True)
    assert len(audit_rows(agency, "assistant_profile.created")) == 1


def test_ensure_is_for_assistants_of_this_agency_only(agency, other_agency, member):
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_ensure(agency=agency, membership=member(Role.ADMIN))
    assert error.value.code == "assistant_membership_not_assistant"
    foreign = member(Role.ASSISTANT, agency=other_agency)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_ensure(agency=agency, membership=foreign)
    assert error.value.code == "assistant_membership_invalid"


def test_an_update_is_validated_saved_and_audited(agency, admin, categories):
    profile = AssistantProfileFactory(agency=agency, skills=[categories["bookkeeping"]])
    hours = {**WEEKDAYS_9_TO_5, "sat": [["13:00", "17:00"], ["09:00", "12:00"]]}
    with agency_scope(agency):
        services.assistant_profile_update(
            agency=agency,
            actor=admin,
            profile=profile,
            skills=[categories["inbox-management"], categories["travel-arrangements"]],
            time_zone="Asia/Manila",
            working_hours=hours,
            capacity=8,
            pay_rate=1250,
            pay_currency="eur",
            is_active=False,
        )
        profile = AssistantProfile.objects.get(pk=profile.pk)
        assert sorted(s.slug for s in profile.skills.all()) == [
            "inbox-management",
            "travel-arrangements",
        ]
    assert (profile.time_zone, profile.capacity, profile.pay_rate) == ("Asia/Manila", 8, 1250)
    assert (profile.pay_currency, profile.is_active) == ("EUR", False)
    assert profile.working_hours["sat"] == [["09:00", "12:00"], ["13:00", "17:00"]]  # sorted

    [row] = audit_rows(agency, "assistant_profile.updated")
    assert row.actor == admin and row.target_id == str(profile.pk)
    changes = row.details["changes"]
    assert changes["capacity"] == [5, 8]
    assert changes["pay_rate"] == [1200, 1250]
    assert changes["skills"][0] == [categories["bookkeeping"].pk]
    assert row.details["self_service"] is False


def test_an_update_that_changes_nothing_writes_nothing(agency, admin):
    profile = AssistantProfileFactory(agency=agency, capacity=5)
    with agency_scope(agency):
        services.assistant_profile_update(
            agency=agency, actor=admin, profile=profile, capacity=5, skills=[]
        )
    assert audit_rows(agency, "assistant_profile.updated") == []


def test_a_skill_of_another_agency_is_refused(agency, other_agency, admin, categories):
    profile = AssistantProfileFactory(agency=agency, skills=[categories["bookkeeping"]])
    foreign = CategoryFactory(agency=other_agency)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_update(
            agency=agency,
            actor=admin,
            profile=profile,
            skills=[categories["inbox-management"], foreign],
            capacity=9,
        )
    assert error.value.code == "assistant_skill_invalid"
    assert error.value.extra["field"] == "skills"
    with agency_scope(agency):
        profile.refresh_from_db()
        assert [s.slug for s in profile.skills.all()] == ["bookkeeping"]
    assert profile.capacity == 5
    assert audit_rows(agency, "assistant_profile.updated") == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"working_hours": {"mon": []}}, "working_hours", "Working hours must name every day"),
        (
            {"working_hours": {**WEEKDAYS_9_TO_5, "tue": [["09:00", "13:00"], ["12:00", "17:00"]]}},
            "working_hours",
            "Tuesday: 09:00\u201313:00 overlaps 12:00\u201317:00.",
        ),
        (
            {"working_hours": {**WEEKDAYS_9_TO_5, "wed": [["18:00", "09:00"]]}},
            "working_hours",
            "Wednesday: 18:00\u201309:00 must start before it ends.",
        ),
        (
            {"working_hours": {**WEEKDAYS_9_TO_5, "thu": [["9am", "5pm"]]}},
            "working_hours",
            "Thursday: “9am” is not a time in HH:MM",
        ),
        ({"capacity": 0}, "capacity", "Capacity must be at least one task."),
        ({"pay_rate": -1}, "pay_rate", "The pay rate cannot be negative."),
        ({"pay_currency": "XXQ"}, "pay_currency", "XXQ is not an ISO 4217 currency code."),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Mars/Olympus_Mons is not a known"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_saved(agency, admin, fields, field, message):
    profile = AssistantProfileFactory(agency=agency)
    before = {name: getattr(profile, name) for name in fields}
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_update(
            agency=agency, actor=admin, profile=profile, is_active=False, **fields
        )
    assert error.value.extra["field"] == field
    assert error.value.message.startswith(message), error.value.message
    assert {name: getattr(profile, name) for name in fields} == before  # instance untouched
    with agency_scope(agency):
        profile.refresh_from_db()
    assert profile.is_active is True  # the valid change beside the bad one was not saved
    assert {name: getattr(profile, name) for name in fields} == before
    assert audit_rows(agency, "assistant_profile.updated") == []


def test_staff_cannot_pass_unknown_fields(agency, admin):
    profile = AssistantProfileFactory(agency=agency)
    with agency_scope(agency), pytest.raises(TypeError):
        services.assistant_profile_update(
            agency=agency, actor=admin, profile=profile, membership=None
        )


def test_an_assistant_changes_their_own_zone_and_hours_only(agency, categories):
    profile = AssistantProfileFactory(agency=agency)
    me = profile.membership.user
    with agency_scope(agency):
        services.assistant_profile_update_own(
            agency=agency, actor=me, profile=profile, time_zone="America/Bogota"
        )
        with pytest.raises(TypeError):
            services.assistant_profile_update_own(
                agency=agency, actor=me, profile=profile, pay_rate=99999
            )
        with pytest.raises(TypeError):
            services.assistant_profile_update_own(
                agency=agency, actor=me, profile=profile, skills=[categories["bookkeeping"]]
            )
    [row] = audit_rows(agency, "assistant_profile.updated")
    assert row.actor == me and row.details["self_service"] is True
    assert row.details["changes"] == {"time_zone": ["Europe/Lisbon", "America/Bogota"]}


def test_an_assistant_cannot_change_someone_elses_profile(agency):
    mine = AssistantProfileFactory(agency=agency)
    theirs = AssistantProfileFactory(agency=agency)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_update_own(
            agency=agency, actor=mine.membership.user, profile=theirs, time_zone="UTC"
        )
    assert error.value.code == "assistant_profile_not_yours"


def test_a_profile_of_another_agency_is_refused(agency, other_agency, admin):
    foreign = AssistantProfileFactory(agency=other_agency)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.assistant_profile_update(agency=agency, actor=admin, profile=foreign, capacity=2)
    assert error.value.code == "assistant_profile_invalid"


def test_the_list_filters_by_active_and_leaves_out_people_who_left(agency, member, categories):
    active = AssistantProfileFactory(agency=agency)
    resting = AssistantProfileFactory(agency=agency, is_active=False)
    gone = AssistantProfileFactory(agency=agency)
    gone.membership.is_active = False
    gone.membership.save()
    AssistantProfileFactory()  # another agency's
    with agency_scope(agency):
        assert {p.pk for p in assistant_list(agency=agency)} == {active.pk, resting.pk}
        assert [p.pk for p in assistant_list(agency=agency, active=True)] == [active.pk]
        assert [p.pk for p in assistant_list(agency=agency, active=False)] == [resting.pk]


def test_who_is_on_shift_and_who_has_a_skill(agency, categories):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday: 18:00 in Manila, 10:00 in Lisbon
    lisbon = AssistantProfileFactory(
        agency=agency, time_zone="Europe/Lisbon", skills=[categories["bookkeeping"]]
    )
    AssistantProfileFactory(agency=agency, time_zone="Asia/Manila")  # 9-5: finished
    AssistantProfileFactory(agency=agency, working_hours=ALWAYS, is_active=False)
    night = AssistantProfileFactory(
        agency=agency, time_zone="Asia/Manila", working_hours=ALWAYS, skills=[]
    )
    AssistantProfileFactory(working_hours=ALWAYS)  # another agency's
    with agency_scope(agency):
        on_shift = assistants_on_shift(agency=agency, at=at)
        bookkeepers = list(assistants_with_skill(agency=agency, category=categories["bookkeeping"]))
    assert {p.pk for p in on_shift} == {lisbon.pk, night.pk}
    assert [p.pk for p in bookkeepers] == [lisbon.pk]
