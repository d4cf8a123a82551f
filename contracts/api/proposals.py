"""The quotes and proposals API. A client member asks for quotes and answers their own
client's proposals (`our-quote-requests/`, `our-proposals/`); staff read every one, send
proposals of draft contracts and withdraw them (`quote-requests/`, `proposals/`). The
rules are contracts.proposals'."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin
from contracts import proposals
from contracts.models import Proposal, QuoteRequest, ServiceContract
from core.api.fields import AgencyScopedPrimaryKey
from core.api.serializers import NoBodySerializer
from core.idempotency import IdempotentPostMixin
from core.roles import STAFF_ROLES, Role


class QuoteRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuoteRequest
        fields = ["id", "client", "details", "status", "created_at", "closed_at"]
        read_only_fields = ["client", "status", "created_at", "closed_at"]
        extra_kwargs = {"details": {"max_length": proposals.DETAILS_LIMIT}}


class ProposalSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()
    offer = serializers.JSONField(
        read_only=True, help_text="The contract offered, as it stood when sent."
    )

    class Meta:
        model = Proposal
        fields = [
            "id",
            "contract",
            "client",
            "quote_request",
            "version",
            "status",
            "state",
            "note",
            "offer",
            "expires_at",
            "sent_at",
            "decided_at",
            "decline_reason",
        ]
        read_only_fields = fields

    def get_state(self, proposal) -> str:
        return proposals.proposal_state(proposal)


class ProposalSendSerializer(serializers.Serializer):
    contract = AgencyScopedPrimaryKey(model=ServiceContract)
    expires_at = serializers.DateTimeField()
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=proposals.NOTE_LIMIT, default=""
    )
    quote_request = AgencyScopedPrimaryKey(model=QuoteRequest, required=False, allow_null=True)


class ProposalDeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=proposals.REASON_LIMIT)


class QuoteRequestViewSet(
    AgencyAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Every client's quote requests, newest first (staff); close one that will not be
    answered."""

    allowed_roles = STAFF_ROLES
    serializer_class = QuoteRequestSerializer
    queryset = QuoteRequest.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return proposals.quote_request_list(agency=self.agency)

    @extend_schema(request=NoBodySerializer, responses=QuoteRequestSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, **kwargs):
        quote = proposals.quote_request_close(
            agency=self.agency, actor=request.user, quote=self.get_object()
        )
        return Response(QuoteRequestSerializer(quote).data)


class OurQuoteRequestViewSet(
    IdempotentPostMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """A client member's own client's quote requests, newest first; ask for one (POST)."""

    allowed_roles = frozenset({Role.CLIENT})
    serializer_class = QuoteRequestSerializer
    queryset = QuoteRequest.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return proposals.quote_request_list(agency=self.agency, client=self.membership.client)

    def perform_create(self, serializer):
        serializer.instance = proposals.quote_request_create(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            details=serializer.validated_data["details"],
        )


class ProposalViewSet(
    IdempotentPostMixin,
    AgencyAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Every proposal, newest first (staff). Send a draft contract as its next version
    (POST), or withdraw one still waiting for the client."""

    allowed_roles = STAFF_ROLES
    serializer_class = ProposalSerializer
    queryset = Proposal.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return proposals.proposal_list(agency=self.agency)

    @extend_schema(request=ProposalSendSerializer, responses={201: ProposalSerializer})
    def create(self, request, **kwargs):
        body = ProposalSendSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        proposal = proposals.proposal_send(
            agency=self.agency,
            actor=request.user,
            contract=data["contract"],
            expires_at=data["expires_at"],
            note=data.get("note", ""),
            quote=data.get("quote_request"),
        )
        return Response(ProposalSerializer(proposal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=NoBodySerializer, responses=ProposalSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, **kwargs):
        proposal = proposals.proposal_withdraw(
            agency=self.agency, actor=request.user, proposal=self.get_object()
        )
        return Response(ProposalSerializer(proposal).data)


class OurProposalViewSet(
    AgencyAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A client member's own client's proposals, newest first: accept one (which
    activates its contract, once; accepting again answers the same) or decline it with a
    reason."""

    allowed_roles = frozenset({Role.CLIENT})
    serializer_class = ProposalSerializer
    queryset = Proposal.objects.none()  # names the model for the schema only

    def get_queryset(self):
        return proposals.proposal_list(agency=self.agency, client=self.membership.client)

    @extend_schema(request=NoBodySerializer, responses=ProposalSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, **kwargs):
        proposal = proposals.proposal_accept(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            proposal=self.get_object(),
        )
        return Response(ProposalSerializer(proposal).data)

    @extend_schema(request=ProposalDeclineSerializer, responses=ProposalSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, **kwargs):
        proposal = self.get_object()
        body = ProposalDeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = proposals.proposal_decline(
            agency=self.agency,
            actor=request.user,
            membership=self.membership,
            proposal=proposal,
            reason=body.validated_data["reason"],
        )
        return Response(ProposalSerializer(proposal).data)
