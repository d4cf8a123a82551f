from django.urls import path

from clients.api import team, views
from core.api.routers import Router

router = Router()
router.register("clients", views.ClientViewSet, basename="client")
router.register("our-team/members", team.OurTeamMemberViewSet, basename="our-team-member")
router.register(
    "our-team/invitations", team.OurTeamInvitationViewSet, basename="our-team-invitation"
)

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    path("our-client/", views.OurClientView.as_view(), name="our-client"),
    *router.urls,
]
