from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"

    def ready(self):
        # The plans', the public page's and sign-ups' models live beside their services; models.py
        # cannot import them (they import it), so they are registered here.
        import contracts.plans
        import contracts.public_page
        import contracts.signup  # noqa: F401  (also connects the e-mail confirmation)
        from accounts import hooks
        from contracts.services import service_categories_seed

        hooks.agency_created.register(service_categories_seed)
