from django.apps import AppConfig


class AssistantsConfig(AppConfig):
    name = "assistants"

    def ready(self):
        from accounts import hooks
        from assistants.services import assistant_joined

        hooks.member_joined.register(assistant_joined)
