import pytest
from django.urls import reverse

from assistants.models import AssistantProfile
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.assistants.conftest import ALWAYS
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory


@pytest.fixture
def admin_api(member, api):
    return api(member(Role.ADMIN).user)


def list_url(agency):
    return reverse("api:assistant-list", args=[agency.slug])


def detail_url(agency, profile):
    return reverse("api:assistant-detail", args=[agency.slug, profile.pk])


def test_staff_list_and_retrieve_profiles(agency, admin_api, categories, time_machine):
    time_machine.move_to("2026-03-02 12:00Z", tick=False)  # Monday
    profile = AssistantProfileFactory(
        agency=agency, time_zone="Asia/Manila", skills=[categories["bookkeeping"]]
    )
    AssistantProfileFactory(agency=agency, is_active=False)
    AssistantProfileFactory()  # another agency's

    body = admin_api.get(list_url(agency)).json()
    assert body["count"] == 2
    assert admin_api.get(list_url(agency) + "?active=false").json()["count"] == 1

    response = admin_api.get(detail_url(agency, profile))
    assert response.status_code == 200
    data = response.json()
    assert data["user"]["email"] == profile.membership.user.email
    assert data["skills"] == [categories["bookkeeping"].pk]
    assert data["local_time"] == "2026-03-02T20:00:00+08:00"
    assert data["on_shift"] is False  # 20:00 in Manila, after 9-5
    assert data["hours_today"] == [["09:00", "17:00"]]
    assert (data["pay_rate"], data["pay_currency"], data["capacity"]) == (1200, "USD", 5)


def test_staff_patch_a_profile_through_the_service(agency, admin_api, categories):
    profile = AssistantProfileFactory(agency=agency)
    response = admin_api.patch(
        detail_url(agency, profile),
        {
            "skills": [categories["inbox-management"].pk],
            "capacity": 3,
            "pay_rate": 1450,
            "working_hours": ALWAYS,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["skills"] == [categories["inbox-management"].pk]
    assert (data["capacity"], data["pay_rate"], data["on_shift"]) == (3, 1450, True)
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="assistant_profile.updated").count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"working_hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}, "working_hours"),
        ({"capacity": 0}, "capacity"),
        ({"pay_rate": -5}, "pay_rate"),
        ({"time_zone": "Nowhere/Special"}, "time_zone"),
        ({"pay_currency": "ZZZ"}, "pay_currency"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(agency, admin_api, payload, field):
    profile = AssistantProfileFactory(agency=agency)
    response = admin_api.patch(detail_url(agency, profile), payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["extra"]["field"] == field
    assert body["message"]
    with agency_scope(agency):
        assert not AuditEvent.objects.filter(action="assistant_profile.updated").exists()


def test_a_skill_of_another_agency_is_a_400(agency, other_agency, admin_api):
    profile = AssistantProfileFactory(agency=agency)
    foreign = CategoryFactory(agency=other_agency)
    response = admin_api.patch(detail_url(agency, profile), {"skills": [foreign.pk]}, format="json")
    assert response.status_code == 400
    assert "skills" in response.json()["extra"]["fields"]


def test_another_agencys_profile_is_a_404(agency, other_agency, admin_api):
    foreign = AssistantProfileFactory(agency=other_agency)
    url = reverse("api:assistant-detail", args=[agency.slug, foreign.pk])
    assert admin_api.get(url).status_code == 404
    assert admin_api.patch(url, {"capacity": 2}, format="json").status_code == 404


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_assistants_and_clients_cannot_use_the_staff_endpoints(agency, member, api, role):
    profile = AssistantProfileFactory(agency=agency)
    http = api(member(role).user)
    assert http.get(list_url(agency)).status_code == 403
    assert http.get(reverse("api:assistant-on-shift", args=[agency.slug])).status_code == 403
    assert http.get(detail_url(agency, profile)).status_code == 403
    response = http.patch(detail_url(agency, profile), {"capacity": 50}, format="json")
    assert response.status_code == 403


def test_the_on_shift_endpoint(agency, admin_api, time_machine):
    time_machine.move_to("2026-03-02 12:00Z", tick=False)
    lisbon = AssistantProfileFactory(agency=agency, time_zone="Europe/Lisbon")
    AssistantProfileFactory(agency=agency, time_zone="Asia/Manila")
    body = admin_api.get(reverse("api:assistant-on-shift", args=[agency.slug])).json()
    assert [row["id"] for row in body["results"]] == [lisbon.pk]
    assert body["results"][0]["local_time"] == "2026-03-02T12:00:00+00:00"


def test_an_assistant_reads_and_patches_their_own_profile(agency, api, categories):
    profile = AssistantProfileFactory(agency=agency, skills=[categories["bookkeeping"]])
    http = api(profile.membership.user)
    url = reverse("api:me-assistant-profile", args=[agency.slug])
    data = http.get(url).json()
    assert data["id"] == profile.pk and data["pay_rate"] == 1200

    hours = {**ALWAYS, "sun": []}
    response = http.patch(
        url,
        {"time_zone": "Africa/Nairobi", "working_hours": hours, "capacity": 40, "pay_rate": 1},
        format="json",
    )
    assert response.status_code == 200, response.json()
    with agency_scope(agency):
        profile = AssistantProfile.objects.get(pk=profile.pk)
    assert (profile.time_zone, profile.working_hours) == ("Africa/Nairobi", hours)
    assert (profile.capacity, profile.pay_rate) == (5, 1200)  # read-only for the assistant

    response = http.patch(
        url, {"working_hours": {**hours, "mon": [["25:00", "26:00"]]}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Monday:")


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.CLIENT])
def test_only_assistants_have_an_own_profile_endpoint(agency, member, api, role):
    http = api(member(role).user)
    url = reverse("api:me-assistant-profile", args=[agency.slug])
    assert http.get(url).status_code == 403
    assert http.patch(url, {"time_zone": "UTC"}, format="json").status_code == 403


@pytest.mark.parametrize("name", ["api:assistant-list", "api:assistant-on-shift"])
def test_list_endpoints_queries_do_not_grow_with_rows(
    agency, member, api, count_queries, categories, name
):
    http = api(member(Role.OWNER).user)
    url = reverse(name, args=[agency.slug])
    skills = list(categories.values())
    AssistantProfileFactory(agency=agency, working_hours=ALWAYS, skills=skills)
    assert http.get(url).json()["count"] == 1
    few = count_queries(lambda: http.get(url))
    for n in range(49):
        AssistantProfileFactory(agency=agency, working_hours=ALWAYS, skills=skills[: n % 3 + 1])
    assert http.get(url).json()["count"] == 50
    many = count_queries(lambda: http.get(url))
    assert many == few


def test_the_schema_describes_the_endpoints(client, db):
    schema = client.get(reverse("api:schema")).content
    assert b"/api/v1/a/{agency_slug}/assistants/{id}/" in schema
    assert b"/api/v1/a/{agency_slug}/assistants/on-shift/" in schema
    assert b"/api/v1/a/{agency_slug}/me/assistant-profile/" in schema
