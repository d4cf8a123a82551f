"""The plans API (staff only): contract templates, their services and terms, publishing
and archiving. Amounts are integer minor units of the plan's currency; durations minutes."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import StaffAPIMixin
from contracts import plans
from contracts.models import Service
from contracts.plans import Plan, PlanLine, PlanStatus
from core.api.fields import AgencyScopedPrimaryKey
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin

TERMS_FIELDS = [
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


class PlanLineSerializer(serializers.ModelSerializer):
    """A service of the plan with the terms a contract line made from it starts with."""

    service = AgencyScopedPrimaryKey(model=Service)
    service_name = serializers.CharField(source="service.name", read_only=True)

    class Meta:
        model = PlanLine
        fields = ["id", "service", "service_name", *TERMS_FIELDS]


class PlanLineTermsSerializer(PlanLineSerializer):
    class Meta(PlanLineSerializer.Meta):
        fields = TERMS_FIELDS


class PlanSerializer(serializers.ModelSerializer):
    lines = PlanLineSerializer(many=True, read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "description",
            "status",
            "currency",
            "billing_cadence",
            "collection_method",
            "days_until_due",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]
        extra_kwargs = {
            "currency": {
                "required": False,
                "help_text": "Set when the plan is made (the agency's currency if omitted); "
                "it cannot change afterwards.",
            },
        }


class PlanViewSet(
    IdempotentPostMixin,
    StaffAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Plans: contract templates offered on the public page (when published) and used by
    staff to start contracts. Archived plans are listed with `?status=archived`."""

    serializer_class = PlanSerializer
    queryset = Plan.objects.none()  # names the model for the schema only
    http_method_names = ["get", "post", "patch", "delete"]
    pagination_class = None

    def get_queryset(self):
        rows = plans.plan_list(agency=self.agency)
        wanted = self.request.query_params.get("status")
        if wanted in PlanStatus.values:
            return rows.filter(status=wanted)
        return rows.exclude(status=PlanStatus.ARCHIVED) if self.action == "list" else rows

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                enum=PlanStatus.values,
                description="Only plans of this status (drafts and published ones if omitted).",
            )
        ]
    )
    def list(self, request, **kwargs):
        return super().list(request, **kwargs)

    def fresh(self, plan) -> dict:
        return PlanSerializer(plans.plan_list(agency=self.agency).get(pk=plan.pk)).data

    @extend_schema(request=PlanSerializer, responses={201: PlanSerializer})
    def create(self, request, **kwargs):
        body = PlanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = plans.plan_create(agency=self.agency, actor=request.user, **body.validated_data)
        return Response(self.fresh(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanSerializer, responses=PlanSerializer)
    def partial_update(self, request, **kwargs):
        plan = self.get_object()
        body = PlanSerializer(plan, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "currency" in data and data.pop("currency") != plan.currency:
            return Response(
                {
                    "message": "A plan's currency cannot change; make a new plan.",
                    "code": "plan_currency_frozen",
                    "extra": {"field": "currency"},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        plans.plan_update(agency=self.agency, actor=request.user, plan=plan, **data)
        return Response(self.fresh(plan))

    @extend_schema(request=NoBodySerializer, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, **kwargs):
        """Show the plan on the public page (it needs at least one service)."""
        plan = plans.plan_publish(agency=self.agency, actor=request.user, plan=self.get_object())
        return Response(self.fresh(plan))

    @extend_schema(request=NoBodySerializer, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def unpublish(self, request, **kwargs):
        """Take the plan off the public page; it is a draft again."""
        plan = plans.plan_unpublish(agency=self.agency, actor=request.user, plan=self.get_object())
        return Response(self.fresh(plan))

    @extend_schema(request=NoBodySerializer, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, **kwargs):
        """Retire the plan; contracts made from it do not change."""
        plan = plans.plan_archive(agency=self.agency, actor=request.user, plan=self.get_object())
        return Response(self.fresh(plan))

    @extend_schema(request=PlanLineSerializer, responses={201: PlanLineSerializer})
    @action(detail=True, methods=["post"])
    def lines(self, request, **kwargs):
        """Add a service with its terms."""
        plan = self.get_object()
        body = PlanLineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        line = plans.plan_line_add(
            agency=self.agency, actor=request.user, plan=plan, **body.validated_data
        )
        return Response(PlanLineSerializer(line).data, status=status.HTTP_201_CREATED)

    def line(self, plan_line_pk) -> PlanLine:
        plan = self.get_object()
        line = get_object_or_404(
            PlanLine.objects.select_related("service"), plan=plan, pk=plan_line_pk
        )
        line.plan = plan
        return line

    @extend_schema(request=PlanLineTermsSerializer, responses=PlanLineSerializer)
    @action(detail=True, methods=["patch"], url_path="lines/<int:plan_line_pk>")
    def line_terms(self, request, plan_line_pk, **kwargs):
        """Replace a service's terms (send them whole, as for a new line)."""
        line = self.line(plan_line_pk)  # 404 before anything is said about the body
        body = PlanLineTermsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plans.plan_line_update(
            agency=self.agency, actor=request.user, line=line, **body.validated_data
        )
        return Response(PlanLineSerializer(line).data)

    @extend_schema(request=None, responses={204: None})
    @line_terms.mapping.delete
    def remove_line(self, request, plan_line_pk, **kwargs):
        """Take a service out of the plan."""
        plans.plan_line_remove(agency=self.agency, actor=request.user, line=self.line(plan_line_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
