"""Cards on file: the card a client's "card on file" invoices are charged to, saved,
replaced and removed by the client's own people on Stripe's pages, never typed into ours.

- Saving a card, or replacing the one on file, is a Stripe Checkout Session in setup mode
  (`card_setup_start`). The member comes back to the invoices page, which finishes it
  (`card_setup_finish`): the card saved becomes the customer's default payment method, the
  one invoices are charged to.
- Managing cards (another one the default, one removed) is Stripe's customer portal
  (`card_portal_url`).
- Stripe's webhooks say the same (`card_event_apply`), so a card saved by someone who
  closed the tab before coming back is made the default all the same.

Which card is the default is Stripe's to keep: nothing of it is stored here but a copy in
the cache for CARD_CACHE_SECONDS (dropped whenever we change it or a webhook says it
changed), so the notices on the dashboard and the contract page cost one Stripe read at
most that often. A saved card is made the default once, and never over a card saved
later: the customer's metadata names the SetupIntent applied last and when its card was
entered (`card_setup`, `card_setup_at`), so a return page opened again, a webhook delivered twice
or late, or an older session's completion, changes nothing; a default chosen in the portal
afterwards stands.
"""

import hashlib
import json
import logging
import re

import stripe
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from billing.idempotency import stripe_once
from billing.invoicing import RETRYABLE, stripe_customer_for
from billing.stripe_access import stripe_client_for, stripe_enabled_for
from clients.models import Client
from contracts.models import CollectionMethod, ContractStatus, ServiceContract
from contracts.services import LIVE
from core.audit import audit_record
from core.errors import ApplicationError

logger = logging.getLogger(__name__)

# The events card_event_apply acts on; billing.webhooks hands it these.
CARD_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "setup_intent.succeeded",
        "payment_method.attached",
        "payment_method.detached",
        "customer.updated",
    }
)
# A second click on "Add a card" within this window (same person, same page) gets the
# first click's Checkout Session back from Stripe instead of a second one.
SETUP_REUSE_SECONDS = 300
CARD_CACHE_SECONDS = 300
CHECKOUT_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")


def _unreachable() -> ApplicationError:
    return ApplicationError(
        "Stripe could not be reached. Try again in a minute.", code="stripe_unreachable"
    )


def _refused(error: stripe.StripeError, doing: str) -> ApplicationError:
    """A Stripe failure as a message for the client's people (never a 500)."""
    if isinstance(error, RETRYABLE):
        return _unreachable()
    logger.warning("Stripe refused to %s: %r", doing, error)
    said = getattr(error, "user_message", None) or "it refused the request"
    return ApplicationError(f"Stripe could not {doing}: {said}", code="card_stripe_refused")


def _stripe_for(agency) -> stripe.StripeClient:
    try:
        return stripe_client_for(agency)
    except ApplicationError:
        raise ApplicationError(
            "Cards cannot be saved yet: the agency has not set up online payments.",
            code="stripe_not_configured",
        ) from None


def _cache_key(agency, customer_id: str) -> str:
    return f"billing:card-on-file:{agency.pk}:{customer_id}"


def _forget(agency, customer_id: str) -> None:
    cache.delete(_cache_key(agency, customer_id))


# -- saving a card ------------------------------------------------------------------------


def card_setup_start(*, agency, actor, client: Client, success_url: str, cancel_url: str) -> str:
    """The URL of Stripe's page (Checkout, setup mode, in the client's currency) where a
    member of the client saves a card to pay their invoices.

    Its idempotency key is the client's, the person's, the SETUP_REUSE_SECONDS window's
    and the request's own (a digest of the parameters), so a double click gets the same
    session; a session of the window already completed or expired is followed by a new
    one, under a key of the session it follows. `success_url` may hold Stripe's
    {CHECKOUT_SESSION_ID}, which Stripe fills in."""
    stripe_client = _stripe_for(agency)
    try:
        customer_id = stripe_customer_for(agency=agency, client=client, stripe_client=stripe_client)
        metadata = {"agency_id": str(agency.pk), "client_id": str(client.pk)}
        params = {
            "mode": "setup",
            "customer": customer_id,
            "currency": client.currency.lower(),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(client.pk),
            "metadata": metadata,
            "setup_intent_data": {"metadata": metadata},
        }
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        window = int(timezone.now().timestamp()) // SETUP_REUSE_SECONDS
        key = f"card-setup-{client.pk}-{actor.pk}-{window}-{digest}"
        for _attempt in range(3):
            session = stripe_once(
                agency=agency,
                key=key,
                # A repeat after a 500 makes at most a second open session, which nobody
                # completes and Stripe expires: nothing to look for first.
                send=lambda key: stripe_client.v1.checkout.sessions.create(
                    params=params, options={"idempotency_key": key}
                ),
            )
            if _replayed(session):
                # Stripe replays the session as it was made: ask how it is now.
                session = stripe_client.v1.checkout.sessions.retrieve(session.id)
            if session.status == "open":
                return session.url
            key = f"card-setup-after-{session.id}"
    except stripe.StripeError as error:
        raise _refused(error, "open its page to save a card") from None
    raise _unreachable()


def _replayed(stripe_object) -> bool:
    """Whether Stripe answered with what it kept for the idempotency key (or cannot say)."""
    response = getattr(stripe_object, "last_response", None)
    if response is None:
        return True
    return any(
        name.lower() == "idempotent-replayed" and value == "true"
        for name, value in response.headers.items()
    )


def card_setup_finish(*, agency, client: Client, session_id: str, actor=None) -> bool:
    """On the way back from Stripe's page: make the card saved there the client's default.

    The session is read from Stripe, never taken from the URL on trust: it must be a
    setup session of this client's own customer, and complete. True when the card became
    the default now; False when nothing was left to do (it was made the default already,
    by this return or by the webhook, or a card saved later stands)."""
    not_ours = ApplicationError("That card setup is not one of yours.", code="card_setup_unknown")
    if not client.stripe_customer_id or not CHECKOUT_SESSION_ID.match(session_id or ""):
        raise not_ours
    stripe_client = _stripe_for(agency)
    try:
        session = stripe_client.v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["setup_intent.payment_method"]}
        )
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            raise not_ours from None
        raise _refused(error, "say whether the card was saved") from None
    except stripe.StripeError as error:
        raise _refused(error, "say whether the card was saved") from None
    if session.customer != client.stripe_customer_id or session.mode != "setup":
        logger.warning(
            "agency %s: client %s came back with session %s of another customer",
            agency.pk,
            client.pk,
            session_id,
        )
        raise not_ours
    if session.status != "complete":
        raise ApplicationError(
            "No card was saved: Stripe's page was left before the card was saved.",
            code="card_setup_incomplete",
        )
    try:
        return _make_default(agency, stripe_client, client, session.setup_intent, actor)
    except stripe.StripeError as error:
        raise _refused(error, "make the card the one on file") from None


def _make_default(agency, stripe_client, client: Client, intent, actor) -> bool:
    """The SetupIntent's card becomes the customer's default payment method: once, and
    only if it is still the customer's and no card saved after it is the default already
    (cards are ordered by when they were entered, their payment method's `created`)."""
    if intent is None or intent.status != "succeeded" or not intent.payment_method:
        return False
    customer_id = client.stripe_customer_id
    card = intent.payment_method
    if isinstance(card, str):
        card = stripe_client.v1.payment_methods.retrieve(card)
    if card.customer != customer_id:
        return False  # removed in the portal meanwhile, or never this client's
    customer = stripe_client.v1.customers.retrieve(
        customer_id, params={"expand": ["invoice_settings.default_payment_method"]}
    )
    held = customer.metadata.to_dict() if customer.metadata else {}
    if held.get("card_setup") == intent.id or card.created < int(held.get("card_setup_at") or 0):
        return False
    settings = customer.invoice_settings
    current = settings.default_payment_method if settings else None
    if isinstance(current, stripe.PaymentMethod) and (
        current.id == card.id or current.created > card.created
    ):
        return False
    try:
        stripe_once(
            agency=agency,
            key=f"card-default-{intent.id}",
            # Setting the same default again changes nothing: no need to look first.
            send=lambda key: stripe_client.v1.customers.update(
                customer_id,
                params={
                    "invoice_settings": {"default_payment_method": card.id},
                    "metadata": {"card_setup": intent.id, "card_setup_at": str(card.created)},
                },
                options={"idempotency_key": key},
            ),
        )
    except stripe.InvalidRequestError as error:
        if (error.param or "").startswith("invoice_settings"):
            return False  # removed in the portal a moment ago
        raise
    finally:
        _forget(agency, customer_id)
    audit_record(
        agency=agency,
        actor=actor,
        action="client.card_saved",
        target=client,
        payment_method=card.id,
        setup_intent=intent.id,
    )
    return True


# -- managing cards -----------------------------------------------------------------------


def card_portal_url(*, agency, client: Client, return_url: str) -> str:
    """The URL of Stripe's customer portal for the client, to make another card the
    default or remove one; it links back to `return_url`. No idempotency key: every click
    gets a short-lived session of its own, and a second one does no harm."""
    stripe_client = _stripe_for(agency)
    try:
        customer_id = stripe_customer_for(agency=agency, client=client, stripe_client=stripe_client)
        session = stripe_client.v1.billing_portal.sessions.create(
            params={"customer": customer_id, "return_url": return_url}
        )
    except stripe.StripeError as error:
        raise _refused(error, "open the page to manage cards") from None
    # Whatever is done there, the next page reads the card afresh.
    _forget(agency, customer_id)
    return session.url


# -- reading ------------------------------------------------------------------------------


def card_on_file(*, agency, client: Client) -> dict | None:
    """The client's default card as Stripe holds it now: {"brand", "last4", "exp_month",
    "exp_year"} (brand and last4 empty for a legacy source), or None when there is none.
    A Stripe failure is an ApplicationError with a message to show."""
    if not client.stripe_customer_id:
        return None
    stripe_client = _stripe_for(agency)
    try:
        customer = stripe_client.v1.customers.retrieve(
            client.stripe_customer_id,
            params={"expand": ["invoice_settings.default_payment_method"]},
        )
    except stripe.StripeError as error:
        raise _refused(error, "show the card on file") from None
    card = None
    settings = getattr(customer, "invoice_settings", None)
    default = settings.default_payment_method if settings else None
    if getattr(customer, "deleted", False):
        card = None
    elif default is not None and not isinstance(default, str) and default.card:
        card = {
            "brand": default.card.brand,
            "last4": default.card.last4,
            "exp_month": default.card.exp_month,
            "exp_year": default.card.exp_year,
        }
    elif default or getattr(customer, "default_source", None):
        card = {"brand": "", "last4": "", "exp_month": None, "exp_year": None}
    cache.set(_cache_key(agency, client.stripe_customer_id), {"card": card}, CARD_CACHE_SECONDS)
    return card


def card_on_file_cached(*, agency, client: Client) -> dict | None:
    """`card_on_file`, from the cache when it was read in the last CARD_CACHE_SECONDS (every
    change we make, and every card webhook, drops it): a page that shows the card does
    not wait on Stripe each time it is opened."""
    if not client.stripe_customer_id:
        return None
    held = cache.get(_cache_key(agency, client.stripe_customer_id))
    if held is not None:
        return held["card"]
    return card_on_file(agency=agency, client=client)


def needs_card_on_file(*, agency, client: Client) -> bool:
    """Whether the client has a live "card on file" contract (active or paused, not past
    its end), so that invoices are meant to be charged to a card."""
    today = timezone.localdate()
    return (
        ServiceContract.objects.filter(
            agency=agency,
            client=client,
            status__in=LIVE,
            collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .exists()
    )


def card_missing(*, agency, client: Client, contract: ServiceContract | None = None) -> bool:
    """Whether to say that a card is missing: the client has a live "card on file"
    contract (or `contract` is one that has not ended: staff hear of it before they
    activate a draft too) and no card on file. When Stripe cannot say, nothing is said
    (no false alarm; the invoice goes by e-mail all the same), and it is logged."""
    if contract is not None:
        if contract.status == ContractStatus.ENDED:
            return False
        if contract.collection_method != CollectionMethod.CHARGE_AUTOMATICALLY:
            return False
    elif not needs_card_on_file(agency=agency, client=client):
        return False
    if not stripe_enabled_for(agency):
        return False
    try:
        return card_on_file_cached(agency=agency, client=client) is None
    except ApplicationError as error:
        logger.warning("agency %s: card of client %s unknown: %s", agency.pk, client.pk, error)
        return False


def check_card_before_acceptance(*, agency, contract: ServiceContract) -> None:
    """contracts.hooks.proposal_accept_check: a proposal whose contract charges the card on
    file is accepted once the client has a card there (as card_missing says)."""
    if card_missing(agency=agency, client=contract.client, contract=contract):
        raise ApplicationError(
            "This contract charges your card on file: add a card on your invoices page, "
            "then accept.",
            code="proposal_needs_card",
        )


# -- webhooks -----------------------------------------------------------------------------


def _client_of(agency, customer_id) -> Client | None:
    if not customer_id or not isinstance(customer_id, str):
        return None
    return Client.objects.filter(agency=agency, stripe_customer_id=customer_id).first()


def card_event_apply(*, agency, event: dict) -> bool:
    """Apply a verified Stripe event about cards; True when it made a card the default.

    Reads only `type` and `data.object.id` of the event (what billing.webhooks verifies),
    and what it acts on is read back from Stripe, never taken from the payload:

    - checkout.session.completed (a setup session of one of the agency's clients) and
      setup_intent.succeeded: the saved card becomes the default, by the rule of
      `_make_default` (once, and never over a card saved later), so the same card saved
      through the return page and the webhook is applied once whichever comes first;
    - customer.updated, payment_method.attached / .detached: Stripe keeps which card is
      the default (a removed default leaves none, and Stripe says so with
      customer.updated); only our cached copy of it is dropped.

    Any other event, and objects of no client of the agency, are ignored (False). Stripe
    unreachable raises (billing.invoicing.RETRYABLE), for the webhook to answer 503 and be
    delivered again; any other Stripe refusal is logged and ignored."""
    event_type = event.get("type")
    object_id = ((event.get("data") or {}).get("object") or {}).get("id") or ""
    if event_type not in CARD_EVENTS or not object_id:
        return False
    if event_type == "customer.updated":
        _forget(agency, object_id)
        return False
    if event_type not in ("checkout.session.completed", "setup_intent.succeeded"):
        return False
    try:
        stripe_client = stripe_client_for(agency)
    except ApplicationError:
        logger.warning("agency %s: card event %s not applied, no key", agency.pk, event.get("id"))
        return False
    try:
        if event_type == "checkout.session.completed":
            session = stripe_client.v1.checkout.sessions.retrieve(
                object_id, params={"expand": ["setup_intent.payment_method"]}
            )
            if session.mode != "setup" or session.status != "complete":
                return False
            customer_id, intent = session.customer, session.setup_intent
        else:
            intent = stripe_client.v1.setup_intents.retrieve(
                object_id, params={"expand": ["payment_method"]}
            )
            customer_id = intent.customer
        client = _client_of(agency, customer_id)
        if client is None:
            return False
        return _make_default(agency, stripe_client, client, intent, None)
    except RETRYABLE:
        raise
    except stripe.StripeError as error:
        logger.error("agency %s: card event %s not applied: %r", agency.pk, event.get("id"), error)
        return False
