from django.urls import path

from clients import team_views, views

urlpatterns = [
    path("clients/", views.ClientListView.as_view(), name="client_list"),
    path("clients/search/", views.ClientSearchView.as_view(), name="client_search"),
    path("clients/new/", views.ClientCreateView.as_view(), name="client_create"),
    path("clients/<int:pk>/", views.ClientDetailView.as_view(), name="client_detail"),
    path("clients/<int:pk>/edit/", views.ClientUpdateView.as_view(), name="client_update"),
    path(
        "clients/<int:pk>/manual/edit/",
        views.ClientManualUpdateView.as_view(),
        name="client_manual_update",
    ),
    path(
        "clients/<int:pk>/members/<int:member_pk>/",
        team_views.ClientMemberRightsView.as_view(),
        name="client_member_rights",
    ),
    path("our-team/", team_views.OurTeamView.as_view(), name="our_team"),
    path("our-team/invite/", team_views.OurTeamInviteView.as_view(), name="our_team_invite"),
    path(
        "our-team/invitations/<int:pk>/revoke/",
        team_views.OurTeamInvitationRevokeView.as_view(),
        name="our_team_invitation_revoke",
    ),
    path(
        "our-team/members/<int:pk>/",
        team_views.OurTeamMemberView.as_view(),
        name="our_team_member",
    ),
    path(
        "our-team/members/<int:pk>/remove/",
        team_views.OurTeamMemberRemoveView.as_view(),
        name="our_team_member_remove",
    ),
]
