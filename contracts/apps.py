from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"

    def ready(self):
        from accounts import hooks
        from contracts.services import service_categories_seed

        hooks.agency_created.register(service_categories_seed)
