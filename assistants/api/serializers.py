from django.utils import timezone
from rest_framework import serializers

from accounts.api.serializers import UserSerializer
from accounts.models import Membership
from assistants.languages import LANGUAGE_CHOICES
from assistants.models import (
    BIO_MAX_CHARS,
    SAMPLE_TITLE_MAX_CHARS,
    AssistantProfile,
    Specialisation,
    TimeOff,
    WorkSample,
)
from assistants.samples import LINK_MAX_CHARS
from assistants.schedule import hours_on, is_on_shift, local_time
from contracts.models import ServiceCategory
from core.api.fields import AgencyScopedPrimaryKey


class AssistantProfileSerializer(serializers.ModelSerializer):
    """An assistant's profile as staff see it. `pay_rate` is in minor units of
    `pay_currency`; `local_time` and `on_shift` are as of the response (or the `at` in the
    serializer context)."""

    user = UserSerializer(source="membership.user", read_only=True)
    skills = serializers.PrimaryKeyRelatedField(
        many=True, queryset=ServiceCategory.objects.none(), required=False
    )
    working_hours = serializers.JSONField(required=False)
    bio = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=BIO_MAX_CHARS,
        help_text=f"Plain text clients read, at most {BIO_MAX_CHARS} characters.",
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=LANGUAGE_CHOICES),
        required=False,
        help_text="ISO 639-1 codes, e.g. en, es, tl.",
    )
    specialisations = serializers.ListField(
        child=serializers.ChoiceField(choices=Specialisation.choices), required=False
    )
    rating_average = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Mean of clients' ratings (1-5), or null."
    )
    local_time = serializers.SerializerMethodField()
    on_shift = serializers.SerializerMethodField()
    hours_today = serializers.SerializerMethodField()

    class Meta:
        model = AssistantProfile
        fields = [
            "id",
            "membership",
            "user",
            "skills",
            "time_zone",
            "local_time",
            "working_hours",
            "hours_today",
            "on_shift",
            "capacity",
            "pay_rate",
            "pay_currency",
            "is_active",
            "bio",
            "languages",
            "specialisations",
            "rating_count",
            "rating_average",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "membership", "rating_count", "created_at", "updated_at"]
        # Rules (zone, currency, hours, capacity >= 1, pay >= 0) are the service's.
        extra_kwargs = {
            "time_zone": {"validators": []},
            "pay_currency": {"validators": []},
            "capacity": {"validators": [], "min_value": None, "max_value": None},
            "pay_rate": {"validators": [], "min_value": None, "max_value": None},
        }

    def get_fields(self):
        fields = super().get_fields()
        agency = self.context.get("agency")
        if agency is not None and "skills" in fields and not fields["skills"].read_only:
            fields["skills"].child_relation.queryset = ServiceCategory.objects.filter(agency=agency)
        return fields

    def _at(self):
        return self.context.setdefault("at", timezone.now())

    def get_local_time(self, profile) -> str:
        return local_time(profile, self._at()).isoformat(timespec="seconds")

    def get_on_shift(self, profile) -> bool:
        return is_on_shift(profile, self._at())

    def get_hours_today(self, profile) -> list[list[str]]:
        return hours_on(profile, self._at())


class OwnAssistantProfileSerializer(AssistantProfileSerializer):
    """The signed-in assistant's own profile: the time zone, working hours, bio, languages
    and specialisations change; the rest is the agency's."""

    skills = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta(AssistantProfileSerializer.Meta):
        read_only_fields = [
            field
            for field in AssistantProfileSerializer.Meta.fields
            if field not in ("time_zone", "working_hours", "bio", "languages", "specialisations")
        ]
        extra_kwargs = {"time_zone": {"validators": []}}


class TimeOffSerializer(serializers.ModelSerializer):
    """A request for time off. `starts_on` and `ends_on` are whole days on the assistant's
    calendar (`time_zone`), both included; `starts_at` and `ends_at` are the same span in
    UTC. While it is approved and in force, `cover` (a membership id; null: the skill pool)
    takes the assistant's dedicated work."""

    assistant_name = serializers.SerializerMethodField()
    cover_name = serializers.SerializerMethodField()
    days = serializers.IntegerField(read_only=True)

    class Meta:
        model = TimeOff
        fields = [
            "id",
            "assistant",
            "assistant_name",
            "starts_on",
            "ends_on",
            "days",
            "time_zone",
            "starts_at",
            "ends_at",
            "note",
            "status",
            "cover",
            "cover_name",
            "decision_note",
            "decided_at",
            "cancelled_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_assistant_name(self, time_off) -> str:
        return str(time_off.assistant.user)

    def get_cover_name(self, time_off) -> str | None:
        return str(time_off.cover.user) if time_off.cover_id else None


class TimeOffRequestSerializer(serializers.Serializer):
    starts_on = serializers.DateField(help_text="First day off, on your own calendar.")
    ends_on = serializers.DateField(help_text="Last day off (included).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, data):
        if data["ends_on"] < data["starts_on"]:
            raise serializers.ValidationError(
                {"ends_on": "The last day cannot be before the first."}
            )
        return data


class TimeOffApproveSerializer(serializers.Serializer):
    cover = AgencyScopedPrimaryKey(
        model=Membership,
        required=False,
        allow_null=True,
        help_text="The membership id of the assistant who covers; null or absent: the skill "
        "pool takes the dedicated work.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class TimeOffDeclineSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class WorkSampleSerializer(serializers.ModelSerializer):
    """A sample of an assistant's work: a link (`url`), or a private file whose `file_url`
    is the signed-in page that serves it to those who may see the assistant."""

    kind = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = WorkSample
        fields = ["id", "profile", "title", "kind", "url", "name", "size", "file_url", "created_at"]
        read_only_fields = fields

    def get_kind(self, sample) -> str:
        return "file" if sample.file else "link"

    def get_file_url(self, sample) -> str | None:
        if not sample.file:
            return None
        from django.urls import reverse

        return reverse(
            "work_sample_file", kwargs={"agency_slug": self.context["agency"].slug, "pk": sample.pk}
        )


class WorkSampleCreateSerializer(serializers.Serializer):
    """A title, and either `url` (http or https) or `file` (multipart), not both."""

    title = serializers.CharField(max_length=SAMPLE_TITLE_MAX_CHARS)
    url = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=LINK_MAX_CHARS
    )
    file = serializers.FileField(required=False, allow_null=True, default=None)
