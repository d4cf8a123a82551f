from django.urls import path

from billing.api import tax, views
from core.api.routers import Router

router = Router()
router.register("charges", views.ChargeViewSet, basename="charge")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("tax-rates", tax.TaxRateViewSet, basename="tax-rate")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    path("charges/<int:pk>/release/", views.ChargeReleaseView.as_view(), name="charge-release"),
    path("clients/<int:client_pk>/tax/", tax.ClientTaxView.as_view(), name="client-tax"),
    *router.urls,
]
