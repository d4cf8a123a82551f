from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"

    def ready(self):
        from accounts import hooks
        from contracts.services import service_categories_seed

        hooks.on_agency_created(service_categories_seed)
