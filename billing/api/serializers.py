from rest_framework import serializers

from billing.models import Charge, Invoice, VoidedCharges

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
    charges = serializers.ChoiceField(
        choices=VoidedCharges.choices,
        default=VoidedCharges.REBILL,
        help_text="What becomes of the invoice's charges: billed again on the next invoice "
        "(the default), or written off with the reason.",
    )
