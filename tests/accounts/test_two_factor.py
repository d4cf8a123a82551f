"""Sign-in safety: TOTP two-factor (allauth's mfa), login rate limits, password reset."""

import re

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from va_agency.settings import base as base_settings


def current_code(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


@pytest.mark.django_db
def test_a_user_with_totp_must_give_a_code_to_sign_in(client):
    user = UserFactory()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # not signed in on the password alone

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_the_two_factor_pages_are_offered(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("mfa_index"))
    assert response.status_code == 200
    assert b"Authenticator" in response.content


@pytest.mark.django_db
def test_failed_logins_are_rate_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = base_settings.ACCOUNT_RATE_LIMITS  # as deployed
    cache.clear()
    user = UserFactory()
    for _ in range(5):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200  # refused even with the right password
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_reset_by_e_mail(client):
    user = UserFactory()
    client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)
    form_url = client.get(link)["Location"]  # allauth moves the key out of the URL
    new = "an-entirely-new-passphrase"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
