from contracts.api import views
from core.api.routers import Router

router = Router()
router.register("service-categories", views.CategoryViewSet, basename="category")
router.register("services", views.ServiceViewSet, basename="service")
router.register("contracts", views.ContractViewSet, basename="contract")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = router.urls
