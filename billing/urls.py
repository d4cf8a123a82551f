from django.urls import path

from billing import views

# Pages inside one agency, mounted under /a/<agency_slug>/.
urlpatterns = [
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
    path(
        "billing/clients/<int:client_pk>/invoice-now/",
        views.InvoiceClientNowView.as_view(),
        name="invoice_client_now",
    ),
    path("our-invoices/", views.OurInvoicesView.as_view(), name="our_invoices"),
    path("our-invoices/<int:pk>/", views.OurInvoiceDetailView.as_view(), name="our_invoice_detail"),
    path(
        "our-invoices/<int:pk>/document/",
        views.OurInvoiceDocumentView.as_view(),
        name="our_invoice_document",
    ),
    path("our-invoices/card/", views.CardSetupView.as_view(), name="our_card_setup"),
    path("our-invoices/card/manage/", views.CardPortalView.as_view(), name="our_card_portal"),
    path("billing/invoices/", views.InvoiceListView.as_view(), name="invoice_list"),
    path("billing/invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path(
        "billing/invoices/<int:pk>/document/",
        views.InvoiceDocumentView.as_view(),
        name="invoice_document",
    ),
    path("billing/invoices/<int:pk>/void/", views.InvoiceVoidView.as_view(), name="invoice_void"),
    path(
        "billing/invoices/<int:pk>/credit/",
        views.InvoiceCreditView.as_view(),
        name="invoice_credit",
    ),
    path(
        "billing/invoices/<int:pk>/resend/",
        views.InvoiceResendView.as_view(),
        name="invoice_resend",
    ),
    path("settings/stripe/", views.StripeSettingsView.as_view(), name="stripe_settings"),
]
