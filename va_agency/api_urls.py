from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import accounts.api.urls
import assistants.api.urls
import billing.api.urls
import clients.api.urls
import contracts.api.urls
import notifications.api.urls
import reports.api.urls
import tasks.api.urls
from accounts.api.views import ApiRootView

app_name = "api"

# Endpoints that act inside one agency; each app adds its own list here.
agency_urlpatterns = [
    *accounts.api.urls.agency_urlpatterns,
    *notifications.api.urls.urlpatterns,
    *clients.api.urls.agency_urlpatterns,
    *assistants.api.urls.agency_urlpatterns,
    *contracts.api.urls.agency_urlpatterns,
    *billing.api.urls.agency_urlpatterns,
    *tasks.api.urls.agency_urlpatterns,
    *reports.api.urls.agency_urlpatterns,
]

urlpatterns = [
    path("", ApiRootView.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page, not an endpoint: OPTIONS would ask its HTML renderer for a template it lacks.
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", http_method_names=["get", "head"]),
        name="docs",
    ),
    *accounts.api.urls.urlpatterns,
    path("a/<slug:agency_slug>/", include(agency_urlpatterns)),
]
