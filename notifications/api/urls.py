from django.urls import path

from notifications.api.views import (
    NotificationListView,
    NotificationReadAllView,
    NotificationReadView,
    PreferencesView,
    UnreadCountView,
)

urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="notification-list"),
    path(
        "notifications/unread-count/", UnreadCountView.as_view(), name="notification-unread-count"
    ),
    path(
        "notifications/read-all/", NotificationReadAllView.as_view(), name="notification-read-all"
    ),
    path("notifications/preferences/", PreferencesView.as_view(), name="notification-preferences"),
    path("notifications/<int:pk>/read/", NotificationReadView.as_view(), name="notification-read"),
]
