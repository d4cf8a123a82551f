from contracts.api import plans, proposals, views
from core.api.routers import Router

router = Router()
router.register("service-categories", views.CategoryViewSet, basename="category")
router.register("services", views.ServiceViewSet, basename="service")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("plans", plans.PlanViewSet, basename="plan")
router.register("quote-requests", proposals.QuoteRequestViewSet, basename="quote-request")
router.register(
    "our-quote-requests", proposals.OurQuoteRequestViewSet, basename="our-quote-request"
)
router.register("proposals", proposals.ProposalViewSet, basename="proposal")
router.register("our-proposals", proposals.OurProposalViewSet, basename="our-proposal")

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = router.urls
