from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootView(APIView):
    """Where the API starts: the caller, the schema, the docs, and their agencies' roots."""

    @extend_schema(responses=OpenApiResponse(description="Links to the rest of the API."))
    def get(self, request):
        from accounts.selectors import memberships_for_user

        def absolute(name, **kwargs):
            return request.build_absolute_uri(reverse(name, kwargs=kwargs))

        return Response(
            {
                "me": absolute("api:me"),
                "schema": absolute("api:schema"),
                "docs": absolute("api:docs"),
                "agencies": [
                    absolute("api:agency-detail", agency_slug=m.agency.slug)
                    for m in memberships_for_user(request.user)
                ],
            }
        )
