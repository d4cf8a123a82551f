from django.urls import path

from billing.reports.views import REPORTS, ReportIndexView, ReportView

# Pages inside one agency, mounted under /a/<agency_slug>/. One URL name per report, so
# the isolation matrix opens each of them.
urlpatterns = [
    path("reports/", ReportIndexView.as_view(), name="report_index"),
    *[
        path(f"reports/{slug}/", ReportView.as_view(report=slug), name=report.url_name)
        for slug, report in REPORTS.items()
    ],
]
