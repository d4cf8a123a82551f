from django.urls import path

from contracts import plan_views, proposal_views, public_views, views

# Pages inside one agency, mounted under /a/<agency_slug>/.
urlpatterns = [
    path("services/", views.ServiceListView.as_view(), name="service_list"),
    path("services/categories/", views.CategoryListView.as_view(), name="category_list"),
    path("services/new/", views.ServiceEditView.as_view(), name="service_create"),
    path("services/<int:pk>/edit/", views.ServiceEditView.as_view(), name="service_update"),
    path("contracts/", views.ContractListView.as_view(), name="contract_list"),
    path("contracts/new/", views.ContractCreateView.as_view(), name="contract_create"),
    path("contracts/<int:pk>/", views.ContractDetailView.as_view(), name="contract_detail"),
    path("contracts/<int:pk>/edit/", views.ContractUpdateView.as_view(), name="contract_update"),
    path(
        "contracts/<int:pk>/status/<str:to>/",
        views.ContractTransitionView.as_view(),
        name="contract_transition",
    ),
    path("contracts/<int:pk>/lines/new/", views.LineCreateView.as_view(), name="line_create"),
    path(
        "contracts/<int:pk>/lines/<int:line_pk>/terms/",
        views.TermsChangeView.as_view(),
        name="line_terms",
    ),
    path(
        "contracts/<int:pk>/lines/<int:line_pk>/remove/",
        views.LineRemoveView.as_view(),
        name="line_remove",
    ),
    path("our-contracts/", views.OurContractsView.as_view(), name="our_contracts"),
    *plan_views.urlpatterns,
    *proposal_views.urlpatterns,
    *public_views.agency_urlpatterns,
]
