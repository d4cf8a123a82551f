from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing.selectors import month_spent
        from contracts import caps

        caps.count_spend_with(month_spent)
