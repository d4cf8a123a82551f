from django.urls import path

from accounts.api import views
from core.api.routers import Router

router = Router()
router.register("invitations", views.InvitationViewSet, basename="invitation")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
]

agency_urlpatterns = [
    path("", views.AgencyDetailView.as_view(), name="agency-detail"),
    path("members/", views.MemberListView.as_view(), name="member-list"),
    *router.urls,
]
