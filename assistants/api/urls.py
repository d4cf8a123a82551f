from django.urls import path

from assistants.api import views
from core.api.routers import Router

router = Router()
router.register("assistants", views.AssistantProfileViewSet, basename="assistant")
router.register("client-manuals", views.ClientManualViewSet, basename="client-manual")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    # Before the router's assistants/<pk>/, which only matches digits anyway.
    path(
        "assistants/on-shift/",
        views.AssistantOnShiftListView.as_view(),
        name="assistant-on-shift",
    ),
    path(
        "me/assistant-profile/",
        views.MyAssistantProfileView.as_view(),
        name="me-assistant-profile",
    ),
    *router.urls,
]
