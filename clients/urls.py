from django.urls import path

from clients import views

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
]
