from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api import views

router = SimpleRouter()
router.register("charges", views.ChargeViewSet, basename="charge")
router.register("invoices", views.InvoiceViewSet, basename="invoice")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    path("charges/<int:pk>/release/", views.ChargeReleaseView.as_view(), name="charge-release"),
    *router.urls,
]
