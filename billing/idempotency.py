"""Requests to Stripe exactly once, through Stripe's own idempotency rules.

Every request that makes or changes something carries a key derived from our ids, so a
retry (a lost connection, a crashed worker, a duplicate job) gets Stripe's first answer
back instead of doing the work twice. Stripe keeps that first answer once its endpoint
starts running, a 500 included, and replays it to the same key for 24 hours: a key that
got a 500 is spent, and retrying under it only repeats the error.

So after a 500 (`stripe.APIError`), `stripe_once` looks first for what Stripe holds
already (the caller's `find`: an object by its metadata, or a status moved on), since a
500 does not say whether the work was done; only when nothing is there does it send again,
under the key of the next attempt (`<key>-attempt-<n>`). The attempt is kept in the
database (StripeRequestKey, under a row lock), so every worker and every later retry
moves on to the same new key together, and two that saw the same 500 send one request.
"""

from collections.abc import Callable
from typing import TypeVar

import stripe
from django.db import IntegrityError, transaction

from billing.models import StripeRequestKey

T = TypeVar("T")

# A 500 on the fresh key too is left to the caller's own retry (a job's backoff), which
# starts from the attempt reached here, looking first.
SENDS_PER_CALL = 2


def attempt_key(key: str, attempt: int) -> str:
    return key if attempt == 0 else f"{key}-attempt-{attempt}"


def _attempt(agency, key: str) -> int:
    row = StripeRequestKey.objects.filter(agency=agency, key=key).only("attempt").first()
    return row.attempt if row is not None else 0


def _move_on(agency, key: str, spent: int) -> int:
    """The attempt after `spent`, agreed under the row's lock: whoever comes second finds
    it moved on already and uses the same one."""
    with transaction.atomic():
        row = StripeRequestKey.objects.select_for_update().filter(agency=agency, key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    return StripeRequestKey.objects.create(
                        agency=agency, key=key, attempt=spent + 1
                    ).attempt
            except IntegrityError:
                row = StripeRequestKey.objects.select_for_update().get(agency=agency, key=key)
        if row.attempt <= spent:
            row.attempt = spent + 1
            row.save(update_fields=["attempt", "updated_at"])
        return row.attempt


def note_intent(agency, key: str) -> None:
    """Say, before the first send, that a request under `key` is about to go: an object
    Stripe makes for it while its answer is lost (a timeout, a dropped connection, a worker
    killed) can then still be traced from our side, by whoever finds its reason gone
    (`sent_before`), even if no attempt ever met a 500."""
    StripeRequestKey.objects.bulk_create(
        [StripeRequestKey(agency=agency, key=key, attempt=0)], ignore_conflicts=True
    )


def sent_before(agency, key: str) -> bool:
    """Whether a request under `key` may have reached Stripe (see note_intent)."""
    return StripeRequestKey.objects.filter(agency=agency, key=key).exists()


def stripe_once(
    *,
    agency,
    key: str,
    send: Callable[[str], T],
    find: Callable[[], T | None] | None = None,
) -> T:
    """`send(idempotency_key)` once at Stripe. `find()` returns what Stripe already holds
    for this request (or None); without one, a request that met a 500 is sent again
    under the next key (right for requests whose repeat changes nothing that matters)."""
    attempt = _attempt(agency, key)
    sends = 0
    while True:
        if attempt > 0 and find is not None:
            # An earlier key met a 500, which does not say whether the work was done.
            found = find()
            if found is not None:
                return found
        try:
            return send(attempt_key(key, attempt))
        except stripe.APIError:
            attempt = _move_on(agency, key, attempt)
            sends += 1
            if sends == SENDS_PER_CALL:
                raise
