from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Membership
from billing.models import (
    Charge,
    ContractLine,
    ContractStatus,
    ContractTerms,
    Invoice,
    Service,
    ServiceCategory,
    ServiceContract,
)
from clients.models import Client
from core.roles import Role


@extend_schema_field(OpenApiTypes.INT)
class AgencyScopedPrimaryKey(serializers.PrimaryKeyRelatedField):
    """A reference to another row of the caller's agency (the active scope fences it)."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceCategory
        fields = ["id", "slug", "name"]
        read_only_fields = ["slug"]


class TemplateFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField(default=False)
    choices = serializers.ListField(child=serializers.CharField(), default=list)


class ServiceSerializer(serializers.ModelSerializer):
    category = AgencyScopedPrimaryKey(model=ServiceCategory)
    request_template = TemplateFieldSerializer(many=True, required=False)

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "category",
            "description",
            "default_pricing_model",
            "default_price",
            "default_turnaround_hours",
            "request_template",
            "is_active",
        ]
        extra_kwargs = {"default_price": {"help_text": "Minor units of the agency's currency."}}


class TermsSerializer(serializers.ModelSerializer):
    """Amounts are integer minor units of the contract's currency; durations are minutes."""

    class Meta:
        model = ContractTerms
        fields = [
            "id",
            "effective_from",
            "pricing_model",
            "flat_fee",
            "hourly_rate",
            "rounding_increment_minutes",
            "minimum_minutes",
            "retainer_fee",
            "included_minutes",
            "rollover_cap_minutes",
            "overage_rate",
            "monthly_budget_cap",
            "cap_behaviour",
        ]
        extra_kwargs = {"effective_from": {"required": False}}


class LineSerializer(serializers.ModelSerializer):
    service = AgencyScopedPrimaryKey(model=Service)
    service_name = serializers.CharField(source="service.name", read_only=True)
    terms = TermsSerializer(many=True, read_only=True)

    class Meta:
        model = ContractLine
        fields = ["id", "service", "service_name", "removed_at", "terms"]
        read_only_fields = ["removed_at"]


class LineCreateSerializer(TermsSerializer):
    service = AgencyScopedPrimaryKey(model=Service)

    class Meta(TermsSerializer.Meta):
        fields = ["service", *TermsSerializer.Meta.fields[1:]]


class ContractSerializer(serializers.ModelSerializer):
    client = AgencyScopedPrimaryKey(model=Client)
    dedicated = serializers.SerializerMethodField()
    lines = LineSerializer(many=True, read_only=True)

    class Meta:
        model = ServiceContract
        fields = [
            "id",
            "client",
            "name",
            "status",
            "starts_on",
            "ends_on",
            "currency",
            "billing_cadence",
            "collection_method",
            "days_until_due",
            "requires_approval",
            "dedicated",
            "lines",
            "activated_at",
            "ended_at",
        ]
        read_only_fields = ["status", "currency", "activated_at", "ended_at"]

    def get_dedicated(self, contract) -> list[int]:
        return [d.membership_id for d in contract.dedicated.all()]


class ContractWriteSerializer(serializers.ModelSerializer):
    client = AgencyScopedPrimaryKey(model=Client)
    dedicated = serializers.ListField(
        child=AgencyScopedPrimaryKey(model=Membership),
        required=False,
        help_text="Membership ids of active assistants.",
    )

    class Meta:
        model = ServiceContract
        fields = [
            "client",
            "name",
            "starts_on",
            "ends_on",
            "billing_cadence",
            "collection_method",
            "days_until_due",
            "requires_approval",
            "dedicated",
        ]

    def validate_dedicated(self, memberships):
        for membership in memberships:
            if membership.role != Role.ASSISTANT:
                raise serializers.ValidationError("Only assistants can be dedicated.")
        return memberships


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=ContractStatus.choices)


CHARGE_FIELDS = [
    "id",
    "kind",
    "task",
    "task_title",
    "contract_line",
    "service_name",
    "terms",
    "client",
    "period_start",
    "minutes_logged",
    "minutes_billed",
    "minutes_from_bank",
    "amount",
    "currency",
    "description",
    "breakdown",
    "status",
    "created_at",
    "released_at",
]


class ClientChargeSerializer(serializers.ModelSerializer):
    """A charge as its client sees it: what was billed and how the price was worked out.
    Whether and why the agency wrote it off is the agency's business beyond the status."""

    task_title = serializers.CharField(source="task.title", read_only=True, allow_null=True)
    service_name = serializers.CharField(source="contract_line.service.name", read_only=True)

    class Meta:
        model = Charge
        fields = CHARGE_FIELDS
        read_only_fields = CHARGE_FIELDS
        extra_kwargs = {
            "amount": {"help_text": "Minor units of `currency`."},
            "minutes_billed": {
                "help_text": "After rounding and the minimum; on a retainer, the overage."
            },
        }


class ChargeSerializer(ClientChargeSerializer):
    """A charge for the agency's staff, with its write-off and Stripe details."""

    class Meta(ClientChargeSerializer.Meta):
        fields = [
            *CHARGE_FIELDS,
            "idempotency_key",
            "stripe_invoice_item_id",
            "written_off_at",
            "written_off_by",
            "written_off_reason",
        ]
        read_only_fields = fields


class WriteOffSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


INVOICE_FIELDS = [
    "id",
    "client",
    "number",
    "status",
    "collection_method",
    "currency",
    "amount_due",
    "amount_paid",
    "hosted_invoice_url",
    "period_start",
    "period_end",
    "due_date",
    "created_at",
    "finalized_at",
    "paid_at",
    "voided_at",
    "lines",
]


class ClientInvoiceSerializer(serializers.ModelSerializer):
    """An invoice as its client sees it, with its lines (the charges on it). Amounts are
    minor units of `currency`; `period_end` is exclusive."""

    lines = ClientChargeSerializer(many=True, read_only=True, source="charges")

    class Meta:
        model = Invoice
        fields = INVOICE_FIELDS
        read_only_fields = INVOICE_FIELDS


class InvoiceSerializer(ClientInvoiceSerializer):
    """An invoice for the agency's staff, with its Stripe and collection details."""

    lines = ChargeSerializer(many=True, read_only=True, source="charges")

    class Meta(ClientInvoiceSerializer.Meta):
        fields = [
            *INVOICE_FIELDS,
            "contract",
            "stripe_invoice_id",
            "payment_failed",
            "last_payment_error",
            "sent_at",
            "void_reason",
        ]
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
