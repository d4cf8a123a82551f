from rest_framework import serializers

from accounts.models import Agency, Invitation, Membership, User
from core.roles import INVITABLE_ROLE_CHOICES


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name", "slug", "time_zone", "default_currency"]


class MembershipOfUserSerializer(serializers.ModelSerializer):
    agency = AgencySerializer()
    client = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "agency", "role", "client"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    memberships = MembershipOfUserSerializer(many=True)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


class MemberSerializer(serializers.ModelSerializer):
    user = UserSerializer()
    client = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "client", "is_active", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=INVITABLE_ROLE_CHOICES)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "client", "created_at", "sent_at"]
        read_only_fields = ["id", "created_at", "sent_at"]

    def get_fields(self):
        fields = super().get_fields()
        # The model's own field for `client` (clients sit above accounts, so their model
        # is not imported), narrowed to the agency's clients; none without an agency.
        agency = self.context.get("agency")
        clients = fields["client"].queryset
        fields["client"].queryset = (
            clients.filter(agency=agency) if agency is not None else clients.none()
        )
        return fields
