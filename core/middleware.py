from django.urls import reverse

from core.tenancy import scopes_disabled


class PlatformAdminScopeMiddleware:
    """The Django admin is platform staff tooling: it sees every agency, and says so here."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = None

    def __call__(self, request):
        if self.admin_prefix is None:
            self.admin_prefix = reverse("admin:index")
        if request.path_info.startswith(self.admin_prefix):
            with scopes_disabled():
                response = self.get_response(request)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response
        return self.get_response(request)
