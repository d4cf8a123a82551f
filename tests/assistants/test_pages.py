import pytest
from django.urls import reverse

from assistants.models import AssistantProfile
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.assistants.conftest import ALWAYS
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory

NOON_MONDAY_UTC = "2026-03-02 12:00Z"  # Lisbon 12:00 (on 9-5), Manila 20:00 (off 9-5)


def hours_post(**days):
    """The working-hours rows of the form: {day: [(from, to), ...]} -> POST fields."""
    data = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        for n, (start, end) in enumerate(days.get(day, [])):
            data[f"{day}_{n}_from"], data[f"{day}_{n}_to"] = start, end
    return data


DEFAULT_HOURS = {"mon": [("09:00", "13:00"), ("14:00", "18:00")], "tue": [("21:00", "24:00")]}


def profile_post(hours=None, **overrides):
    data = {
        "time_zone": "Asia/Manila",
        "capacity": "6",
        "pay_rate": "12.50",
        "pay_currency": "USD",
        "is_active": "on",
        **hours_post(**(DEFAULT_HOURS if hours is None else hours)),
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_http(member, signed_in):
    return signed_in(member(Role.ADMIN).user)


def test_the_list_shows_each_assistant_at_a_glance(agency, admin_http, categories, time_machine):
    time_machine.move_to(NOON_MONDAY_UTC, tick=False)
    lisbon = AssistantProfileFactory(
        agency=agency,
        time_zone="Europe/Lisbon",
        pay_rate=1500,
        pay_currency="EUR",
        skills=[categories["bookkeeping"]],
    )
    manila = AssistantProfileFactory(agency=agency, time_zone="Asia/Manila", pay_rate=1200)
    response = admin_http.get(reverse("assistant_list", args=[agency.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert lisbon.membership.user.email in html and manila.membership.user.email in html
    assert "Bookkeeping" in html
    assert "€15.00/h" in html and "$12.00/h" in html
    assert "Mon 12:00 WET their time" in html and "Mon 20:00 PST their time" in html
    rows = {row.profile.pk: row for row in response.context["rows"]}
    assert rows[lisbon.pk].on_shift and not rows[manila.pk].on_shift
    assert html.count(">on shift<") == 1


def test_the_list_filters_active_and_inactive(agency, admin_http):
    active = AssistantProfileFactory(agency=agency)
    resting = AssistantProfileFactory(agency=agency, is_active=False)
    url = reverse("assistant_list", args=[agency.slug])

    def shown(query):
        return {row.profile.pk for row in admin_http.get(url + query).context["rows"]}

    assert shown("") == {active.pk, resting.pk}
    assert shown("?status=active") == {active.pk}
    assert shown("?status=inactive") == {resting.pk}
    assert shown("?status=nonsense") == {active.pk, resting.pk}


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_staff_pages_are_closed_to_assistants_and_clients(agency, member, signed_in, role):
    profile = AssistantProfileFactory(agency=agency)
    http = signed_in(member(role).user)
    for url in [
        reverse("assistant_list", args=[agency.slug]),
        reverse("assistant_on_shift", args=[agency.slug]),
        reverse("assistant_edit", args=[agency.slug, profile.pk]),
    ]:
        assert http.get(url).status_code == 403
    assert (
        http.post(reverse("assistant_edit", args=[agency.slug, profile.pk]), {}).status_code == 403
    )


def test_an_admin_edits_a_profile_in_major_units(agency, member, signed_in, categories):
    admin = member(Role.OWNER).user
    http = signed_in(admin)
    profile = AssistantProfileFactory(agency=agency)
    url = reverse("assistant_edit", args=[agency.slug, profile.pk])
    page = http.get(url)
    assert page.status_code == 200
    assert page.context["form"]["pay_rate"].value() == pytest.approx(12)
    assert b'type="checkbox" name="skills"' in page.content

    skills = [categories["bookkeeping"].pk, categories["travel-arrangements"].pk]
    response = http.post(url, profile_post(skills=skills))
    assert response.status_code == 302, response.context["form"].errors
    with agency_scope(agency):
        profile = AssistantProfile.objects.get(pk=profile.pk)
        assert sorted(profile.skills.values_list("pk", flat=True)) == sorted(skills)
        assert AuditEvent.objects.filter(action="assistant_profile.updated", actor=admin).exists()
    assert (profile.pay_rate, profile.pay_currency, profile.capacity) == (1250, "USD", 6)
    assert profile.time_zone == "Asia/Manila"
    assert profile.working_hours["mon"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert profile.working_hours["tue"] == [["21:00", "24:00"]]
    assert profile.working_hours["sun"] == []


def test_the_pay_rate_has_the_currencys_own_decimals(agency, admin_http):
    profile = AssistantProfileFactory(agency=agency)
    url = reverse("assistant_edit", args=[agency.slug, profile.pk])
    response = admin_http.post(url, profile_post(pay_rate="12.505"))
    assert response.status_code == 200
    assert response.context["form"].errors["pay_rate"] == [
        "USD amounts have at most 2 decimals. Try e.g. 12.50."
    ]
    response = admin_http.post(url, profile_post(pay_rate="1500", pay_currency="jpy"))
    assert response.status_code == 302
    with agency_scope(agency):
        profile.refresh_from_db()
    assert (profile.pay_rate, profile.pay_currency) == (1500, "JPY")
    assert admin_http.get(url).context["form"]["pay_rate"].value() == 1500


@pytest.mark.parametrize(
    ("hours", "day", "message"),
    [
        (
            {"wed": [("09:00", "13:00"), ("12:00", "17:00")]},
            "wed",
            "09:00\u201313:00 overlaps 12:00\u201317:00.",
        ),
        ({"thu": [("17:00", "09:00")]}, "thu", "17:00\u201309:00 must start before it ends."),
        ({"fri": [("9", "17")]}, "fri", "“9” is not a time in HH:MM"),
        ({"sat": [("09:00", "")]}, "sat", "Give both a from and a to time"),
    ],
)
def test_bad_hours_are_shown_on_their_day_and_nothing_is_saved(
    agency, admin_http, hours, day, message
):
    profile = AssistantProfileFactory(agency=agency)
    url = reverse("assistant_edit", args=[agency.slug, profile.pk])
    response = admin_http.post(url, profile_post(hours=hours))
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"__all__"}  # the hours are the only problem
    assert any(m.startswith(message) for m in form.day_errors[day]), form.day_errors
    assert form.non_field_errors() == ["Check the working hours marked below."]
    assert f'data-day="{day}" class="has-error"' in response.content.decode()
    with agency_scope(agency):
        profile.refresh_from_db()
        assert not AuditEvent.objects.filter(action="assistant_profile.updated").exists()
    assert profile.time_zone == "Europe/Lisbon" and profile.capacity == 5


def test_a_skill_of_another_agency_is_not_a_choice(agency, other_agency, admin_http):
    profile = AssistantProfileFactory(agency=agency)
    foreign = CategoryFactory(agency=other_agency)
    url = reverse("assistant_edit", args=[agency.slug, profile.pk])
    response = admin_http.post(url, profile_post(skills=[foreign.pk]))
    assert response.status_code == 200
    assert "skills" in response.context["form"].errors


def test_another_agencys_assistant_is_a_404(agency, other_agency, admin_http):
    foreign = AssistantProfileFactory(agency=other_agency)
    url = reverse("assistant_edit", args=[agency.slug, foreign.pk])
    assert admin_http.get(url).status_code == 404
    assert admin_http.post(url, profile_post()).status_code == 404


def test_the_on_shift_page_lists_who_is_working_now(agency, admin_http, time_machine):
    time_machine.move_to(NOON_MONDAY_UTC, tick=False)
    lisbon = AssistantProfileFactory(agency=agency, time_zone="Europe/Lisbon")
    AssistantProfileFactory(agency=agency, time_zone="Asia/Manila")
    response = admin_http.get(reverse("assistant_on_shift", args=[agency.slug]))
    assert response.status_code == 200
    assert [row.profile.pk for row in response.context["rows"]] == [lisbon.pk]
    html = response.content.decode()
    assert "Mon 12:00 WET" in html and "09:00\u201317:00" in html


def test_an_assistant_sees_their_profile_and_sets_their_own_hours(agency, categories, signed_in):
    profile = AssistantProfileFactory(
        agency=agency, pay_rate=1500, skills=[categories["inbox-management"]]
    )
    http = signed_in(profile.membership.user)
    url = reverse("my_assistant_profile", args=[agency.slug])
    page = http.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Inbox management" in html and "$15.00 per hour" in html

    data = {
        "time_zone": "America/Sao_Paulo",
        **hours_post(mon=[("08:00", "12:00")]),
        # Not the assistant's to set: ignored.
        "capacity": "50",
        "pay_rate": "99.00",
        "skills": [categories["bookkeeping"].pk],
    }
    assert http.post(url, data).status_code == 302
    with agency_scope(agency):
        profile = AssistantProfile.objects.get(pk=profile.pk)
        assert [s.slug for s in profile.skills.all()] == ["inbox-management"]
    assert profile.time_zone == "America/Sao_Paulo"
    assert profile.working_hours["mon"] == [["08:00", "12:00"]]
    assert profile.working_hours["tue"] == []
    assert (profile.capacity, profile.pay_rate) == (5, 1500)


def test_an_assistant_without_a_profile_gets_one(agency, member, signed_in):
    membership = member(Role.ASSISTANT)
    response = signed_in(membership.user).get(reverse("my_assistant_profile", args=[agency.slug]))
    assert response.status_code == 200
    with agency_scope(agency):
        assert AssistantProfile.objects.filter(membership=membership).exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.CLIENT])
def test_the_own_profile_page_is_for_assistants(agency, member, signed_in, role):
    http = signed_in(member(role).user)
    assert http.get(reverse("my_assistant_profile", args=[agency.slug])).status_code == 403


@pytest.mark.parametrize("name", ["assistant_list", "assistant_on_shift"])
def test_list_pages_queries_do_not_grow_with_rows(
    agency, member, signed_in, count_queries, categories, name
):
    http = signed_in(member(Role.OWNER).user)
    url = reverse(name, args=[agency.slug])
    skills = list(categories.values())
    AssistantProfileFactory(agency=agency, working_hours=ALWAYS, skills=skills)
    assert len(http.get(url).context["rows"]) == 1
    few = count_queries(lambda: http.get(url))
    for n in range(49):
        AssistantProfileFactory(
            agency=agency, working_hours=ALWAYS, skills=skills[: n % 3 + 1], time_zone="Asia/Tokyo"
        )
    assert len(http.get(url).context["rows"]) == 50
    many = count_queries(lambda: http.get(url))
    assert many == few
