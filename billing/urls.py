from django.urls import path

from billing import views

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
    path("billing/charges/", views.ChargeListView.as_view(), name="charge_list"),
    path(
        "billing/charges/<int:pk>/write-off/",
        views.ChargeWriteOffView.as_view(),
        name="charge_write_off",
    ),
    path(
        "billing/charges/<int:pk>/approve/",
        views.ChargeReleaseView.as_view(),
        name="charge_release",
    ),
    path("our-invoices/", views.OurInvoicesView.as_view(), name="our_invoices"),
    path("our-invoices/<int:pk>/", views.OurInvoiceDetailView.as_view(), name="our_invoice_detail"),
    path("billing/invoices/", views.InvoiceListView.as_view(), name="invoice_list"),
    path("billing/invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("billing/invoices/<int:pk>/void/", views.InvoiceVoidView.as_view(), name="invoice_void"),
    path(
        "billing/invoices/<int:pk>/resend/",
        views.InvoiceResendView.as_view(),
        name="invoice_resend",
    ),
    path("settings/stripe/", views.StripeSettingsView.as_view(), name="stripe_settings"),
]
