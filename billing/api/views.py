from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from billing import selectors
from billing.api.serializers import (
    ChargeSerializer,
    ClientChargeSerializer,
    ClientInvoiceSerializer,
    InvoiceSerializer,
    VoidSerializer,
    WriteOffSerializer,
)
from billing.charges import charge_list, charge_release, charge_write_off
from billing.invoicing import invoice_resend, invoice_void
from billing.models import Charge, ChargeStatus, Invoice, InvoiceStatus
from clients.models import Client
from clients.permissions import ClientMayMixin, ClientRight
from core.api.serializers import NoBodySerializer
from core.errors import ApplicationError
from core.roles import STAFF_ROLES, Role


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
class ChargeViewSet(ClientMayMixin, AgencyAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Charges, newest first: one per billed task and one per retainer month. Staff see
    every client's and write off unbilled ones; a client member sees their own client's,
    without the agency's write-off notes."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES
    client_right = ClientRight.INVOICES
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
        request=NoBodySerializer,
        responses=ClientChargeSerializer,
        description="Approve a charge held at the monthly budget cap: it is billed as usual.",
    )
)
class ChargeReleaseView(ClientMayMixin, AgencyAPIMixin, generics.GenericAPIView):
    """The client approves a charge held at their budget cap; staff may record their yes.
    A client member reaches only their own client's charges."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES | {Role.CLIENT}
    client_right = ClientRight.APPROVE
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
    ClientMayMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Invoices, newest first, with their lines. Staff see every client's (drafts too) and
    void or resend them; a client member sees their own client's issued invoices."""

    allowed_roles = STAFF_ROLES | {Role.CLIENT}
    write_roles = STAFF_ROLES
    client_right = ClientRight.INVOICES
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
        """Void an open or uncollectible invoice in Stripe: {"reason": "...", "charges":
        "rebill" | "write_off"} (reason required; audited). Its charges go back to unbilled
        for the next invoice, or are written off."""
        invoice = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invoice = invoice_void(
            agency=self.agency,
            actor=request.user,
            invoice=invoice,
            reason=body.validated_data["reason"],
            charges=body.validated_data["charges"],
        )
        return Response(self.fresh(invoice))

    @extend_schema(request=NoBodySerializer, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, **kwargs):
        """E-mail an open invoice (paid by link) to the client again (audited)."""
        invoice = invoice_resend(agency=self.agency, actor=request.user, invoice=self.get_object())
        return Response(self.fresh(invoice))
