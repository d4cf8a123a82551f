from rest_framework import serializers

from clients.models import MANUAL_MAX_LENGTH, Client
from core.rich_text import render_markdown


class ClientSerializer(serializers.ModelSerializer):
    # Time zone and currency are checked by the services (which also upper-case the
    # currency), so that the API and the forms give the same message for the same mistake.
    time_zone = serializers.CharField(
        max_length=64, required=False, help_text="IANA name; defaults to the agency's."
    )
    currency = serializers.CharField(
        max_length=3, required=False, help_text="ISO 4217 code; defaults to the agency's."
    )
    manual = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MANUAL_MAX_LENGTH
    )
    manual_html = serializers.SerializerMethodField(help_text="The manual rendered and sanitised.")
    member_count = serializers.IntegerField(
        read_only=True, help_text="Active members with the client role."
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "status",
            "billing_email",
            "time_zone",
            "currency",
            "stripe_customer_id",
            "manual",
            "manual_html",
            "manual_updated_at",
            "manual_updated_by",
            "member_count",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "stripe_customer_id",
            "manual_updated_at",
            "manual_updated_by",
            "created_at",
        ]

    def get_manual_html(self, client: Client) -> str:
        return str(render_markdown(client.manual))


class ClientManualSerializer(serializers.ModelSerializer):
    """What an assistant reads of a client: who they are, their clock, their manual."""

    manual_html = serializers.SerializerMethodField(help_text="The manual rendered and sanitised.")

    class Meta:
        model = Client
        fields = ["id", "name", "time_zone", "manual", "manual_html", "manual_updated_at"]
        read_only_fields = fields

    def get_manual_html(self, client: Client) -> str:
        return str(render_markdown(client.manual))
