from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import Charge, Invoice, VoidedCharges


def staff_only(names: list[str], extra_kwargs: dict | None = None) -> dict:
    """The staff's serializer's own fields. The same endpoints answer client members with
    the client's serializer, without these: they are not read-only only so that the schema
    leaves them out of `required`. Nothing writes through these serializers."""
    kwargs = {name: {"required": False, "help_text": "Staff only."} for name in names}
    return {**(extra_kwargs or {}), **kwargs}


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
    "tax_rates",
    "tax_status",
    "net_amount",
    "tax_amount",
    "gross_amount",
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


STAFF_CHARGE_FIELDS = [
    "idempotency_key",
    "stripe_invoice_item_id",
    "written_off_at",
    "written_off_by",
    "written_off_reason",
]


class ChargeSerializer(ClientChargeSerializer):
    """A charge for the agency's staff, with its write-off and Stripe details."""

    class Meta(ClientChargeSerializer.Meta):
        fields = [*CHARGE_FIELDS, *STAFF_CHARGE_FIELDS]
        read_only_fields = CHARGE_FIELDS
        extra_kwargs = staff_only(STAFF_CHARGE_FIELDS, ClientChargeSerializer.Meta.extra_kwargs)


class WriteOffSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


INVOICE_FIELDS = [
    "id",
    "client",
    "number",
    "status",
    "collection_method",
    "currency",
    "net",
    "tax",
    "taxes",
    "total",
    "starting_balance",
    "ending_balance",
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
    hosted_invoice_url = serializers.SerializerMethodField(
        help_text="Stripe's page to see and pay it; null until Stripe has made one."
    )

    class Meta:
        model = Invoice
        fields = INVOICE_FIELDS
        read_only_fields = INVOICE_FIELDS

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_hosted_invoice_url(self, invoice) -> str | None:
        return invoice.hosted_invoice_url or None


STAFF_INVOICE_FIELDS = [
    "contract",
    "stripe_invoice_id",
    "payment_failed",
    "last_payment_error",
    "sent_at",
    "void_reason",
]


class InvoiceSerializer(ClientInvoiceSerializer):
    """An invoice for the agency's staff, with its Stripe and collection details."""

    lines = ChargeSerializer(many=True, read_only=True, source="charges")

    class Meta(ClientInvoiceSerializer.Meta):
        fields = [*INVOICE_FIELDS, *STAFF_INVOICE_FIELDS]
        read_only_fields = INVOICE_FIELDS
        extra_kwargs = staff_only(STAFF_INVOICE_FIELDS)


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    charges = serializers.ChoiceField(
        choices=VoidedCharges.choices,
        default=VoidedCharges.REBILL,
        help_text="What becomes of the invoice's charges: billed again on the next invoice "
        "(the default), or written off with the reason.",
    )
