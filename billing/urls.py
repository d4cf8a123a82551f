from django.urls import path

from billing import late_fee_views, tax_views, top_up_views, views

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
    path("billing/tax-rates/", tax_views.TaxRateListView.as_view(), name="tax_rate_list"),
    path("billing/tax-rates/<int:pk>/", tax_views.TaxRateEditView.as_view(), name="tax_rate_edit"),
    path(
        "billing/tax-rates/<int:pk>/archive/",
        tax_views.TaxRateArchiveView.as_view(),
        name="tax_rate_archive",
    ),
    path(
        "billing/clients/<int:client_pk>/tax/",
        tax_views.ClientTaxView.as_view(),
        name="client_tax",
    ),
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
    path(
        "settings/late-payment/",
        late_fee_views.LatePaymentSettingsView.as_view(),
        name="late_payment_settings",
    ),
    path(
        "our-account/top-up/",
        top_up_views.OurTopUpStartView.as_view(),
        name="our_top_up",
    ),
    path(
        "our-account/top-up/confirm/",
        top_up_views.OurTopUpConfirmView.as_view(),
        name="our_top_up_confirm",
    ),
    path(
        "billing/clients/<int:client_pk>/top-up/",
        top_up_views.ClientTopUpStartView.as_view(),
        name="client_top_up",
    ),
    path(
        "billing/clients/<int:client_pk>/top-up/confirm/",
        top_up_views.ClientTopUpConfirmView.as_view(),
        name="client_top_up_confirm",
    ),
]
