from django.urls import path

from notifications.views import (
    NotificationListView,
    NotificationPreferencesView,
    NotificationReadAllView,
    NotificationReadView,
)

urlpatterns = [
    path("notifications/", NotificationListView.as_view(), name="notification_list"),
    path("notifications/<int:pk>/read/", NotificationReadView.as_view(), name="notification_read"),
    path(
        "notifications/read-all/",
        NotificationReadAllView.as_view(),
        name="notification_read_all",
    ),
    path(
        "notifications/settings/",
        NotificationPreferencesView.as_view(),
        name="notification_preferences",
    ),
]
