"""The notification centre in the API: the caller's own notifications in this agency,
marking them read, the unread count, and their preferences."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.api.access import AgencyAPIMixin, AgencyAPIView
from core.api.serializers import NoBodySerializer
from core.errors import ApplicationError
from notifications import selectors, services
from notifications.models import Notification, NotificationKind


class NotificationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "link",
            "url",
            "target_type",
            "target_id",
            "created_at",
            "read_at",
            "emailed_at",
        ]

    def get_url(self, notification) -> str:
        return self.context["request"].build_absolute_uri(notification.link)


class PreferencesSerializer(serializers.Serializer):
    email = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text="Kind -> whether it also comes by e-mail. Kinds: "
        + ", ".join(NotificationKind.values),
    )
    daily_digest = serializers.BooleanField(
        required=False, help_text="Client members and staff only."
    )
    digest_hour = serializers.IntegerField(
        required=False, min_value=0, max_value=23, help_text="In the member's own zone."
    )


class NotificationListView(AgencyAPIMixin, generics.ListAPIView):
    """The caller's notifications in this agency, unread first, then newest first;
    `?unread=1` for the unread ones only."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        rows = selectors.notification_list(agency=self.agency, user=self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            rows = rows.filter(read_at=None)
        return rows


class UnreadCountView(AgencyAPIView):
    @extend_schema(
        responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})
    )
    def get(self, request, agency_slug):
        return Response({"unread": selectors.unread_count(agency=self.agency, user=request.user)})


class NotificationReadView(AgencyAPIView):
    @extend_schema(request=NoBodySerializer, responses=NotificationSerializer)
    def post(self, request, agency_slug, pk):
        try:
            notification = services.notification_mark_read(
                agency=self.agency, user=request.user, notification_id=pk
            )
        except ApplicationError as error:
            # Someone else's notification is as unknown as one that does not exist.
            raise NotFound(error.message) from None
        return Response(NotificationSerializer(notification, context={"request": request}).data)


class NotificationReadAllView(AgencyAPIView):
    @extend_schema(
        request=NoBodySerializer,
        responses=inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}),
    )
    def post(self, request, agency_slug):
        count = services.notifications_mark_all_read(agency=self.agency, user=request.user)
        return Response({"marked": count})


class PreferencesView(AgencyAPIView):
    """Which kinds the caller also gets by e-mail (every kind their role receives is
    listed), and for client members and staff the daily digest."""

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request, agency_slug):
        return Response(selectors.preferences_for(agency=self.agency, membership=self.membership))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def patch(self, request, agency_slug):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(
            services.preferences_update(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                **serializer.validated_data,
            )
        )

    put = patch
