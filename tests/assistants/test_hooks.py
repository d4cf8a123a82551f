"""Where profiles come from: accepting an invitation, the demo seed, and the admin."""

import io
import json

from django.core.management import call_command
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Agency, Membership
from assistants.models import AssistantProfile, AssistantSkill
from assistants.services import assistant_profile_update
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import InvitationFactory, UserFactory


def test_accepting_an_assistant_invitation_makes_the_profile(agency):
    invitation = InvitationFactory(agency=agency, email="new@va.test", role=Role.ASSISTANT)
    user = UserFactory(email="new@va.test")
    membership = account_services.invitation_accept(invitation=invitation, user=user)
    with agency_scope(agency):
        profile = AssistantProfile.objects.get(membership=membership)
    assert (profile.time_zone, profile.pay_currency) == (agency.time_zone, agency.default_currency)
    assert profile.working_hours["mon"] == [["09:00", "17:00"]]


def test_accepting_another_role_makes_no_profile(agency):
    invitation = InvitationFactory(agency=agency, email="boss@va.test", role=Role.ADMIN)
    account_services.invitation_accept(
        invitation=invitation, user=UserFactory(email="boss@va.test")
    )
    with agency_scope(agency):
        assert not AssistantProfile.objects.exists()


def test_a_returning_assistant_keeps_their_profile(agency):
    profile = AssistantProfileFactory(agency=agency, capacity=9)
    membership = profile.membership
    with scopes_disabled():
        Membership.objects.filter(pk=membership.pk).update(is_active=False)
    invitation = InvitationFactory(agency=agency, email=membership.user.email)
    account_services.invitation_accept(invitation=invitation, user=membership.user)
    with agency_scope(agency):
        assert AssistantProfile.objects.get().capacity == 9


def seed():
    call_command("seed_demo", stdout=io.StringIO())
    return Agency.objects.get(slug="demo")


def test_the_demo_assistants_have_their_profiles(db):
    agency = seed()
    with agency_scope(agency):
        profiles = {
            p.membership.user.email: p
            for p in AssistantProfile.objects.select_related("membership__user")
        }
        maria, joao = profiles["maria@demo.test"], profiles["joao@demo.test"]
        assert (maria.time_zone, maria.pay_rate, maria.pay_currency) == ("Asia/Manila", 1200, "USD")
        assert (joao.time_zone, joao.pay_rate, joao.pay_currency) == ("Europe/Lisbon", 1500, "USD")
        assert maria.skills.count() >= 3 and joao.skills.count() >= 3
        assert maria.working_hours["mon"] == [["21:00", "24:00"]]

        # A later run keeps what was changed since.
        assistant_profile_update(agency=agency, actor=None, profile=maria, capacity=2)
    seed()
    with agency_scope(agency):
        maria.refresh_from_db()
        assert maria.capacity == 2
        assert AssistantProfile.objects.count() == 2


def test_platform_staff_see_profiles_in_the_admin(agency, other_agency, signed_in, categories):
    profile = AssistantProfileFactory(agency=agency, skills=[categories["bookkeeping"]])
    AssistantProfileFactory(agency=other_agency)
    staff = signed_in(UserFactory(is_staff=True, is_superuser=True))
    changelist = staff.get(reverse("admin:assistants_assistantprofile_changelist"))
    assert changelist.status_code == 200
    assert b"$12.00/h" in changelist.content
    change = reverse("admin:assistants_assistantprofile_change", args=[profile.pk])
    assert staff.get(change).status_code == 200


def test_a_skill_added_in_the_admin_gets_the_profiles_agency(agency, signed_in, categories):
    profile = AssistantProfileFactory(agency=agency)
    staff = signed_in(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:assistants_assistantprofile_change", args=[profile.pk])
    data = {
        "agency": agency.pk,
        "membership": profile.membership.pk,
        "time_zone": profile.time_zone,
        "working_hours": json.dumps(profile.working_hours),
        "capacity": 4,
        "pay_rate": profile.pay_rate,
        "pay_currency": profile.pay_currency,
        "is_active": "on",
        "assistant_skills-TOTAL_FORMS": 1,
        "assistant_skills-INITIAL_FORMS": 0,
        "assistant_skills-0-category": categories["bookkeeping"].pk,
    }
    response = staff.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    with agency_scope(agency):
        [skill] = AssistantSkill.objects.all()
    assert (skill.agency_id, skill.category_id) == (agency.pk, categories["bookkeeping"].pk)
