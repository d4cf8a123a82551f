from rest_framework import serializers

from accounts.models import Membership
from clients.models import Client
from contracts.models import (
    ContractLine,
    ContractStatus,
    ContractTerms,
    Service,
    ServiceCategory,
    ServiceContract,
)
from core.api.fields import AgencyScopedPrimaryKey
from core.roles import Role


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
            "banked_hours_expire_after_months",
            "top_up_rate",
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
        extra_kwargs = {
            "starts_on": {
                "required": False,
                "help_text": "A day on the client's calendar; without it, the client's today. "
                "A live contract's start may change while no work is under it.",
            }
        }

    def validate_dedicated(self, memberships):
        for membership in memberships:
            if membership.role != Role.ASSISTANT:
                raise serializers.ValidationError("Only assistants can be dedicated.")
        return memberships


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=ContractStatus.choices)
