from django.urls import path

from clients import views

urlpatterns = [
    path("clients/", views.ClientListView.as_view(), name="client_list"),
    path("clients/new/", views.ClientCreateView.as_view(), name="client_create"),
    path("clients/<int:pk>/", views.ClientDetailView.as_view(), name="client_detail"),
    path("clients/<int:pk>/edit/", views.ClientUpdateView.as_view(), name="client_update"),
    path(
        "clients/<int:pk>/manual/edit/",
        views.ClientManualUpdateView.as_view(),
        name="client_manual_update",
    ),
    path("our-account/", views.OurAccountView.as_view(), name="our_account"),
    path("client-manuals/", views.ManualListView.as_view(), name="manual_list"),
    path("client-manuals/<int:pk>/", views.ManualView.as_view(), name="manual_view"),
]
