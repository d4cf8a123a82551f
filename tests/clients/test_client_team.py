"""A client's own team: owners invite colleagues with the rights they will hold, change and
take away rights, remove people; a member without a right is refused wherever that action
is reachable (pages, API, services); a client keeps its last owner."""

import datetime as dt
import importlib
import re

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Invitation, Membership
from billing.models import Charge, ChargeKind, ChargeStatus, Invoice
from clients import team
from clients.models import ClientInvitationRights, ClientMemberRights
from clients.permissions import ClientRight, client_may
from core.errors import ApplicationError
from core.idempotency import HEADER
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import services as task_services
from tests.contracts.factories import ContractFactory, LineFactory
from tests.factories import ClientFactory, InvitationFactory, MembershipFactory, UserFactory
from tests.tasks.factories import TaskFactory

PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture
def acme(agency):
    return ClientFactory(agency=agency, name="Acme Dental")


def person(agency, client, **rights):
    """A member of `client` holding `rights` (is_owner, may_request, ...; defaults else)."""
    membership = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    with scopes_disabled():
        ClientMemberRights.objects.create(
            agency=agency, membership=membership, **{**team.DEFAULT_RIGHTS, **rights}
        )
    return membership


@pytest.fixture
def owner(agency, acme):
    return person(agency, acme, is_owner=True)


def page(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def api_url(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def rights_row(membership):
    with scopes_disabled():
        return ClientMemberRights.objects.get(membership=membership)


# -- inviting ------------------------------------------------------------------------------


def test_an_owner_invites_a_colleague_who_signs_up_into_their_client_with_those_rights(
    agency, acme, owner, signed_in, django_capture_on_commit_callbacks
):
    http = signed_in(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(
            page(agency, "our_team_invite"),
            # A role or a client sent along is not the form's to take: both are fixed.
            {
                "email": "Rita@Acme.test",
                "may_request": "on",
                "may_see_invoices": "on",
                "role": "admin",
                "client": "999",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == page(agency, "our_team")
    with agency_scope(agency):
        invitation = Invitation.objects.get(email="rita@acme.test")
        assert (invitation.role, invitation.client_id) == (Role.CLIENT, acme.pk)
        assert AuditEvent.objects.filter(action="client.colleague_invited").count() == 1
    [message] = [m for m in mail.outbox if m.to == ["rita@acme.test"]]

    # She is new here: signs up from the link (allauth), then accepts.
    rita = HttpClient()
    accept_url = link_in(message)
    assert rita.get(accept_url).status_code == 200
    response = rita.post(
        reverse("account_signup") + f"?next={accept_url}",
        {"email": "rita@acme.test", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == accept_url
    response = rita.post(accept_url, follow=True)
    assert response.templates[0].name == "dashboards/client.html"

    with agency_scope(agency):
        joined = Membership.objects.select_related("client_rights").get(
            user__email="rita@acme.test"
        )
    assert (joined.role, joined.client_id) == (Role.CLIENT, acme.pk)
    rights = joined.client_rights
    assert (rights.is_owner, rights.may_request, rights.may_approve, rights.may_see_invoices) == (
        False,
        True,
        False,
        True,
    )
    # What she may do is what she was given.
    assert rita.get(page(agency, "our_invoices")).status_code == 200
    assert rita.get(page(agency, "client_task_create")).status_code == 200
    task = TaskFactory(agency=agency, contract_line=_line(agency, acme), status="completed")
    refused = rita.post(page(agency, "task_approve", pk=task.pk))
    assert refused.status_code == 403
    assert b"not let you approve" in refused.content


def test_an_owner_cannot_invite_into_another_client_or_manage_it(agency, acme, owner):
    other = ClientFactory(agency=agency)
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        team.client_colleague_invite(
            agency=agency, actor=owner.user, membership=owner, client=other, email="x@y.test"
        )
    assert error.value.code == "client_invalid"
    stranger = person(agency, other)
    with agency_scope(agency), pytest.raises(ApplicationError):
        team.client_member_remove(
            agency=agency, actor=owner.user, membership=owner, client=other, member=stranger
        )


def test_the_first_person_to_join_a_client_owns_it_and_the_next_gets_the_defaults(
    agency, acme, member
):
    staff = member(Role.ADMIN).user
    joined = []
    for email in ("first@acme.test", "second@acme.test"):
        with agency_scope(agency):
            invitation = account_services.invitation_create(
                agency=agency, actor=staff, email=email, role=Role.CLIENT, client=acme
            )
        joined.append(
            account_services.invitation_accept(invitation=invitation, user=UserFactory(email=email))
        )
    first, second = (rights_row(m) for m in joined)
    assert first.is_owner and not second.is_owner
    # Defaults for a new colleague: may request and approve, not see the invoices.
    assert (second.may_request, second.may_approve, second.may_see_invoices) == (
        True,
        True,
        False,
    )
    assert client_may(joined[0], ClientRight.INVOICES)
    assert not client_may(joined[1], ClientRight.INVOICES)


def test_a_member_who_is_not_an_owner_sees_the_team_but_cannot_change_it(
    agency, acme, owner, signed_in, api
):
    colleague = person(agency, acme)
    http = signed_in(colleague.user)
    listing = http.get(page(agency, "our_team"))
    assert listing.status_code == 200
    assert owner.user.email.encode() in listing.content
    assert b'data-testid="invite-colleague"' not in listing.content
    for url in (
        page(agency, "our_team_invite"),
        page(agency, "our_team_member", pk=owner.pk),
    ):
        refused = http.get(url)
        assert refused.status_code == 403
        assert b"Only your company&#x27;s owners" in refused.content
    assert http.post(page(agency, "our_team_member_remove", pk=owner.pk)).status_code == 403
    assert rights_row(owner).membership.is_active

    client_api = api(colleague.user)
    assert client_api.get(api_url(agency, "our-team-member-list")).status_code == 200
    refused = client_api.post(
        api_url(agency, "our-team-invitation-list"), {"email": "x@acme.test"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "client_right_missing"
    assert "owners" in refused.json()["message"]
    assert (
        client_api.patch(
            api_url(agency, "our-team-member-detail", pk=colleague.pk),
            {"may_see_invoices": True},
            format="json",
        ).status_code
        == 403
    )


# -- each right, wherever it is used -----------------------------------------------------


def _line(agency, client):
    contract = ContractFactory(agency=agency, client=client, status="active")
    return LineFactory(agency=agency, contract=contract)


def test_without_the_request_right_no_request_is_made_by_page_api_or_service(
    agency, acme, owner, signed_in, api
):
    line = _line(agency, acme)
    barred = person(agency, acme, may_request=False)
    http = signed_in(barred.user)
    for name in ("client_task_create", "recurring_create"):
        refused = http.get(page(agency, name))
        assert refused.status_code == 403, name
        assert b"not let you request work" in refused.content
    body = {"service": line.service_id, "title": "Book flights"}
    refused = api(barred.user).post(api_url(agency, "task-list"), body, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "client_right_missing"
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        task_services.task_request(
            agency=agency, actor=barred.user, client=acme, service=line.service, title="Flights"
        )
    assert error.value.code == "client_right_missing"
    # Reading their requests is still theirs.
    assert http.get(page(agency, "client_task_list")).status_code == 200
    # And an owner may request.
    assert api(owner.user).post(api_url(agency, "task-list"), body, format="json").status_code == (
        201
    )


def test_without_the_approve_right_work_is_neither_approved_nor_sent_back(
    agency, acme, owner, signed_in, api
):
    line = _line(agency, acme)
    task = TaskFactory(agency=agency, contract_line=line, status="completed")
    barred = person(agency, acme, may_approve=False)
    http = signed_in(barred.user)
    detail = http.get(page(agency, "task_detail", pk=task.pk))
    assert b'data-testid="approve"' not in detail.content
    assert b'data-testid="approve-not-yours"' in detail.content
    for name in ("task_approve", "task_send_back"):
        refused = http.post(page(agency, name, pk=task.pk), {"reason": "Redo it"})
        assert refused.status_code == 403, name
    client_api = api(barred.user)
    for name in ("task-approve", "task-send-back"):
        refused = client_api.post(api_url(agency, name, pk=task.pk), {"reason": "x"}, format="json")
        assert refused.status_code == 403, name
        assert "not let you approve" in refused.json()["message"]
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        task_services.task_approve(agency=agency, actor=barred.user, task=task)
    assert error.value.code == "client_right_missing"
    with agency_scope(agency), pytest.raises(ApplicationError):
        task_services.task_send_back(agency=agency, actor=barred.user, task=task, reason="x")
    task.refresh_from_db()
    assert task.status == "completed" and task.approved_at is None
    assert signed_in(owner.user).post(page(agency, "task_approve", pk=task.pk)).status_code == 302
    task.refresh_from_db()
    assert task.approved_at is not None


def _invoice(agency, client):
    contract = ContractFactory(agency=agency, client=client, status="active")
    with scopes_disabled():
        return Invoice.objects.create(
            agency=agency,
            client=client,
            contract=contract,
            number="INV-7",
            status="open",
            collection_method="send_invoice",
            currency=contract.currency,
            amount_due=4000,
            due_date=timezone.now() + dt.timedelta(days=14),
        )


def test_without_the_invoices_right_no_invoice_page_card_top_up_or_endpoint_opens(
    agency, acme, owner, signed_in, api
):
    invoice = _invoice(agency, acme)
    barred = person(agency, acme)  # the defaults: no invoices
    http = signed_in(barred.user)
    gets = [
        page(agency, "our_invoices"),
        page(agency, "our_invoice_detail", pk=invoice.pk),
        page(agency, "our_invoice_document", pk=invoice.pk),
        page(agency, "our_invoice_document", pk=invoice.pk) + "?format=pdf",
        page(agency, "our_top_up"),
    ]
    for url in gets:
        refused = http.get(url)
        assert refused.status_code == 403, url
        assert b"not let you see invoices" in refused.content
        assert b'data-testid="forbidden"' in refused.content
    for name in ("our_card_setup", "our_card_portal", "our_top_up_confirm"):
        assert http.post(page(agency, name)).status_code == 403, name
    client_api = api(barred.user)
    for url in (
        api_url(agency, "invoice-list"),
        api_url(agency, "invoice-detail", pk=invoice.pk),
        api_url(agency, "charge-list"),
    ):
        refused = client_api.get(url)
        assert refused.status_code == 403, url
        assert refused.json()["code"] == "client_right_missing"

    # The dashboard and the account page leave the money out, and the menu the invoices.
    home = http.get(page(agency, "dashboard")).content.decode()
    assert 'data-testid="owed-card"' not in home
    assert page(agency, "our_invoices") not in home
    account = http.get(page(agency, "our_account")).content.decode()
    assert 'data-testid="account-owed"' not in account
    assert page(agency, "our_invoices") not in account

    # An owner sees all of it.
    owner_http = signed_in(owner.user)
    home = owner_http.get(page(agency, "dashboard")).content.decode()
    assert 'data-testid="owed-card"' in home and "INV-7" in home
    assert owner_http.get(page(agency, "our_invoices")).status_code == 200
    assert api(owner.user).get(api_url(agency, "invoice-list")).status_code == 200


# -- changing rights, owners, removing people ----------------------------------------------


def test_an_owner_changes_a_colleagues_rights_and_removes_them_keeping_their_history(
    agency, acme, owner, signed_in
):
    colleague = person(agency, acme)
    task = TaskFactory(
        agency=agency, contract_line=_line(agency, acme), requested_by=colleague.user
    )
    http = signed_in(owner.user)
    response = http.post(
        page(agency, "our_team_member", pk=colleague.pk),
        {"may_request": "on", "may_see_invoices": "on"},
    )
    assert response.status_code == 302
    rights = rights_row(colleague)
    assert (rights.may_request, rights.may_approve, rights.may_see_invoices) == (True, False, True)
    response = http.post(page(agency, "our_team_member_remove", pk=colleague.pk))
    assert response.status_code == 302
    with agency_scope(agency):
        colleague.refresh_from_db()
        task.refresh_from_db()
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert not colleague.is_active
    assert task.requested_by_id == colleague.user_id  # their history stays
    assert "client.member_rights_changed" in actions and "membership.deactivated" in actions
    assert signed_in(colleague.user).get(page(agency, "dashboard")).status_code == 404


def test_an_owner_withdraws_an_invitation(agency, acme, owner, signed_in, api):
    invitations = [
        InvitationFactory(agency=agency, role=Role.CLIENT, client=acme) for _ in range(2)
    ]
    http = signed_in(owner.user)
    assert (
        http.post(page(agency, "our_team_invitation_revoke", pk=invitations[0].pk)).status_code
        == 302
    )
    answer = api(owner.user).post(
        api_url(agency, "our-team-invitation-revoke", pk=invitations[1].pk), format="json"
    )
    assert answer.status_code == 200
    with agency_scope(agency):
        assert not Invitation.objects.filter(revoked_at=None).exists()


def test_the_last_owner_is_neither_removed_nor_unmade(agency, acme, owner, signed_in, member):
    colleague = person(agency, acme)
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as error:
            team.client_member_remove(
                agency=agency, actor=owner.user, membership=owner, client=acme, member=owner
            )
        assert error.value.code == "client_last_owner"
        with pytest.raises(ApplicationError) as error:
            team.client_member_rights_set(
                agency=agency,
                actor=owner.user,
                membership=owner,
                client=acme,
                member=owner,
                is_owner=False,
            )
        assert error.value.code == "client_last_owner"
    # Nor from the agency's own team page.
    staff = signed_in(member(Role.ADMIN).user)
    response = staff.post(page(agency, "member_remove", pk=owner.pk), follow=True)
    assert b"last owner" in response.content
    # The owner's own form says why, next to the box.
    response = signed_in(owner.user).post(page(agency, "our_team_member", pk=owner.pk), {})
    assert response.status_code == 200
    assert b"last owner" in response.content
    with scopes_disabled():
        owner.refresh_from_db()
    assert owner.is_active and rights_row(owner).is_owner
    # Once someone else owns it, the first may step down.
    with agency_scope(agency):
        team.client_member_rights_set(
            agency=agency,
            actor=owner.user,
            membership=owner,
            client=acme,
            member=colleague,
            is_owner=True,
        )
        team.client_member_remove(
            agency=agency, actor=owner.user, membership=owner, client=acme, member=owner
        )
    assert rights_row(colleague).is_owner


def test_staff_make_and_unmake_owners_from_the_client_page(agency, acme, owner, member, signed_in):
    colleague = person(agency, acme)
    staff = signed_in(member(Role.OWNER).user)
    detail = staff.get(page(agency, "client_detail", pk=acme.pk)).content.decode()
    assert page(agency, "client_member_rights", pk=acme.pk, member_pk=colleague.pk) in detail
    assert detail.count('data-testid="owner-badge"') == 1
    url = page(agency, "client_member_rights", pk=acme.pk, member_pk=colleague.pk)
    assert staff.get(url).status_code == 200
    assert staff.post(url, {"is_owner": "on"}).status_code == 302
    assert rights_row(colleague).is_owner
    url = page(agency, "client_member_rights", pk=acme.pk, member_pk=owner.pk)
    assert staff.post(url, {"may_request": "on"}).status_code == 302
    demoted = rights_row(owner)
    assert not demoted.is_owner and not demoted.may_see_invoices
    # Another client's member is not this client's: 404.
    stranger = person(agency, ClientFactory(agency=agency))
    url = page(agency, "client_member_rights", pk=acme.pk, member_pk=stranger.pk)
    assert staff.get(url).status_code == 404


def test_a_member_from_before_rights_keeps_every_right_but_the_team(agency, acme):
    legacy = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    assert all(
        client_may(legacy, right)
        for right in (ClientRight.REQUEST, ClientRight.APPROVE, ClientRight.INVOICES)
    )
    assert not client_may(legacy, ClientRight.TEAM)


def test_the_data_migration_makes_the_earliest_active_member_owner(agency, acme):
    gone = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme, is_active=False)
    first = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    later = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    migration = importlib.import_module("clients.migrations.0008_client_member_rights")
    migration.backfill(apps, None)
    rows = {m.pk: rights_row(m) for m in (gone, first, later)}
    assert [rows[m.pk].is_owner for m in (gone, first, later)] == [False, True, False]
    assert all(row.may_see_invoices for row in rows.values())


# -- the API -------------------------------------------------------------------------------


def test_the_team_api_invites_once_per_key_changes_rights_and_removes(agency, acme, owner, api):
    http = api(owner.user)
    body = {"email": "Lou@Acme.test", "may_see_invoices": True}
    first = http.post(
        api_url(agency, "our-team-invitation-list"),
        body,
        format="json",
        **{f"HTTP_{HEADER.upper().replace('-', '_')}": "invite-lou"},
    )
    again = http.post(
        api_url(agency, "our-team-invitation-list"),
        body,
        format="json",
        **{f"HTTP_{HEADER.upper().replace('-', '_')}": "invite-lou"},
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["may_see_invoices"] and first.json()["may_approve"]
    with scopes_disabled():
        offered = ClientInvitationRights.objects.get(invitation_id=first.json()["id"])
    assert offered.may_see_invoices

    colleague = person(agency, acme)
    url = api_url(agency, "our-team-member-detail", pk=colleague.pk)
    changed = http.patch(url, {"may_approve": False}, format="json")
    assert changed.status_code == 200
    assert changed.json()["may_approve"] is False and changed.json()["may_request"] is True
    bad = http.patch(url, {"may_approve": "perhaps"}, format="json")
    assert bad.status_code == 400
    last = http.patch(
        api_url(agency, "our-team-member-detail", pk=owner.pk), {"is_owner": False}, format="json"
    )
    assert last.status_code == 400 and last.json()["code"] == "client_last_owner"
    assert http.delete(url).status_code == 204
    listing = http.get(api_url(agency, "our-team-member-list")).json()
    assert [row["email"] for row in listing["results"]] == [owner.user.email]
    assert listing["results"][0]["is_owner"] is True


# -- cost ----------------------------------------------------------------------------------


def test_the_team_page_and_list_cost_the_same_for_one_member_or_many(
    agency, acme, owner, signed_in, api, count_queries
):
    http = signed_in(owner.user)
    client_api = api(owner.user)
    InvitationFactory(agency=agency, role=Role.CLIENT, client=acme)

    def costs():
        return (
            count_queries(lambda: http.get(page(agency, "our_team"))),
            count_queries(lambda: client_api.get(api_url(agency, "our-team-member-list"))),
            count_queries(lambda: client_api.get(api_url(agency, "our-team-invitation-list"))),
        )

    costs()  # warm: the session and the token's first use write once
    one = costs()
    for _ in range(12):
        person(agency, acme, may_see_invoices=True)
        InvitationFactory(agency=agency, role=Role.CLIENT, client=acme)
    assert costs() == one


def test_without_the_approve_right_a_charge_held_at_the_cap_is_not_released(
    agency, acme, owner, signed_in, api
):
    line = _line(agency, acme)
    task = TaskFactory(agency=agency, contract_line=line, status="completed")
    with scopes_disabled():
        charge = Charge.objects.create(
            agency=agency,
            kind=ChargeKind.TASK,
            task=task,
            task_completed_at=timezone.now(),
            contract_line=line,
            terms=line.terms.get(),
            client=acme,
            minutes_logged=60,
            minutes_billed=60,
            amount=4000,
            currency=task.currency,
            description=task.title,
            status=ChargeStatus.HELD,
            idempotency_key=f"charge-task-{task.pk}",
        )
    barred = person(agency, acme, may_approve=False, may_see_invoices=True)
    assert signed_in(barred.user).post(
        page(agency, "charge_release", pk=charge.pk)
    ).status_code == (403)
    refused = api(barred.user).post(api_url(agency, "charge-release", pk=charge.pk), format="json")
    assert refused.status_code == 403
    with scopes_disabled():
        charge.refresh_from_db()
    assert charge.status == ChargeStatus.HELD


def test_an_invitation_sent_by_staff_shows_the_default_rights_it_offers(agency, acme, owner, api):
    InvitationFactory(agency=agency, role=Role.CLIENT, client=acme, email="staff-sent@acme.test")
    [row] = api(owner.user).get(api_url(agency, "our-team-invitation-list")).json()["results"]
    assert (row["email"], row["may_request"], row["may_approve"], row["may_see_invoices"]) == (
        "staff-sent@acme.test",
        True,
        True,
        False,
    )
