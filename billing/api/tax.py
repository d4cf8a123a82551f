"""The API for tax rates and a client's tax details (billing.tax), for staff."""

from django.db.models import F
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from billing.models import ClientTaxRate, TaxRate
from billing.tax import (
    TAX_ID_TYPES,
    client_tax_update,
    tax_rate_archive,
    tax_rate_create,
    tax_rate_update,
)
from clients.models import Client, TaxStatus
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES

TAX_RATE_FIELDS = [
    "id",
    "display_name",
    "percentage",
    "inclusive",
    "country",
    "jurisdiction",
    "description",
    "stripe_tax_rate_id",
    "replaces",
    "created_at",
    "archived_at",
]
WRITABLE = ["display_name", "percentage", "inclusive", "country", "jurisdiction", "description"]


class TaxRateSerializer(serializers.ModelSerializer):
    # Checked by billing.tax (0 to 100, at most four decimals), read back as a string.
    percentage = serializers.CharField(max_length=20, help_text='0 to 100, e.g. "20".')
    inclusive = serializers.BooleanField(
        default=False, help_text="Whether the price already holds the tax."
    )

    class Meta:
        model = TaxRate
        fields = TAX_RATE_FIELDS
        read_only_fields = [name for name in TAX_RATE_FIELDS if name not in WRITABLE]
        extra_kwargs = {
            "country": {"required": False, "allow_blank": True},
            "jurisdiction": {"required": False, "allow_blank": True},
            "description": {"required": False, "allow_blank": True},
        }

    def to_representation(self, rate):
        data = super().to_representation(rate)
        data["percentage"] = f"{rate.percentage.normalize():f}"
        return data


class TaxRateViewSet(
    IdempotentPostMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The agency's tax rates, in force first. A change of percentage or inclusiveness
    archives the rate and answers with its successor (Stripe never changes either)."""

    allowed_roles = STAFF_ROLES
    write_roles = STAFF_ROLES
    serializer_class = TaxRateSerializer
    http_method_names = ["get", "post", "put", "options"]

    def get_queryset(self):
        return TaxRate.objects.filter(agency=self.agency).order_by(
            F("archived_at").asc(nulls_first=True), "display_name", "percentage", "pk"
        )

    def create(self, request, **kwargs):
        body = TaxRateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rate = tax_rate_create(agency=self.agency, actor=request.user, **_fields(body))
        return Response(TaxRateSerializer(rate).data, status=status.HTTP_201_CREATED)

    def update(self, request, **kwargs):
        rate = self.get_object()
        body = TaxRateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        now = tax_rate_update(
            agency=self.agency, actor=request.user, tax_rate=rate, **_fields(body)
        )
        return Response(TaxRateSerializer(now).data)

    @extend_schema(request=NoBodySerializer, responses=TaxRateSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, **kwargs):
        """Archive the rate: no new charge carries it (audited)."""
        rate = tax_rate_archive(agency=self.agency, actor=request.user, tax_rate=self.get_object())
        return Response(TaxRateSerializer(rate).data)


def _fields(body) -> dict:
    data = body.validated_data
    return {name: data.get(name, "") for name in WRITABLE if name != "inclusive"} | {
        "inclusive": data.get("inclusive", False)
    }


class ClientTaxSerializer(serializers.Serializer):
    tax_status = serializers.ChoiceField(choices=TaxStatus.choices)
    tax_id_type = serializers.ChoiceField(
        choices=[("", "None")] + [(kind, label) for kind, (label, _, _) in TAX_ID_TYPES.items()],
        required=False,
        allow_blank=True,
        default="",
    )
    tax_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    tax_rates = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=5,
        help_text="Ids of the rates the client's new work carries.",
    )


def _client_tax(agency, client) -> dict:
    return {
        "tax_status": client.tax_status,
        "tax_id_type": client.tax_id_type,
        "tax_id": client.tax_id,
        "tax_rates": sorted(
            ClientTaxRate.objects.filter(agency=agency, client=client).values_list(
                "tax_rate_id", flat=True
            )
        ),
    }


class ClientTaxView(AgencyAPIMixin, generics.GenericAPIView):
    """A client's tax status (taxable, exempt, reverse charge), tax id and default rates.
    Work charged already keeps its tax; the next charge takes these."""

    allowed_roles = STAFF_ROLES
    write_roles = STAFF_ROLES
    http_method_names = ["get", "put", "options"]
    serializer_class = ClientTaxSerializer
    queryset = Client.objects.none()  # names the model for the schema only

    def client(self, client_pk):
        return get_object_or_404(Client, agency=self.agency, pk=client_pk)

    def get_object(self):
        # DRF's OPTIONS asks for the object to describe PUT.
        return self.client(self.kwargs["client_pk"])

    def get(self, request, agency_slug, client_pk):
        return Response(_client_tax(self.agency, self.client(client_pk)))

    def put(self, request, agency_slug, client_pk):
        client = self.client(client_pk)
        body = ClientTaxSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        client = client_tax_update(
            agency=self.agency,
            actor=request.user,
            client=client,
            tax_status=data["tax_status"],
            tax_id_type=data["tax_id_type"],
            tax_id=data["tax_id"],
            tax_rate_ids=data["tax_rates"],
        )
        return Response(_client_tax(self.agency, client))
