from django.urls import path

from reports.api import views
from reports.views import REPORTS

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/. One URL name per
# report, so the isolation matrix calls each of them.
agency_urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("reports/", views.ReportIndexView.as_view(), name="report-index"),
    *[
        path(
            f"reports/{slug}/",
            views.report_view(spec).as_view(),
            name=views.api_report_name(slug),
        )
        for slug, spec in REPORTS.items()
    ],
    path("me/earnings/", views.MyEarningsView.as_view(), name="my-earnings"),
    path("earnings/", views.EarningsOverviewView.as_view(), name="earnings-overview"),
    path("earnings/<int:pk>/", views.AssistantEarningsView.as_view(), name="earnings-assistant"),
]
