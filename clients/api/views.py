from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, StaffAPIMixin
from clients import services
from clients.api.serializers import ClientSerializer
from clients.models import Client
from clients.selectors import client_detail, client_list
from core.errors import ApplicationError
from core.idempotency import IdempotentPostMixin
from core.roles import Role

DETAIL_FIELDS = ("name", "billing_email", "time_zone", "currency", "status")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=Client.Status.values,
                description="Only this status.",
            ),
            OpenApiParameter(
                "search", OpenApiTypes.STR, description="Part of the name or billing e-mail."
            ),
        ]
    )
)
class ClientViewSet(
    IdempotentPostMixin,
    StaffAPIMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The agency's clients. PATCH changes details and/or the manual; there is no PUT."""

    serializer_class = ClientSerializer
    # For the schema only (a typed `id` path parameter); requests use get_queryset.
    queryset = Client.objects.none()

    def get_queryset(self):
        status_filter = self.request.query_params.get("status") or None
        if status_filter is not None and status_filter not in Client.Status.values:
            raise ApplicationError(
                f"Unknown status “{status_filter}”; use one of: {', '.join(Client.Status.values)}.",
                code="client_status_invalid",
                extra={"field": "status"},
            )
        return client_list(
            agency=self.agency,
            status=status_filter,
            search=self.request.query_params.get("search"),
        )

    def get_object(self):
        return client_detail(agency=self.agency, pk=self.kwargs["pk"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The same defaults the "Add a client" form starts from.
        data = {
            "time_zone": self.agency.time_zone,
            "currency": self.agency.default_currency,
            **serializer.validated_data,
        }
        client = services.client_create(agency=self.agency, actor=request.user, **data)
        client = client_detail(agency=self.agency, pk=client.pk)
        return Response(self.get_serializer(client).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        client = self.get_object()
        serializer = self.get_serializer(client, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        details = {field: data[field] for field in DETAIL_FIELDS if field in data}
        # Details and manual in one request succeed or fail together.
        with transaction.atomic():
            if details:
                client = services.client_update(
                    agency=self.agency, actor=request.user, client=client, **details
                )
            if "manual" in data:
                client = services.client_manual_update(
                    agency=self.agency, actor=request.user, client=client, manual=data["manual"]
                )
        client = client_detail(agency=self.agency, pk=client.pk)
        return Response(self.get_serializer(client).data)


class OurClientView(AgencyAPIMixin, generics.GenericAPIView):
    """A client member's own client, in the same shape staff see. Read-only."""

    allowed_roles = frozenset({Role.CLIENT})
    serializer_class = ClientSerializer

    def get(self, request, agency_slug):
        client = client_detail(agency=self.agency, pk=self.membership.client_id)
        return Response(self.get_serializer(client).data)
