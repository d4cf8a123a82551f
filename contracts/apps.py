from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"

    def ready(self):
        # The plans' and the public page's models live beside their services; models.py
        # cannot import them (they import it), so they are registered here.
        import contracts.plans
        import contracts.public_page  # noqa: F401
        from accounts import hooks
        from contracts.services import service_categories_seed

        hooks.agency_created.register(service_categories_seed)
