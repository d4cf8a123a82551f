from django.urls import path

from billing.api import views
from core.api.routers import Router

router = Router()
router.register("charges", views.ChargeViewSet, basename="charge")
router.register("invoices", views.InvoiceViewSet, basename="invoice")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    path("charges/<int:pk>/release/", views.ChargeReleaseView.as_view(), name="charge-release"),
    *router.urls,
]
