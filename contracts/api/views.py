from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, StaffAPIMixin
from contracts import selectors, services
from contracts.api.serializers import (
    CategorySerializer,
    ContractSerializer,
    ContractWriteSerializer,
    LineCreateSerializer,
    LineSerializer,
    ServiceSerializer,
    TermsSerializer,
    TransitionSerializer,
)
from contracts.models import ContractLine, Service, ServiceCategory, ServiceContract
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES, Role


class CategoryViewSet(
    IdempotentPostMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The agency's service categories (assistants' skills are categories). Every member
    reads them; staff add new ones."""

    write_roles = STAFF_ROLES
    serializer_class = CategorySerializer
    queryset = ServiceCategory.objects.none()  # names the model for the schema only
    pagination_class = None

    def get_queryset(self):
        return selectors.category_list(agency=self.agency)

    def perform_create(self, serializer):
        serializer.instance = services.service_category_create(
            agency=self.agency, actor=self.request.user, name=serializer.validated_data["name"]
        )


class ServiceViewSet(
    IdempotentPostMixin,
    StaffAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The service catalogue."""

    serializer_class = ServiceSerializer
    queryset = Service.objects.none()  # names the model for the schema only
    http_method_names = ["get", "post", "patch"]

    def get_queryset(self):
        return selectors.service_list(agency=self.agency)

    def perform_create(self, serializer):
        serializer.instance = services.service_create(
            agency=self.agency, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        services.service_update(
            agency=self.agency,
            actor=self.request.user,
            service=serializer.instance,
            **serializer.validated_data,
        )


class ContractViewSet(
    IdempotentPostMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Service contracts with their lines and every version of their terms.

    Staff see and change all of them; a client member reads their own client's contracts
    (not drafts); assistants have no access (contracts carry prices).
    """

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES
    serializer_class = ContractSerializer
    queryset = ServiceContract.objects.none()  # names the model for the schema only
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        if self.membership.role == Role.CLIENT:
            contracts = selectors.contract_list(
                agency=self.agency, client=self.membership.client, include_drafts=False
            )
        else:
            contracts = selectors.contract_list(agency=self.agency)
        return selectors.with_lines(contracts)

    def contract(self) -> ServiceContract:
        return self.get_object()

    def fresh(self, contract):
        return ContractSerializer(
            selectors.with_lines(ServiceContract.objects.filter(pk=contract.pk)).get()
        ).data

    @extend_schema(request=ContractWriteSerializer, responses={201: ContractSerializer})
    def create(self, request, **kwargs):
        write = ContractWriteSerializer(data=request.data, context=self.get_serializer_context())
        write.is_valid(raise_exception=True)
        contract = services.contract_create(
            agency=self.agency, actor=request.user, **write.validated_data
        )
        return Response(self.fresh(contract), status=status.HTTP_201_CREATED)

    @extend_schema(request=ContractWriteSerializer, responses=ContractSerializer)
    def partial_update(self, request, **kwargs):
        contract = self.contract()
        write = ContractWriteSerializer(
            contract, data=request.data, partial=True, context=self.get_serializer_context()
        )
        write.is_valid(raise_exception=True)
        data = dict(write.validated_data)
        if "client" in data and data.pop("client") != contract.client:
            return Response(
                {
                    "message": "A contract never moves to another client.",
                    "code": "contract_client_frozen",
                    "extra": {"field": "client"},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.contract_update(agency=self.agency, actor=request.user, contract=contract, **data)
        return Response(self.fresh(contract))

    @extend_schema(request=TransitionSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, **kwargs):
        """Activate, pause, resume or end: {"to": "active" | "paused" | "ended"}."""
        contract = self.contract()
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.contract_transition(
            agency=self.agency, actor=request.user, contract=contract, to=body.validated_data["to"]
        )
        return Response(self.fresh(contract))

    @extend_schema(request=LineCreateSerializer, responses={201: LineSerializer})
    @action(detail=True, methods=["post"])
    def lines(self, request, **kwargs):
        """Add a service with its terms."""
        contract = self.contract()
        body = LineCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        line = services.contract_line_add(
            agency=self.agency, actor=request.user, contract=contract, **body.validated_data
        )
        return Response(LineSerializer(line).data, status=status.HTTP_201_CREATED)

    def line(self, line_pk) -> ContractLine:
        return get_object_or_404(
            ContractLine.objects.select_related("contract__client", "service"),
            contract=self.contract(),
            pk=line_pk,
        )

    @extend_schema(request=TermsSerializer, responses={201: TermsSerializer})
    @action(detail=True, methods=["post"], url_path="lines/<int:line_pk>/terms")
    def terms(self, request, line_pk, **kwargs):
        """New terms for a line: replaces a draft's; versions a live contract's from
        `effective_from` (now if omitted)."""
        line = self.line(line_pk)  # 404 before anything is said about the body
        body = TermsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.contract_line_terms_change(
            agency=self.agency, actor=request.user, line=line, **body.validated_data
        )
        return Response(TermsSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="lines/<int:line_pk>")
    def remove_line(self, request, line_pk, **kwargs):
        """Take a service off the contract (kept as history on a live contract)."""
        services.contract_line_remove(
            agency=self.agency, actor=request.user, line=self.line(line_pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
