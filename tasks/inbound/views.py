"""Where inbound mail arrives over HTTP (a provider's webhook, proven by its signature,
outside any agency's URL), and the staff action that replaces a client's intake address."""

import hashlib
import hmac
import time

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.access import StaffViewMixin
from clients.models import Client
from tasks.inbound.addresses import intake_address
from tasks.inbound.parsing import MalformedMessage
from tasks.inbound.services import client_intake_regenerate, inbound_mail_receive

# How old a signed call may be: Mailgun's own advice. A token seen within it is a replay.
REPLAY_WINDOW_SECONDS = 5 * 60


class WebhookRefused(Exception):
    def __init__(self, message: str, *, code: str, status: int):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _refused(message: str, code: str, status: int):
    return JsonResponse({"message": message, "code": code, "extra": {}}, status=status)


def mailgun_message(request) -> tuple[bytes, list[str]]:
    """The raw message and its envelope recipients from a Mailgun route's call (its URL
    ending in "mime", so the message comes whole as `body-mime`), once its signature (HMAC-
    SHA256 of timestamp and token under the signing key) and age are checked."""
    data = request.POST
    timestamp, token, signature = (data.get(k, "") for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise WebhookRefused(
            "The call carries no timestamp, token and signature.",
            code="inbound_signature_missing",
            status=400,
        )
    key = settings.INBOUND_EMAIL_SIGNING_KEY
    if not key:
        raise WebhookRefused(
            "Inbound mail is not configured here.", code="inbound_not_configured", status=403
        )
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise WebhookRefused(
            "The signature does not match.", code="inbound_signature_invalid", status=403
        )
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        raise WebhookRefused(
            "The timestamp is not a number of seconds.",
            code="inbound_timestamp_invalid",
            status=400,
        ) from None
    if age > REPLAY_WINDOW_SECONDS:
        raise WebhookRefused(
            "The call is too old (or its clock is wrong).", code="inbound_stale", status=403
        )
    # Shared by every web process (the cache is Redis in production).
    if not cache.add(f"inbound-mailgun-token:{token}", 1, timeout=2 * REPLAY_WINDOW_SECONDS):
        raise WebhookRefused("This call was received already.", code="inbound_replayed", status=403)
    upload = request.FILES.get("body-mime")
    raw = upload.read() if upload is not None else data.get("body-mime", "").encode("utf-8")
    if not raw.strip():
        raise WebhookRefused(
            "The call carries no message (body-mime): route to a URL ending in “mime”.",
            code="inbound_message_missing",
            status=400,
        )
    recipients = [a for a in data.get("recipient", "").split(",") if a.strip()]
    return raw, recipients


PROVIDERS = {"mailgun": mailgun_message}


@csrf_exempt
@require_POST
def inbound_email(request, provider: str):
    read = PROVIDERS.get(provider)
    if read is None:
        raise Http404("No such mail provider.")
    try:
        raw, recipients = read(request)
    except WebhookRefused as refusal:
        return _refused(refusal.message, refusal.code, refusal.status)
    except RequestDataTooBig:
        return _refused("The message is larger than this site accepts.", "inbound_too_large", 413)
    except (MultiPartParserError, TooManyFieldsSent):
        return _refused("The form data cannot be read.", "inbound_body_malformed", 400)
    try:
        received = inbound_mail_receive(raw, recipients=recipients)
    except MalformedMessage as error:
        return _refused(str(error), "inbound_message_malformed", 400)
    # Every message read is answered 200, refused or not: the provider must not retry it.
    return JsonResponse({"outcome": received.outcome, "reason": received.reason})


class ClientIntakeRegenerateView(StaffViewMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        client = get_object_or_404(Client.objects.filter(agency=self.agency), pk=pk)
        intake = client_intake_regenerate(agency=self.agency, actor=request.user, client=client)
        messages.success(
            request,
            f"{client.name}'s request address is now {intake_address(intake.token)}; mail to "
            "any earlier one is no longer read.",
        )
        return redirect("client_detail", agency_slug=self.agency.slug, pk=client.pk)


urlpatterns = [
    path(
        "clients/<int:pk>/intake-address/",
        ClientIntakeRegenerateView.as_view(),
        name="client_intake_regenerate",
    ),
]
