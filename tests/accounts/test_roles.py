"""Who may remove whom, and what a member is shown when their role may not open a page."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Membership
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope


def is_active(agency, membership) -> bool:
    with agency_scope(agency):
        return Membership.objects.get(pk=membership.pk).is_active


def test_an_admin_cannot_remove_an_owner(agency, member, signed_in):
    owner, admin = member(Role.OWNER), member(Role.ADMIN)
    http = signed_in(admin.user)
    response = http.post(reverse("member_remove", args=[agency.slug, owner.pk]))
    assert response.status_code == 403
    assert "Only an owner can remove an owner" in response.content.decode()
    assert is_active(agency, owner)
    dashboard = reverse("dashboard", args=[agency.slug])
    assert signed_in(owner.user).get(dashboard).status_code == 200
    # Everyone else is the admin's to remove.
    assistant = member(Role.ASSISTANT)
    assert http.post(reverse("member_remove", args=[agency.slug, assistant.pk])).status_code == 302
    assert not is_active(agency, assistant)


def test_the_service_refuses_an_admin_removing_an_owner(agency, member):
    owner, admin = member(Role.OWNER), member(Role.ADMIN)
    member(Role.OWNER)  # not the last owner: that is another rule
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        services.membership_deactivate(agency=agency, actor=admin.user, membership=owner)
    assert refused.value.code == "membership_owner_only"
    assert is_active(agency, owner)


def test_an_owner_removes_another_owner_who_is_then_locked_out(agency, member, signed_in):
    owner, other_owner = member(Role.OWNER), member(Role.OWNER)
    response = signed_in(owner.user).post(
        reverse("member_remove", args=[agency.slug, other_owner.pk])
    )
    assert response.status_code == 302
    assert not is_active(agency, other_owner)
    dashboard = reverse("dashboard", args=[agency.slug])
    assert signed_in(other_owner.user).get(dashboard).status_code == 404


def test_the_team_page_offers_an_admin_no_way_to_remove_an_owner(agency, member, signed_in):
    owner, admin, assistant = member(Role.OWNER), member(Role.ADMIN), member(Role.ASSISTANT)
    team = reverse("team", args=[agency.slug])

    def removable(http):
        html = http.get(team).content.decode()
        return {
            m.pk
            for m in (owner, admin, assistant)
            if reverse("member_remove", args=[agency.slug, m.pk]) in html
        }

    assert removable(signed_in(admin.user)) == {assistant.pk}
    assert removable(signed_in(owner.user)) == {admin.pk, assistant.pk}


def test_a_page_not_for_the_role_says_so_in_the_layout_with_a_way_back(agency, member, signed_in):
    response = signed_in(member(Role.ASSISTANT).user).get(
        reverse("report_index", args=[agency.slug])
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="topbar"' in html and 'aria-label="Agency"' in html  # the site's layout
    assert "As an assistant you cannot open this page: it is for owners and admins." in html
    assert f'href="{reverse("dashboard", args=[agency.slug])}"' in html
    assert f"Back to {agency.name}" in html


def test_an_endpoint_not_for_the_role_says_which_roles_it_is_for(agency, member, api):
    response = api(member(Role.CLIENT).user).get(reverse("api:member-list", args=[agency.slug]))
    assert response.status_code == 403
    assert response.json() == {
        "message": "As a client you cannot use this endpoint: it is for owners and admins.",
        "code": "permission_denied",
        "extra": {},
    }
