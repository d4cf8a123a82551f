from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from accounts import hooks
        from billing.services import service_categories_seed

        hooks.on_agency_created(service_categories_seed)
