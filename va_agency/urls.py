from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import FileResponse
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

import accounts.urls
import assistants.urls
import billing.urls
import clients.urls
import contracts.urls
import notifications.urls
import reports.urls
import tasks.urls
from billing.webhooks import stripe_webhook
from core.health import healthz
from tasks.inbound.views import inbound_email


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """Browsers ask for /favicon.ico on their own, outside the static URL: answer with ours."""
    return FileResponse(open(finders.find("favicon.ico"), "rb"), content_type="image/x-icon")


# Every page that acts inside one agency lives under /a/<agency_slug>/ and is built on
# accounts.access.AgencyViewMixin; tests/test_isolation.py checks each of them.
agency_urlpatterns = [
    *accounts.urls.agency_urlpatterns,
    *notifications.urls.urlpatterns,
    *clients.urls.urlpatterns,
    *assistants.urls.urlpatterns,
    *contracts.urls.urlpatterns,
    *billing.urls.urlpatterns,
    *reports.urls.urlpatterns,
    *tasks.urls.urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("va_agency.api_urls")),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # Called by Stripe, not by a member: outside /a/<slug>/, proven by its signature. The
    # kwarg is not `agency_slug` because no agency scope or membership guards it.
    path("billing/stripe/webhook/<slug:agency>/", stripe_webhook, name="stripe_webhook"),
    # Mail for the agencies, posted by the mail provider and proven by its signature; the
    # agency is read from the address the mail was sent to. Mailgun posts the raw message
    # only to a URL ending in "mime", hence the optional tail.
    re_path(
        r"^inbound/email/(?P<provider>[a-z0-9-]{1,32})/(?:mime)?$",
        inbound_email,
        name="inbound_email",
    ),
    path("a/<slug:agency_slug>/", include(agency_urlpatterns)),
    # Each agency's public page: no sign-in, read inside the agency's scope by its views.
    path("", include("contracts.public_views")),
    *accounts.urls.urlpatterns,
]
