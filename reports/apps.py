from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from reports.rollups import months_touched
        from tasks.report_months import month_touched

        # Writes in tasks and billing mark the kept months they change.
        month_touched.register(months_touched)
