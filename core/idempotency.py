"""Idempotency keys: a request sent twice acts once, and the repeat gets the first answer.

The API honours an `Idempotency-Key` header on the POSTs that create or claim something
(`IdempotentPostMixin`), as Stripe does: the same key with the same request replays the
first answer, marked `Idempotent-Replayed: true`; the same key with another method, path
or body is refused (422). Pages do the same with a one-time key in each form that creates
or claims (`{% submit_once %}`, read by the page base class): a double click, a form sent
again from the browser's history or a retried network request replays the first answer.
Keys are kept per agency and user for 24 hours.

Only an answer that did the work is kept. The key's row is written in the same transaction
as the work it guards, so a refusal (bad input, a broken rule, no permission: any 4xx on
the API) or a crash rolls both back: nothing happened, so a corrected retry with the same
key runs. That is Stripe's rule (no result is saved for a request that failed validation),
and here every refusal is one that changed nothing, since the services are all or nothing.
A repeat that arrives while the first request runs waits on the row (the unique index, or
SQLite's write lock) and then replays the first answer.
"""

import datetime as dt
import hashlib
from collections.abc import Callable

from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions, status

from core.errors import ApplicationError
from core.models import IdempotencyKey

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was first used with another request."""


class KeyInUse(Exception):
    """Another request with the key came and went while this one looked for its answer."""


def fingerprint(method: str, path: str, body_digest: str = "") -> str:
    return hashlib.sha256(f"{method}\n{path}\n{body_digest}".encode()).hexdigest()


def run_once(
    *,
    agency,
    user,
    key: str,
    request_fingerprint: str,
    run: Callable[[], HttpResponse],
    keep: Callable[[HttpResponse], bool],
) -> HttpResponse:
    """Answer a request that carries `key`: the stored answer when the key was used before
    with the same request, else `run()`'s, stored when `keep` says it did the work.

    Raises KeyReused when the key was first used with another request, KeyInUse when
    requests with the key keep coming and going under this one."""
    with transaction.atomic():
        record = _claim(agency=agency, user=user, key=key, request_fingerprint=request_fingerprint)
        if record.status_code:
            return replay(record)
        response = run()
        if keep(response) and not response.streaming:
            record.status_code = response.status_code
            record.headers = {
                name: value
                for name, value in response.items()
                if name.lower() in ("content-type", "location") or name.lower().startswith("hx-")
            }
            record.body = response.content
            record.save(update_fields=["status_code", "headers", "body"])
        else:
            transaction.set_rollback(True)
        return response


def _claim(*, agency, user, key, request_fingerprint) -> IdempotencyKey:
    """This key's row, made now (status 0) or as an earlier request left it (answered)."""
    rows = IdempotencyKey.objects.filter(agency=agency, user=user, key=key)
    for _attempt in range(3):
        record = rows.first()
        if record is not None and record.created_at <= timezone.now() - LIFETIME:
            record.delete()  # expired: the key is new again
            record = None
        if record is not None:
            if record.fingerprint != request_fingerprint:
                raise KeyReused(key)
            return record
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    agency=agency, user=user, key=key, fingerprint=request_fingerprint
                )
        except IntegrityError:
            continue  # another request with the key committed first: read its answer
    raise KeyInUse(key)


def replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status_code)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def purge_expired(now=None) -> int:
    """Remove keys past their lifetime (beat runs this; a late one is refused anyway)."""
    cutoff = (now or timezone.now()) - LIFETIME
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# -- pages --------------------------------------------------------------------------------


def page_key(request) -> str | None:
    key = request.POST.get(FORM_FIELD) or request.headers.get(HEADER)
    return key[:MAX_KEY_LENGTH] if key else None


def page_once(request, *, agency, run: Callable[[], HttpResponse]) -> HttpResponse:
    """A page's POST: once per form key. The key stands for one form as it was shown, so a
    repeat replays the first answer whatever it sends (a page shown again for its errors
    carries a new key). Without a key the POST simply runs."""
    key = page_key(request) if request.method == "POST" else None
    if key is None:
        return run()
    try:
        return run_once(
            agency=agency,
            user=request.user,
            key=key,
            request_fingerprint=fingerprint(request.method, request.path),
            run=run,
            keep=lambda response: response.status_code < 400,
        )
    except (KeyReused, KeyInUse):
        return HttpResponse(
            "This form was already sent from another page. Reload the page and try again.",
            status=status.HTTP_409_CONFLICT,
            content_type="text/plain; charset=utf-8",
        )


# -- the API --------------------------------------------------------------------------------


class KeyInUseError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = "Another request with this Idempotency-Key is being answered; try again."


class KeyReusedError(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was first used with another request; use a new key for a new request."
    )


class IdempotentPostMixin:
    """For API views whose POSTs create or claim something: an `Idempotency-Key` header makes
    a POST act once (see the module). Put it before the agency base class; it needs the
    view's `agency`, which that class sets while it checks the caller."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        handler = getattr(self, "post", None)
        if request.method != "POST" or key is None or handler is None:
            return
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise ApplicationError(
                f"An {HEADER} has 1 to {MAX_KEY_LENGTH} characters.",
                code="idempotency_key_invalid",
                extra={"field": HEADER},
            )
        request_fingerprint = fingerprint(
            request.method, request.get_full_path(), _body_digest(request)
        )

        def once(request, *args, **kwargs):
            def run():
                response = self.finalize_response(request, handler(request, *args, **kwargs))
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

            try:
                return run_once(
                    agency=self.agency,
                    user=request.user,
                    key=key,
                    request_fingerprint=request_fingerprint,
                    run=run,
                    keep=lambda response: 200 <= response.status_code < 300,
                )
            except KeyReused:
                raise KeyReusedError() from None
            except KeyInUse:
                raise KeyInUseError() from None

        # DRF looks the handler up after initial(): the guarded one answers this request.
        self.post = once


def _body_digest(request) -> str:
    """The body as sent; a multipart body by its fields and the files' contents (its
    boundary differs between two sendings of the same form)."""
    digest = hashlib.sha256()
    if request.content_type.startswith("multipart/"):
        data = request.data
        for name in sorted(data):
            for value in data.getlist(name):
                digest.update(f"{name}=".encode())
                if isinstance(value, File):
                    digest.update(f"{value.name}:{value.size}:".encode())
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(str(value).encode())
                digest.update(b"\n")
    else:
        digest.update(request._request.body)
    return digest.hexdigest()
