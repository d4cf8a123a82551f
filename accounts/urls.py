from django.urls import path

from accounts import views

# Pages outside any agency: onboarding, the agency picker, invitation links, API tokens.
urlpatterns = [
    path("", views.home, name="home"),
    path("agencies/", views.AgencyListView.as_view(), name="agency_list"),
    path("agencies/new/", views.AgencyCreateView.as_view(), name="agency_create"),
    path(
        "invitations/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"
    ),
    path("me/api-token/", views.api_token, name="api_token"),
]

# Pages inside one agency, mounted under /a/<agency_slug>/.
agency_urlpatterns = [
    path("settings/agency/", views.AgencyDetailsView.as_view(), name="agency_settings"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/invite/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path(
        "team/invitations/<int:pk>/resend/",
        views.InvitationActionView.as_view(action="resend"),
        name="invitation_resend",
    ),
    path(
        "team/invitations/<int:pk>/revoke/",
        views.InvitationActionView.as_view(action="revoke"),
        name="invitation_revoke",
    ),
    path("team/members/<int:pk>/remove/", views.MemberRemoveView.as_view(), name="member_remove"),
]
