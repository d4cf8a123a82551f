from django.urls import path

from assistants.api import views
from core.api.routers import Router

router = Router()
router.register("assistants", views.AssistantProfileViewSet, basename="assistant")
router.register("client-manuals", views.ClientManualViewSet, basename="client-manual")
router.register("time-off", views.TimeOffViewSet, basename="time-off")

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
    path(
        "assistants/<int:pk>/samples/",
        views.WorkSampleListView.as_view(),
        name="assistant-samples",
    ),
    path("work-samples/<int:pk>/", views.WorkSampleDetailView.as_view(), name="work-sample"),
    path("me/time-off/", views.MyTimeOffListView.as_view(), name="my-time-off"),
    path(
        "me/time-off/<int:pk>/cancel/",
        views.MyTimeOffCancelView.as_view(),
        name="my-time-off-cancel",
    ),
    *router.urls,
]
