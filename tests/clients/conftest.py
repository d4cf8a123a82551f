import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api():
    """api(user) -> a DRF test client authenticated with that user's token."""

    def make(user=None):
        http = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            http.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return http

    return make
