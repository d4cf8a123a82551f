"""Quotes and proposals: a client asks for work the agency has not priced for them; staff
answer with a proposal, the lines and terms of a draft contract with an expiry and a note;
the client accepts it online, which activates the contract, or declines it with a reason.

A proposal is a version: what was offered is kept as it stood when sent (`offer`), so what
the client accepted can always be read back, and an accepted or declined one never changes.
Sending again after the draft was edited makes the next version and replaces the one
waiting. Accepting checks that the draft still says what the proposal offered, under a lock
on the proposal, so a double click or two people accepting at once activate it once.
"""

import datetime as dt

from django.db import transaction
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from clients.models import Client
from contracts import hooks
from contracts.models import (
    ContractLine,
    ContractStatus,
    ContractTerms,
    Proposal,
    ProposalStatus,
    QuoteRequest,
    QuoteRequestStatus,
    ServiceContract,
)
from contracts.services import ALL_TERMS_FIELDS, contract_transition
from core.audit import audit_record
from core.errors import ApplicationError, text_within
from core.roles import Role
from notifications.models import NotificationKind
from notifications.selectors import client_recipients, staff_recipients
from notifications.services import notify

DETAILS_LIMIT = 5_000
NOTE_LIMIT = 5_000
REASON_LIMIT = 2_000
# How long a proposal may stay open, at most.
LONGEST_VALIDITY = dt.timedelta(days=366)

HEADER_FIELDS = (
    "name",
    "currency",
    "billing_cadence",
    "collection_method",
    "days_until_due",
    "requires_approval",
)
TERMS_FIELDS = tuple(sorted(ALL_TERMS_FIELDS | {"pricing_model"}))


# -- what is offered ------------------------------------------------------------------------


def offer_of(contract: ServiceContract) -> dict:
    """The draft's header, dates, lines and terms, as plain values (two queries). The same
    function makes the offer when it is sent and checks it when it is accepted."""
    lines = (
        ContractLine.objects.filter(
            agency_id=contract.agency_id, contract=contract, removed_at=None
        )
        .select_related("service")
        .order_by("service__name", "pk")
    )
    terms_by_line = {}
    for terms in ContractTerms.objects.filter(
        agency_id=contract.agency_id, line__contract=contract, line__removed_at=None
    ).order_by("line_id", "-effective_from"):
        terms_by_line.setdefault(terms.line_id, terms)  # a draft's lines have one terms row
    return {
        **{field: getattr(contract, field) for field in HEADER_FIELDS},
        "starts_on": contract.starts_on.isoformat(),
        "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
        "lines": [
            {
                "service_id": line.service_id,
                "service": line.service.name,
                "terms": {field: getattr(terms_by_line[line.pk], field) for field in TERMS_FIELDS},
            }
            for line in lines
            if line.pk in terms_by_line
        ],
    }


def offered_contract(proposal: Proposal) -> ServiceContract:
    """The offer as an unsaved contract, so the pages show it as they show contracts."""
    offer = proposal.offer
    return ServiceContract(
        **{field: offer[field] for field in HEADER_FIELDS},
        starts_on=dt.date.fromisoformat(offer["starts_on"]),
        ends_on=dt.date.fromisoformat(offer["ends_on"]) if offer["ends_on"] else None,
    )


def offered_lines(proposal: Proposal) -> list[dict]:
    """Each offered line: the service's name and its terms as an unsaved terms row."""
    return [
        {"service": line["service"], "terms": ContractTerms(**line["terms"])}
        for line in proposal.offer["lines"]
    ]


def proposal_expired(proposal: Proposal, now: dt.datetime | None = None) -> bool:
    return proposal.status == ProposalStatus.SENT and proposal.expires_at <= (now or timezone.now())


def proposal_state(proposal: Proposal, now: dt.datetime | None = None) -> str:
    """What the proposal's people see: its status, or "Expired" once its time has passed."""
    if proposal_expired(proposal, now):
        return "Expired"
    return proposal.get_status_display()


# -- reads ----------------------------------------------------------------------------------


def proposal_list(*, agency, client: Client | None = None) -> QuerySet[Proposal]:
    """Proposals newest first, with what a list shows (one query)."""
    rows = Proposal.objects.filter(agency=agency).select_related("client", "contract")
    if client is not None:
        rows = rows.filter(client=client)
    return rows.order_by("-sent_at", "-pk")


def quote_request_list(
    *, agency, client: Client | None = None, status: str | None = None
) -> QuerySet[QuoteRequest]:
    rows = QuoteRequest.objects.filter(agency=agency).select_related("client", "requested_by__user")
    if client is not None:
        rows = rows.filter(client=client)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")


# What the client's contracts page shows of each (the newest; a client has a handful).
CLIENT_PAGE_ROWS = 20


def client_proposals_context(agency, client: Client) -> dict:
    """The client's newest proposals (with their state) and quote requests, for their
    contracts page: two queries, however many there are."""
    rows = list(proposal_list(agency=agency, client=client)[: CLIENT_PAGE_ROWS + 1])
    now = timezone.now()
    for proposal in rows:
        proposal.state = proposal_state(proposal, now)
    return {
        "proposals": rows[:CLIENT_PAGE_ROWS],
        "more_proposals": len(rows) > CLIENT_PAGE_ROWS,
        "quotes": list(quote_request_list(agency=agency, client=client)[:CLIENT_PAGE_ROWS]),
    }


# -- a client asks ---------------------------------------------------------------------------


def quote_request_create(*, agency, actor, membership: Membership, details: str) -> QuoteRequest:
    """A client member describes what they need; the agency's staff are told."""
    if membership.role != Role.CLIENT or membership.client_id is None:
        raise ApplicationError("Only a client's people ask for quotes.", code="quote_not_client")
    details = text_within(details, limit=DETAILS_LIMIT, field="details", label="What you need")
    if not details:
        raise ApplicationError(
            "Say what you need, so the agency can price it.",
            code="quote_details_required",
            extra={"field": "details"},
        )
    with transaction.atomic():
        quote = QuoteRequest.objects.create(
            agency=agency, client_id=membership.client_id, requested_by=membership, details=details
        )
        audit_record(agency=agency, actor=actor, action="quote.requested", target=quote)
        client = membership.client
        for recipient in staff_recipients(agency=agency):
            notify(
                agency=agency,
                recipient=recipient,
                kind=NotificationKind.QUOTE_REQUESTED,
                target=quote,
                occasion="requested",
                title=f"{client.name} asks for a quote",
                body=details[:500],
                link=reverse(
                    "quote_request_detail", kwargs={"agency_slug": agency.slug, "pk": quote.pk}
                ),
            )
    return quote


def quote_request_close(*, agency, actor, quote: QuoteRequest) -> QuoteRequest:
    """Staff close a request they will not (or no longer) answer."""
    with transaction.atomic():
        quote = QuoteRequest.objects.select_for_update().get(agency=agency, pk=quote.pk)
        if quote.status == QuoteRequestStatus.CLOSED:
            return quote
        quote.status = QuoteRequestStatus.CLOSED
        quote.closed_at = timezone.now()
        quote.save(update_fields=["status", "closed_at"])
        audit_record(agency=agency, actor=actor, action="quote.closed", target=quote)
    return quote


# -- staff offer ------------------------------------------------------------------------------


def proposal_send(
    *,
    agency,
    actor,
    contract: ServiceContract,
    expires_at: dt.datetime,
    note: str = "",
    quote: QuoteRequest | None = None,
) -> Proposal:
    """Offer a draft contract to its client as the next version of its proposal: the one
    waiting, if any, is replaced. The draft needs a service; the expiry is in the future
    (at most a year away); the quote request, if named, is the same client's."""
    note = text_within(note, limit=NOTE_LIMIT, field="note", label="The note")
    now = timezone.now()
    if expires_at <= now:
        raise ApplicationError(
            "Choose an expiry after now.",
            code="proposal_expiry_past",
            extra={"field": "expires_at"},
        )
    if expires_at > now + LONGEST_VALIDITY:
        raise ApplicationError(
            "A proposal can stay open for a year at most.",
            code="proposal_expiry_too_late",
            extra={"field": "expires_at"},
        )
    if quote is not None and quote.client_id != contract.client_id:
        raise ApplicationError(
            "That quote request is another client's.",
            code="proposal_quote_other_client",
            extra={"field": "quote_request"},
        )
    with transaction.atomic():
        contract = (
            ServiceContract.objects.select_for_update()
            .select_related("client")
            .get(agency=agency, pk=contract.pk)
        )
        if contract.status != ContractStatus.DRAFT:
            raise ApplicationError(
                "Only a draft contract can be proposed: this one is "
                f"{contract.get_status_display().lower()}.",
                code="proposal_contract_not_draft",
            )
        offer = offer_of(contract)
        if not offer["lines"]:
            raise ApplicationError(
                "Add at least one service before proposing the contract.",
                code="proposal_no_lines",
            )
        waiting = Proposal.objects.filter(
            agency=agency, contract=contract, status=ProposalStatus.SENT
        )
        replaced = list(waiting.values_list("pk", flat=True))
        waiting.update(status=ProposalStatus.SUPERSEDED, decided_at=now)
        version = (
            Proposal.objects.filter(agency=agency, contract=contract).aggregate(
                last=Max("version")
            )["last"]
            or 0
        ) + 1
        proposal = Proposal.objects.create(
            agency=agency,
            contract=contract,
            client=contract.client,
            quote_request=quote,
            version=version,
            note=note,
            offer=offer,
            expires_at=expires_at,
            sent_at=now,
            sent_by=actor,
        )
        if quote is not None and quote.status == QuoteRequestStatus.OPEN:
            QuoteRequest.objects.filter(agency=agency, pk=quote.pk).update(
                status=QuoteRequestStatus.ANSWERED
            )
        audit_record(
            agency=agency,
            actor=actor,
            action="proposal.sent",
            target=proposal,
            contract=contract.pk,
            version=version,
            replaced=replaced,
        )
        link = reverse(
            "our_proposal_detail", kwargs={"agency_slug": agency.slug, "pk": proposal.pk}
        )
        for recipient in client_recipients(agency=agency, client_ids=[contract.client_id]).get(
            contract.client_id, []
        ):
            notify(
                agency=agency,
                recipient=recipient,
                kind=NotificationKind.PROPOSAL_SENT,
                target=proposal,
                occasion=f"v{version}",
                title=f"{agency.name} sent you a proposal: {offer['name']}",
                body=note[:500],
                link=link,
            )
    return proposal


def proposal_withdraw(*, agency, actor, proposal: Proposal) -> Proposal:
    """Staff take back a proposal the client has not answered."""
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(agency=agency, pk=proposal.pk)
        if proposal.status != ProposalStatus.SENT:
            raise ApplicationError(
                f"This proposal is {proposal.get_status_display().lower()}; only one waiting "
                "for the client can be withdrawn.",
                code="proposal_not_waiting",
            )
        proposal.status = ProposalStatus.WITHDRAWN
        proposal.decided_at = timezone.now()
        proposal.decided_by = actor
        proposal.save(update_fields=["status", "decided_at", "decided_by"])
        audit_record(agency=agency, actor=actor, action="proposal.withdrawn", target=proposal)
    return proposal


# -- the client answers ------------------------------------------------------------------------


def proposal_accept(*, agency, actor, membership: Membership, proposal: Proposal) -> Proposal:
    """The client accepts: the contract becomes active on the terms offered. Exactly once:
    under the proposal's lock, an accepted one is returned as it is (a second click changes
    nothing); an expired, declined, withdrawn or replaced one is refused, as is one whose
    draft no longer says what was offered (the agency then sends the new version). What
    the apps above require first (billing: a card, where the contract charges one) is
    checked through `contracts.hooks.proposal_accept_check`."""
    _check_own(membership, proposal)
    with transaction.atomic():
        proposal = (
            Proposal.objects.select_for_update(of=("self",))
            .select_related("contract__client")
            .get(agency=agency, pk=proposal.pk)
        )
        if proposal.status == ProposalStatus.ACCEPTED:
            return proposal
        _check_waiting(proposal)
        contract = proposal.contract
        if contract.status != ContractStatus.DRAFT or offer_of(contract) != proposal.offer:
            raise ApplicationError(
                "The agency has changed this proposal since it was sent; they will send you "
                "the new version.",
                code="proposal_changed",
            )
        hooks.proposal_accept_check(agency=agency, contract=contract)
        contract_transition(agency=agency, actor=actor, contract=contract, to=ContractStatus.ACTIVE)
        _decide(proposal, actor, ProposalStatus.ACCEPTED)
        audit_record(
            agency=agency,
            actor=actor,
            action="proposal.accepted",
            target=proposal,
            contract=contract.pk,
            version=proposal.version,
        )
        _tell_staff(agency, proposal, f"{contract.client.name} accepted “{contract.name}”", "")
    return proposal


def proposal_decline(
    *, agency, actor, membership: Membership, proposal: Proposal, reason: str
) -> Proposal:
    """The client declines, saying why; the contract stays a draft for staff to rework."""
    _check_own(membership, proposal)
    reason = text_within(reason, limit=REASON_LIMIT, field="reason", label="The reason")
    if not reason:
        raise ApplicationError(
            "Tell the agency why, so they can offer something that fits.",
            code="proposal_reason_required",
            extra={"field": "reason"},
        )
    with transaction.atomic():
        proposal = (
            Proposal.objects.select_for_update(of=("self",))
            .select_related("contract__client")
            .get(agency=agency, pk=proposal.pk)
        )
        if proposal.status == ProposalStatus.DECLINED:
            return proposal
        _check_waiting(proposal)
        proposal.decline_reason = reason
        _decide(proposal, actor, ProposalStatus.DECLINED, "decline_reason")
        audit_record(agency=agency, actor=actor, action="proposal.declined", target=proposal)
        _tell_staff(
            agency,
            proposal,
            f"{proposal.contract.client.name} declined “{proposal.contract.name}”",
            reason[:500],
        )
    return proposal


def _check_own(membership: Membership, proposal: Proposal) -> None:
    if membership.role != Role.CLIENT or membership.client_id != proposal.client_id:
        raise ApplicationError(
            "Only the client's own people answer its proposals.", code="proposal_not_yours"
        )


def _check_waiting(proposal: Proposal) -> None:
    if proposal.status != ProposalStatus.SENT:
        raise ApplicationError(
            f"This proposal is {proposal.get_status_display().lower()}: it can no longer be "
            "answered.",
            code="proposal_not_waiting",
        )
    if proposal_expired(proposal):
        raise ApplicationError(
            "This proposal has expired; ask the agency for a new one.", code="proposal_expired"
        )


def _decide(proposal: Proposal, actor, status: str, *fields: str) -> None:
    proposal.status = status
    proposal.decided_at = timezone.now()
    proposal.decided_by = actor if actor is not None and actor.is_authenticated else None
    proposal.save(update_fields=["status", "decided_at", "decided_by", *fields])


def _tell_staff(agency, proposal: Proposal, title: str, body: str) -> None:
    link = reverse("proposal_detail", kwargs={"agency_slug": agency.slug, "pk": proposal.pk})
    for recipient in staff_recipients(agency=agency):
        notify(
            agency=agency,
            recipient=recipient,
            kind=NotificationKind.PROPOSAL_ANSWERED,
            target=proposal,
            occasion=proposal.status,
            title=title,
            body=body,
            link=link,
        )
