"""API tokens: only a hash is kept, a user holds several named ones, each with its own
expiry, each revocable, and a token is shown once."""

import datetime as dt

from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from core.roles import Role


def me(token: str):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return http.get(reverse("api:me"))


def make(http, name="Zapier", lifetime="90"):
    return http.post(reverse("api_token"), {"name": name, "lifetime": lifetime})


def test_a_token_is_shown_once_and_kept_only_as_a_hash(agency, member, signed_in):
    person = member(Role.ADMIN).user
    http = signed_in(person)
    page = make(http)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    token = page.context["created"]
    assert token.startswith("vaa_") and token in page.content.decode()
    assert me(token).status_code == 200
    # Nothing in the database holds the token itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in stored and token[:15] in stored
    again = http.get(reverse("api_token")).content.decode()
    assert token not in again and "Zapier" in again


def test_several_named_tokens_each_revoked_on_its_own(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    zapier = make(http, "Zapier").context["created"]
    script = make(http, "Reporting script", "never").context["created"]
    rows = http.get(reverse("api_token")).content.decode().count('data-testid="token-row"')
    assert rows == 2
    revoked = http.post(reverse("api_token"), {"revoke": zapier[:15]})
    assert revoked.status_code == 302
    assert me(zapier).status_code == 401
    assert me(script).status_code == 200
    assert ApiToken.objects.get().expiry is None


def test_nobody_revokes_another_persons_token(agency, member, signed_in):
    mine = make(signed_in(member(Role.ADMIN).user)).context["created"]
    other = signed_in(member(Role.ASSISTANT).user)
    other.post(reverse("api_token"), {"revoke": mine[:15]})
    assert me(mine).status_code == 200


def test_an_expired_token_is_refused(agency, member, signed_in, time_machine):
    http = signed_in(member(Role.ADMIN).user)
    token = make(http, lifetime="30").context["created"]
    assert me(token).status_code == 200
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(days=31), tick=False)
    assert me(token).status_code == 401


def test_bad_input_is_a_form_error_and_makes_nothing(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    for name, lifetime, message in [
        ("", "90", "Name the token"),
        ("x" * 81, "90", "at most 80 characters"),
        ("Zapier", "forever", "Choose how long"),
    ]:
        page = make(http, name, lifetime)
        assert page.status_code == 400 and message in page.content.decode()
    assert not ApiToken.objects.exists()
