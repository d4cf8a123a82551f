from django.urls import path

from reports import views

# Pages inside one agency, mounted under /a/<agency_slug>/. One URL name per report, so
# the isolation matrix opens each of them.
urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("our-account/", views.OurAccountView.as_view(), name="our_account"),
    path("reports/", views.ReportIndexView.as_view(), name="report_index"),
    *[
        path(f"reports/{slug}/", views.ReportView.as_view(report=slug), name=report.url_name)
        for slug, report in views.REPORTS.items()
    ],
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
