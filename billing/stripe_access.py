"""Which Stripe account an agency bills through, and a client for it.

An agency may connect its own account (StripeAccount: secret key and webhook signing secret
encrypted at rest with Fernet); otherwise the platform's account (settings
STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET) bills for it. Keys never leave this module in
the clear except to the Stripe client: pages, the API and logs only ever see `masked_key`.
"""

import contextlib
import logging
import os
import re
import threading

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import StripeAccount
from billing.secrets import encrypt
from core.audit import audit_record
from core.errors import ApplicationError

logger = logging.getLogger(__name__)

SECRET_KEY_SHAPE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")
WEBHOOK_SECRET_SHAPE = re.compile(r"^whsec_[A-Za-z0-9+/=_-]{8,}$")


def mask(secret_key: str) -> tuple[str, str]:
    """(prefix, last four) of a key: all anyone is ever shown of it."""
    match = SECRET_KEY_SHAPE.match(secret_key)
    prefix = f"{match.group(1)}_{match.group(2)}_" if match else secret_key[:3]
    return prefix, secret_key[-4:]


# -- clients ------------------------------------------------------------------------------


def _account(agency) -> StripeAccount | None:
    return StripeAccount.objects.filter(agency=agency).first()


# One client per (key, address, options) in each process, so a worker's jobs reuse one kept-
# alive connection per thread instead of opening one per job. The SDK's RequestsClient holds
# a requests.Session per thread, so sharing a client between threads is safe. The cache is
# emptied in a forked child (Celery's prefork pool forks after the parent may have called
# Stripe): a child never writes on a socket its parent also holds.
_clients: dict[tuple, tuple[stripe.StripeClient, stripe.HTTPClient]] = {}
_clients_pid = os.getpid()
_clients_lock = threading.Lock()


def _forget_clients_after_fork() -> None:
    global _clients_pid
    _clients.clear()  # the parent's sockets stay the parent's: not closed, not used
    _clients_pid = os.getpid()


os.register_at_fork(after_in_child=_forget_clients_after_fork)


def close_stripe_clients() -> None:
    """Close this process's connections to Stripe (a worker process shutting down)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for _, http_client in clients:
        with contextlib.suppress(Exception):
            http_client.close()


def _client(secret_key: str) -> stripe.StripeClient:
    options = {}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    cache_key = (
        secret_key,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )
    if os.getpid() != _clients_pid:
        _forget_clients_after_fork()
    held = _clients.get(cache_key)
    if held is not None:
        return held[0]
    with _clients_lock:
        held = _clients.get(cache_key)
        if held is None:
            # Far below the SDK's 80 s: a job waiting on Stripe holds a worker, and a retry
            # with the same idempotency key is safe.
            http_client = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
            client = stripe.StripeClient(
                secret_key,
                max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
                http_client=http_client,
                **options,
            )
            held = _clients[cache_key] = (client, http_client)
    return held[0]


def stripe_enabled_for(agency) -> bool:
    """Whether anything can be billed through Stripe for this agency at all."""
    return bool(settings.STRIPE_SECRET_KEY) or _account(agency) is not None


def stripe_client_for(agency) -> stripe.StripeClient:
    """A Stripe client acting in the agency's account, or the platform's when it has none."""
    account = _account(agency)
    secret_key = account.secret_key if account is not None else settings.STRIPE_SECRET_KEY
    if not secret_key:
        raise ApplicationError(
            "Stripe is not set up: connect the agency's Stripe account.",
            code="stripe_not_configured",
        )
    return _client(secret_key)


def webhook_secret_for(agency) -> str:
    """The secret Stripe signs this agency's webhooks with ("" if there is none)."""
    account = _account(agency)
    if account is not None:
        return account.webhook_secret
    return settings.STRIPE_WEBHOOK_SECRET


# -- services -----------------------------------------------------------------------------


def _probe(secret_key: str) -> None:
    """Prove the key works with a harmless read; a refusal becomes a clear message."""
    try:
        _client(secret_key).v1.customers.list(params={"limit": 1})
    except stripe.AuthenticationError:
        raise ApplicationError(
            "Stripe refused this key. Copy the secret key again from the Stripe dashboard.",
            code="stripe_key_refused",
            extra={"field": "secret_key"},
        ) from None
    except stripe.PermissionError:
        raise ApplicationError(
            "This restricted key may not read customers; it needs customer and invoice access.",
            code="stripe_key_lacks_permission",
            extra={"field": "secret_key"},
        ) from None
    except stripe.StripeError as error:
        raise ApplicationError(
            "Stripe could not be reached to check the key. Try again in a minute.",
            code="stripe_unreachable",
            extra={"error": type(error).__name__},
        ) from None


def stripe_account_connect(*, agency, actor, secret_key: str, webhook_secret: str):
    """Connect (or replace) the agency's Stripe account after proving the key works."""
    secret_key = (secret_key or "").strip()
    webhook_secret = (webhook_secret or "").strip()
    if not SECRET_KEY_SHAPE.match(secret_key):
        raise ApplicationError(
            "That is not a Stripe secret key: it starts with sk_test_, sk_live_, rk_test_ "
            "or rk_live_.",
            code="stripe_key_invalid",
            extra={"field": "secret_key"},
        )
    if webhook_secret and not WEBHOOK_SECRET_SHAPE.match(webhook_secret):
        raise ApplicationError(
            "That is not a webhook signing secret: it starts with whsec_.",
            code="stripe_webhook_secret_invalid",
            extra={"field": "webhook_secret"},
        )
    _probe(secret_key)
    prefix, last4 = mask(secret_key)
    now = timezone.now()
    with transaction.atomic():
        account = StripeAccount.objects.select_for_update().filter(agency=agency).first()
        replaced = account is not None
        account = account or StripeAccount(agency=agency)
        account.secret_key_encrypted = encrypt(secret_key)
        account.webhook_secret_encrypted = encrypt(webhook_secret) if webhook_secret else ""
        account.key_prefix, account.key_last4 = prefix, last4
        account.livemode = "_live_" in prefix
        account.connected_at = now
        account.connected_by = actor if actor is not None and actor.is_authenticated else None
        account.last_checked_at = now
        account.last_check_ok, account.last_check_error = True, ""
        account.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="stripe_account.replaced" if replaced else "stripe_account.connected",
            target=account,
            key=account.masked_key,
            livemode=account.livemode,
            webhook_secret_set=bool(webhook_secret),
        )
    return account


def stripe_account_check(*, agency, actor=None) -> StripeAccount:
    """Check the connected key still works; records the outcome rather than raising."""
    account = _account(agency)
    if account is None:
        raise ApplicationError(
            "This agency has no Stripe account connected.", code="stripe_account_missing"
        )
    try:
        _probe(account.secret_key)
    except ApplicationError as error:
        account.last_check_ok, account.last_check_error = False, error.message[:255]
    else:
        account.last_check_ok, account.last_check_error = True, ""
    account.last_checked_at = timezone.now()
    account.save(update_fields=["last_checked_at", "last_check_ok", "last_check_error"])
    if not account.last_check_ok:
        logger.warning("Stripe key %s of agency %s failed its check", account.masked_key, agency.pk)
    return account
