from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self):
        from accounts import hooks
        from clients.team import client_member_joined, client_member_leaving

        hooks.member_joined.register(client_member_joined)
        hooks.member_leaving.register(client_member_leaving)
