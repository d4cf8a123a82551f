from django.urls import path

from assistants import views

# Pages inside one agency, mounted under /a/<agency_slug>/.
urlpatterns = [
    path("assistants/", views.AssistantListView.as_view(), name="assistant_list"),
    path("assistants/on-shift/", views.AssistantOnShiftView.as_view(), name="assistant_on_shift"),
    path("assistants/<int:pk>/edit/", views.AssistantEditView.as_view(), name="assistant_edit"),
    path("me/profile/", views.MyAssistantProfileView.as_view(), name="my_assistant_profile"),
    path("me/earnings/", views.MyEarningsView.as_view(), name="my_earnings"),
    path(
        "me/earnings/statement/",
        views.MyStatementView.as_view(),
        name="my_earnings_statement",
    ),
    path("earnings/", views.EarningsOverviewView.as_view(), name="earnings_overview"),
    path("earnings/<int:pk>/", views.AssistantEarningsView.as_view(), name="assistant_earnings"),
    path(
        "earnings/<int:pk>/statement/",
        views.AssistantStatementView.as_view(),
        name="assistant_earnings_statement",
    ),
    path("earnings/<int:pk>/payout/", views.PayoutCreateView.as_view(), name="earnings_payout"),
]
