import pytest
from django.core import mail, signing
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import ClientFactory, InvitationFactory, MembershipFactory, UserFactory


@pytest.fixture
def owner(member):
    return member(Role.OWNER).user


def invite(agency, owner, **kwargs):
    with agency_scope(agency):
        return services.invitation_create(agency=agency, actor=owner, **kwargs)


def test_an_invitation_is_audited_and_emailed_once_committed(
    agency, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invitation = invite(agency, owner, email=" New@Person.TEST ", role=Role.ADMIN)
    assert len(callbacks) == 1
    assert invitation.email == "new@person.test"
    assert [m.to for m in mail.outbox] == [["new@person.test"]]
    with agency_scope(agency):
        invitation.refresh_from_db()
        assert invitation.sent_at is not None
        assert AuditEvent.objects.filter(action="invitation.created").count() == 1


def test_a_client_invitation_must_name_the_client(agency, owner):
    with pytest.raises(ApplicationError) as error:
        invite(agency, owner, email="c@x.test", role=Role.CLIENT)
    assert error.value.code == "invitation_client_required"


def test_no_second_pending_invitation_and_no_inviting_members(agency, owner, member):
    invite(agency, owner, email="once@x.test", role=Role.ASSISTANT)
    with pytest.raises(ApplicationError) as error:
        invite(agency, owner, email="ONCE@x.test", role=Role.ADMIN)
    assert error.value.code == "invitation_pending"
    existing = member(Role.ASSISTANT).user
    with pytest.raises(ApplicationError) as error:
        invite(agency, owner, email=existing.email, role=Role.ADMIN)
    assert error.value.code == "invitation_already_member"


def test_a_client_of_another_agency_cannot_be_named(agency, other_agency, owner):
    foreign = ClientFactory(agency=other_agency)
    with pytest.raises(ApplicationError) as error:
        invite(agency, owner, email="c@x.test", role=Role.CLIENT, client=foreign)
    assert error.value.code == "invitation_client_invalid"


def test_the_form_shows_the_error_next_to_the_field(agency, owner, signed_in):
    response = signed_in(owner).post(
        reverse("invitation_create", args=[agency.slug]), {"email": "c@x.test", "role": "client"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "client": ["Choose which client this person belongs to."]
    }
    with agency_scope(agency):
        assert not Invitation.objects.exists()


def test_a_forwarded_link_grants_nothing(agency):
    invitation = InvitationFactory(agency=agency, email="right@x.test")
    wrong = UserFactory(email="wrong@x.test")
    with pytest.raises(ApplicationError) as error:
        services.invitation_accept(invitation=invitation, user=wrong)
    assert error.value.code == "invitation_wrong_user"
    with agency_scope(agency):
        assert not Membership.objects.filter(user=wrong).exists()


def test_withdrawn_expired_and_tampered_links_are_refused(agency, owner, time_machine):
    time_machine.move_to("2026-03-01 09:00Z", tick=False)
    invitation = InvitationFactory(agency=agency)
    token = services.invitation_token(invitation)
    with pytest.raises(ApplicationError) as error:
        services.invitation_from_token(token[:-2] + "xx")
    assert error.value.code == "invitation_invalid"

    time_machine.shift(services.INVITATION_MAX_AGE + 60)
    with pytest.raises(ApplicationError) as error:
        services.invitation_from_token(token)
    assert error.value.code == "invitation_expired"

    fresh = services.invitation_token(invitation)
    with agency_scope(agency):
        services.invitation_revoke(agency=agency, actor=owner, invitation=invitation)
    with pytest.raises(ApplicationError) as error:
        services.invitation_from_token(fresh)
    assert error.value.code == "invitation_revoked"


def test_a_token_names_its_agency_so_ids_cannot_be_swapped(agency, other_agency):
    theirs = InvitationFactory(agency=other_agency)
    forged = signing.dumps({"agency": agency.pk, "invitation": theirs.pk}, salt="wrong-salt")
    with pytest.raises(ApplicationError):
        services.invitation_from_token(forged)
    swapped = signing.dumps(
        {"agency": agency.pk, "invitation": theirs.pk}, salt=services.INVITATION_SALT
    )
    with pytest.raises(ApplicationError) as error:
        services.invitation_from_token(swapped)
    assert error.value.code == "invitation_revoked"  # not found in that agency


def test_the_last_owner_stays(agency, member):
    owner = member(Role.OWNER)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.membership_deactivate(agency=agency, actor=owner.user, membership=owner)
    assert error.value.code == "membership_last_owner"


def test_a_removed_member_loses_access_at_once(agency, member, signed_in):
    owner = member(Role.OWNER).user
    assistant = member(Role.ASSISTANT)
    http = signed_in(assistant.user)
    assert http.get(reverse("dashboard", args=[agency.slug])).status_code == 200
    signed_in(owner).post(reverse("member_remove", args=[agency.slug, assistant.pk]))
    assert http.get(reverse("dashboard", args=[agency.slug])).status_code == 404


def test_a_person_can_belong_to_two_agencies_and_switch(agency, other_agency, signed_in):
    user = UserFactory()
    MembershipFactory(agency=agency, user=user, role=Role.ASSISTANT)
    MembershipFactory(agency=other_agency, user=user, role=Role.ADMIN)
    http = signed_in(user)
    response = http.get(reverse("home"))
    assert response["Location"] == reverse("agency_list")
    page = http.get(reverse("dashboard", args=[other_agency.slug]))
    assert page.templates[0].name == "dashboards/staff.html"
    assert agency.name.encode() in page.content  # the switcher lists the other agency
    # Home now remembers where they last worked.
    assert http.get(reverse("home"))["Location"] == reverse("dashboard", args=[other_agency.slug])
