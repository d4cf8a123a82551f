"""Quotes and proposals: a client asks, staff offer a draft contract as a versioned
proposal, the client accepts (which activates the contract, exactly once) or declines with
a reason; on pages and through the API."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from contracts import proposals
from contracts.models import (
    ContractStatus,
    Proposal,
    ProposalStatus,
    QuoteRequest,
    QuoteRequestStatus,
)
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from notifications.models import Notification, NotificationKind
from tests.contracts.factories import ContractFactory, LineFactory
from tests.factories import ClientFactory


def url(name, agency, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def later(days=14):
    return timezone.now() + dt.timedelta(days=days)


@pytest.fixture
def client_of(agency):
    return ClientFactory(agency=agency, name="Acme Ltd", time_zone="Europe/Berlin")


@pytest.fixture
def draft(agency, client_of):
    contract = ContractFactory(agency=agency, client=client_of, name="Inbox care", status="draft")
    LineFactory(agency=agency, contract=contract)
    return contract


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


@pytest.fixture
def buyer(member, client_of):
    return member(Role.CLIENT, client=client_of)


def send(agency, admin, contract, **kwargs):
    with agency_scope(agency):
        return proposals.proposal_send(
            agency=agency, actor=admin, contract=contract, expires_at=later(), **kwargs
        )


def accept(agency, buyer, proposal):
    with agency_scope(agency):
        return proposals.proposal_accept(
            agency=agency, actor=buyer.user, membership=buyer, proposal=proposal
        )


def test_a_quote_request_is_answered_by_a_proposal_the_client_accepts(
    agency, admin, buyer, draft, signed_in
):
    page = signed_in(buyer.user)
    asked = page.post(url("quote_request_create", agency), {"details": "Our inbox, daily."})
    assert asked.status_code == 302
    with agency_scope(agency):
        quote = QuoteRequest.objects.get()
        assert quote.client_id == buyer.client_id and quote.status == QuoteRequestStatus.OPEN
        assert Notification.objects.filter(
            recipient=admin, kind=NotificationKind.QUOTE_REQUESTED
        ).exists()

    staff = signed_in(admin)
    assert staff.get(url("proposal_list", agency)).status_code == 200
    assert (
        b"Our inbox, daily." in staff.get(url("quote_request_detail", agency, pk=quote.pk)).content
    )
    sent = staff.post(
        url("proposal_send", agency, pk=draft.pk),
        {
            "expires_on": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
            "note": "Five days a week.",
            "quote_request": quote.pk,
        },
    )
    assert sent.status_code == 302, sent.content
    with agency_scope(agency):
        proposal = Proposal.objects.get()
        quote.refresh_from_db()
    assert (proposal.version, proposal.status, quote.status) == (1, "sent", "answered")
    assert proposal.offer["name"] == "Inbox care" and len(proposal.offer["lines"]) == 1
    # Open to the end of the chosen day in the client's zone.
    assert proposal.expires_at.astimezone(dt.UTC).hour in (22, 23)
    with agency_scope(agency):
        assert Notification.objects.filter(
            recipient=buyer.user, kind=NotificationKind.PROPOSAL_SENT
        ).exists()

    mine = page.get(url("our_contracts", agency))
    assert b"Inbox care" in mine.content and b"Waiting for the client" in mine.content
    shown = page.get(url("our_proposal_detail", agency, pk=proposal.pk))
    assert shown.status_code == 200 and b"Five days a week." in shown.content
    assert page.post(url("our_proposal_accept", agency, pk=proposal.pk)).status_code == 302
    assert page.post(url("our_proposal_accept", agency, pk=proposal.pk)).status_code == 302
    draft.refresh_from_db()
    proposal.refresh_from_db()
    assert draft.status == ContractStatus.ACTIVE and proposal.status == ProposalStatus.ACCEPTED
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="proposal.accepted").count() == 1
        assert AuditEvent.objects.filter(action="contract.active").count() == 1
        assert Notification.objects.filter(
            recipient=admin, kind=NotificationKind.PROPOSAL_ANSWERED
        ).exists()


def test_a_new_version_replaces_the_waiting_one_and_an_edited_draft_cannot_be_accepted(
    agency, admin, buyer, draft
):
    first = send(agency, admin, draft)
    # The draft changes after it was sent: the client cannot accept what no longer stands.
    LineFactory(agency=agency, contract=draft)
    with pytest.raises(ApplicationError) as refused:
        accept(agency, buyer, first)
    assert refused.value.code == "proposal_changed"
    second = send(agency, admin, draft)
    first.refresh_from_db()
    assert (first.status, second.version, len(second.offer["lines"])) == ("superseded", 2, 2)
    with pytest.raises(ApplicationError) as replaced:
        accept(agency, buyer, first)
    assert replaced.value.code == "proposal_not_waiting"
    assert accept(agency, buyer, second).status == ProposalStatus.ACCEPTED
    # Accepted is final: nothing more can be sent for that contract, nor declined.
    with pytest.raises(ApplicationError) as active:
        send(agency, admin, draft)
    assert active.value.code == "proposal_contract_not_draft"
    with agency_scope(agency), pytest.raises(ApplicationError):
        proposals.proposal_decline(
            agency=agency, actor=buyer.user, membership=buyer, proposal=second, reason="no"
        )


def test_refusals_say_why(agency, admin, buyer, draft, member):
    empty = ContractFactory(agency=agency, client=draft.client, status="draft")
    with pytest.raises(ApplicationError) as no_lines:
        send(agency, admin, empty)
    assert no_lines.value.code == "proposal_no_lines"
    with agency_scope(agency), pytest.raises(ApplicationError) as past:
        proposals.proposal_send(
            agency=agency,
            actor=admin,
            contract=draft,
            expires_at=timezone.now() - dt.timedelta(minutes=1),
        )
    assert past.value.code == "proposal_expiry_past"
    proposal = send(agency, admin, draft)
    someone_else = member(Role.CLIENT, client=ClientFactory(agency=agency))
    with pytest.raises(ApplicationError) as theirs:
        accept(agency, someone_else, proposal)
    assert theirs.value.code == "proposal_not_yours"
    with agency_scope(agency), pytest.raises(ApplicationError) as no_reason:
        proposals.proposal_decline(
            agency=agency, actor=buyer.user, membership=buyer, proposal=proposal, reason="  "
        )
    assert no_reason.value.code == "proposal_reason_required"
    with agency_scope(agency):
        Proposal.objects.filter(pk=proposal.pk).update(expires_at=timezone.now())
        proposal.refresh_from_db()
    assert proposals.proposal_state(proposal) == "Expired"
    with pytest.raises(ApplicationError) as expired:
        accept(agency, buyer, proposal)
    assert expired.value.code == "proposal_expired"
    draft.refresh_from_db()
    assert draft.status == ContractStatus.DRAFT


def test_a_decline_keeps_the_reason_and_the_draft(agency, admin, buyer, draft, signed_in):
    proposal = send(agency, admin, draft)
    page = signed_in(buyer.user)
    blank = page.post(url("our_proposal_decline", agency, pk=proposal.pk), {"reason": ""})
    assert blank.status_code == 400 and b"This field is required" in blank.content
    done = page.post(
        url("our_proposal_decline", agency, pk=proposal.pk), {"reason": "Too dear for us."}
    )
    assert done.status_code == 302
    proposal.refresh_from_db()
    draft.refresh_from_db()
    assert proposal.status == "declined" and proposal.decline_reason == "Too dear for us."
    assert draft.status == ContractStatus.DRAFT
    staff_page = signed_in(admin).get(url("proposal_detail", agency, pk=proposal.pk))
    assert b"Too dear for us." in staff_page.content


def test_a_card_charging_contract_is_accepted_once_a_card_is_on_file(
    agency, admin, buyer, client_of, monkeypatch
):
    contract = ContractFactory(
        agency=agency,
        client=client_of,
        status="draft",
        collection_method="charge_automatically",
        days_until_due=None,
    )
    LineFactory(agency=agency, contract=contract)
    proposal = send(agency, admin, contract)
    from billing import cards

    monkeypatch.setattr(cards, "card_missing", lambda **kwargs: True)
    with pytest.raises(ApplicationError) as refused:
        accept(agency, buyer, proposal)
    assert refused.value.code == "proposal_needs_card"
    monkeypatch.setattr(cards, "card_missing", lambda **kwargs: False)
    assert accept(agency, buyer, proposal).status == ProposalStatus.ACCEPTED


def test_roles_and_other_clients_on_the_pages(agency, admin, buyer, draft, member, signed_in):
    proposal = send(agency, admin, draft)
    other = signed_in(member(Role.CLIENT, client=ClientFactory(agency=agency)).user)
    assert other.get(url("our_proposal_detail", agency, pk=proposal.pk)).status_code == 404
    assert other.post(url("our_proposal_accept", agency, pk=proposal.pk)).status_code == 404
    assistant = signed_in(member(Role.ASSISTANT).user)
    assert assistant.get(url("proposal_list", agency)).status_code == 403
    assert assistant.get(url("our_proposal_detail", agency, pk=proposal.pk)).status_code == 403
    buyer_page = signed_in(buyer.user)
    assert buyer_page.get(url("proposal_detail", agency, pk=proposal.pk)).status_code == 403
    draft.refresh_from_db()
    assert draft.status == ContractStatus.DRAFT


def test_the_api(agency, admin, buyer, draft, api, member):
    base = f"/api/v1/a/{agency.slug}"
    client_api, staff_api = api(buyer.user), api(admin)
    asked = client_api.post(
        f"{base}/our-quote-requests/",
        {"details": "Bookkeeping"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="q-1",
    )
    assert asked.status_code == 201, asked.content
    assert (
        staff_api.post(f"{base}/our-quote-requests/", {"details": "x"}, format="json").status_code
        == 403
    )
    sent = staff_api.post(
        f"{base}/proposals/",
        {
            "contract": draft.pk,
            "expires_at": later().isoformat(),
            "note": "As discussed.",
            "quote_request": asked.json()["id"],
        },
        format="json",
    )
    assert sent.status_code == 201, sent.content
    body = sent.json()
    assert body["version"] == 1 and body["state"] == "Waiting for the client"
    assert body["offer"]["lines"][0]["terms"]["pricing_model"]
    assert client_api.post(f"{base}/proposals/", {}, format="json").status_code == 403
    assert staff_api.post(f"{base}/our-proposals/{body['id']}/accept/").status_code == 403
    assert client_api.get(f"{base}/proposals/").status_code == 403
    other = api(member(Role.CLIENT, client=ClientFactory(agency=agency)).user)
    assert other.get(f"{base}/our-proposals/{body['id']}/").status_code == 404
    assert other.get(f"{base}/our-proposals/").json()["results"] == []
    bad = client_api.post(f"{base}/our-proposals/{body['id']}/decline/", {}, format="json")
    assert bad.status_code == 400
    accepted = client_api.post(f"{base}/our-proposals/{body['id']}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    again = client_api.post(f"{base}/our-proposals/{body['id']}/accept/")
    assert again.status_code == 200 and again.json()["status"] == "accepted"
    draft.refresh_from_db()
    assert draft.status == ContractStatus.ACTIVE


def test_the_proposal_list_costs_the_same_queries_for_one_or_many(
    agency, admin, client_of, signed_in, count_queries
):
    page = signed_in(admin)

    def make(n):
        for _ in range(n):
            contract = ContractFactory(agency=agency, client=client_of, status="draft")
            LineFactory(agency=agency, contract=contract)
            send(agency, admin, contract)
            with agency_scope(agency):
                QuoteRequest.objects.create(agency=agency, client=client_of, details="more")

    make(1)
    one = count_queries(lambda: page.get(url("proposal_list", agency)))
    make(30)
    many = count_queries(lambda: page.get(url("proposal_list", agency)))
    assert one == many


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the race needs PostgreSQL's row locks (set DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)
def test_two_acceptances_at_once_activate_the_contract_once(agency, admin, buyer, draft):
    proposal = send(agency, admin, draft)
    start = threading.Barrier(2)
    outcomes = []

    def press():
        try:
            start.wait()
            outcomes.append(accept(agency, buyer, proposal).status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["accepted", "accepted"]
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="contract.active").count() == 1
        assert AuditEvent.objects.filter(action="proposal.accepted").count() == 1
