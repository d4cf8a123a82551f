from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Self-service sign-up is the SaaS onboarding; a private deployment may close it.
        return getattr(settings, "ACCOUNT_SIGNUP_OPEN", True)
