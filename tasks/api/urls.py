# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns: list = []
