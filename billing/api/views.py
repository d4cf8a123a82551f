from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, StaffAPIMixin
from billing import selectors, services
from billing.api.serializers import (
    CategorySerializer,
    ChargeSerializer,
    ClientChargeSerializer,
    ClientInvoiceSerializer,
    ContractSerializer,
    ContractWriteSerializer,
    InvoiceSerializer,
    LineCreateSerializer,
    LineSerializer,
    ServiceSerializer,
    TermsSerializer,
    TransitionSerializer,
    VoidSerializer,
    WriteOffSerializer,
)
from billing.charges import charge_list, charge_release, charge_write_off
from billing.invoicing import invoice_resend, invoice_void
from billing.models import (
    Charge,
    ChargeStatus,
    ContractLine,
    Invoice,
    InvoiceStatus,
    Service,
    ServiceCategory,
    ServiceContract,
)
from clients.models import Client
from core.errors import ApplicationError
from core.roles import STAFF_ROLES, Role


class CategoryViewSet(
    AgencyAPIMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
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
    @action(detail=True, methods=["post"], url_path=r"lines/(?P<line_pk>\d+)/terms")
    def terms(self, request, line_pk, **kwargs):
        """New terms for a line: replaces a draft's; versions a live contract's from
        `effective_from` (now if omitted)."""
        body = TermsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.contract_line_terms_change(
            agency=self.agency,
            actor=request.user,
            line=self.line(line_pk),
            **body.validated_data,
        )
        return Response(TermsSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"lines/(?P<line_pk>\d+)")
    def remove_line(self, request, line_pk, **kwargs):
        """Take a service off the contract (kept as history on a live contract)."""
        services.contract_line_remove(
            agency=self.agency, actor=request.user, line=self.line(line_pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=ChargeStatus.values,
                description="Only this status (pending: not invoiced yet).",
            ),
            OpenApiParameter(
                "client", OpenApiTypes.INT, description="Only this client's (staff only)."
            ),
        ]
    )
)
class ChargeViewSet(AgencyAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Charges, newest first: one per billed task and one per retainer month. Staff see
    every client's and write off unbilled ones; a client member sees their own client's,
    without the agency's write-off notes."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES
    serializer_class = ChargeSerializer
    queryset = Charge.objects.none()  # names the model for the schema only

    def get_serializer_class(self):
        if getattr(self, "membership", None) and self.membership.role == Role.CLIENT:
            return ClientChargeSerializer
        return ChargeSerializer

    def get_queryset(self):
        params = self.request.query_params
        status_filter = params.get("status") or None
        if status_filter is not None and status_filter not in ChargeStatus.values:
            raise ApplicationError(
                f"Unknown status “{status_filter}”; use one of: {', '.join(ChargeStatus.values)}.",
                code="charge_status_invalid",
                extra={"field": "status"},
            )
        if self.membership.role == Role.CLIENT:
            client = self.membership.client
        elif params.get("client"):
            client = Client.objects.filter(agency=self.agency, pk=_int_or_none(params["client"]))
            client = client.first()
            if client is None:
                raise ApplicationError(
                    "Unknown client.", code="charge_client_invalid", extra={"field": "client"}
                )
        else:
            client = None
        return charge_list(agency=self.agency, status=status_filter, client=client)

    @extend_schema(request=WriteOffSerializer, responses=ChargeSerializer)
    @action(detail=True, methods=["post"], url_path="write-off")
    def write_off(self, request, **kwargs):
        """Forgive an unbilled charge: {"reason": "..."} (required; audited)."""
        charge = self.get_object()
        body = WriteOffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        charge = charge_write_off(
            agency=self.agency,
            actor=request.user,
            charge=charge,
            reason=body.validated_data["reason"],
        )
        return Response(ChargeSerializer(charge_list(agency=self.agency).get(pk=charge.pk)).data)


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses=ClientChargeSerializer,
        description="Approve a charge held at the monthly budget cap: it is billed as usual.",
    )
)
class ChargeReleaseView(AgencyAPIMixin, generics.GenericAPIView):
    """The client approves a charge held at their budget cap; staff may record their yes.
    A client member reaches only their own client's charges."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES | {Role.CLIENT}
    http_method_names = ["post", "options"]
    serializer_class = ClientChargeSerializer
    queryset = Charge.objects.none()  # names the model for the schema only

    def post(self, request, agency_slug, pk):
        client = self.membership.client if self.membership.role == Role.CLIENT else None
        charge = get_object_or_404(charge_list(agency=self.agency, client=client), pk=pk)
        charge_release(agency=self.agency, actor=request.user, charge=charge)
        serializer = ClientChargeSerializer if client is not None else ChargeSerializer
        return Response(serializer(charge_list(agency=self.agency).get(pk=pk)).data)


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=InvoiceStatus.values),
            OpenApiParameter(
                "client", OpenApiTypes.INT, description="Only this client's (staff only)."
            ),
        ]
    )
)
class InvoiceViewSet(
    AgencyAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Invoices, newest first, with their lines. Staff see every client's (drafts too) and
    void or resend them; a client member sees their own client's issued invoices."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()  # names the model for the schema only

    def get_serializer_class(self):
        if getattr(self, "membership", None) and self.membership.role == Role.CLIENT:
            return ClientInvoiceSerializer
        return InvoiceSerializer

    def get_queryset(self):
        params = self.request.query_params
        status_filter = params.get("status") or None
        if status_filter is not None and status_filter not in InvoiceStatus.values:
            raise ApplicationError(
                f"Unknown status “{status_filter}”; use one of: {', '.join(InvoiceStatus.values)}.",
                code="invoice_status_invalid",
                extra={"field": "status"},
            )
        if self.membership.role == Role.CLIENT:
            return selectors.invoice_list(
                agency=self.agency,
                client=self.membership.client,
                status=status_filter,
                include_drafts=False,
            )
        client = None
        if params.get("client"):
            client = Client.objects.filter(
                agency=self.agency, pk=_int_or_none(params["client"])
            ).first()
            if client is None:
                raise ApplicationError(
                    "Unknown client.", code="invoice_client_invalid", extra={"field": "client"}
                )
        return selectors.invoice_list(agency=self.agency, status=status_filter, client=client)

    def fresh(self, invoice):
        return InvoiceSerializer(selectors.invoice_list(agency=self.agency).get(pk=invoice.pk)).data

    @extend_schema(request=VoidSerializer, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request, **kwargs):
        """Void an open or uncollectible invoice in Stripe: {"reason": "..."} (required;
        audited)."""
        invoice = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invoice = invoice_void(
            agency=self.agency,
            actor=request.user,
            invoice=invoice,
            reason=body.validated_data["reason"],
        )
        return Response(self.fresh(invoice))

    @extend_schema(request=None, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, **kwargs):
        """E-mail an open invoice (paid by link) to the client again (audited)."""
        invoice = invoice_resend(agency=self.agency, actor=request.user, invoice=self.get_object())
        return Response(self.fresh(invoice))
