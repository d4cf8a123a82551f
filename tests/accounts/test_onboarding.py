"""The SaaS journey: sign up, start an agency, invite an assistant and a client, they join."""

import re

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from accounts.models import Membership
from clients.models import Client
from core.tenancy import agency_scope
from tests.factories import PASSWORD as FACTORY_PASSWORD
from tests.factories import UserFactory

PASSWORD = "a-long-and-unusual-passphrase"


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def sign_up(http, email, **params):
    url = reverse("account_signup")
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return http.post(
        url, {"email": email, "password1": PASSWORD, "password2": PASSWORD}, follow=True
    )


@pytest.mark.django_db
def test_sign_up_start_an_agency_invite_and_join(django_capture_on_commit_callbacks):
    owner_http = HttpClient()

    # Sign up; the address must be confirmed before anything else.
    response = sign_up(owner_http, "founder@northwind.test")
    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent")
    confirm_url = link_in(mail.outbox[-1])
    response = owner_http.post(confirm_url, follow=True)
    assert response.status_code == 200
    # Signed in with no agency yet: the picker offers to start one.
    assert response.redirect_chain[-1][0] == reverse("agency_list")

    # Start the agency; the founder is its owner.
    response = owner_http.post(
        reverse("agency_create"),
        {
            "name": "Northwind Assist",
            "slug": "",
            "time_zone": "Asia/Manila",
            "default_currency": "usd",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=["northwind-assist"])
    assert response.templates[0].name == "dashboards/staff.html"

    # A client business, then invitations for an assistant and that client's person.
    owner_http.post(
        reverse("client_create", args=["northwind-assist"]),
        {
            "name": "Acme Dental",
            "billing_email": "ap@acme.test",
            "time_zone": "America/Chicago",
            "currency": "USD",
        },
    )
    agency = response.context["agency"]
    with django_capture_on_commit_callbacks(execute=True):
        owner_http.post(
            reverse("invitation_create", args=["northwind-assist"]),
            {"email": "Sam@Assist.test", "role": "assistant"},
        )
    with agency_scope(agency):
        acme = Client.objects.get(name="Acme Dental")
    with django_capture_on_commit_callbacks(execute=True):
        owner_http.post(
            reverse("invitation_create", args=["northwind-assist"]),
            {"email": "dana@acme.test", "role": "client", "client": acme.pk},
        )
    invitations = {m.to[0]: m for m in mail.outbox if "invited" in m.subject}
    assert set(invitations) == {"sam@assist.test", "dana@acme.test"}
    assert "Northwind Assist" in invitations["dana@acme.test"].subject
    assert invitations["dana@acme.test"].alternatives  # an HTML part as well

    # The assistant is new here: signs up from the link, needs no second confirmation.
    sam = HttpClient()
    accept_url = link_in(invitations["sam@assist.test"])
    page = sam.get(accept_url)
    assert page.status_code == 200
    response = sign_up(sam, "sam@assist.test", next=accept_url)
    assert response.redirect_chain[-1][0] == accept_url
    response = sam.post(accept_url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=["northwind-assist"])
    assert response.templates[0].name == "dashboards/assistant.html"

    # The client person already has an account elsewhere: signs in, then accepts.
    dana = HttpClient()
    UserFactory(email="dana@acme.test")
    accept_url = link_in(invitations["dana@acme.test"])
    dana.get(accept_url)
    response = dana.post(
        reverse("account_login") + f"?next={accept_url}",
        {"login": "dana@acme.test", "password": FACTORY_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == accept_url
    response = dana.post(accept_url, follow=True)
    assert response.templates[0].name == "dashboards/client.html"
    assert b"Acme Dental" in response.content

    with agency_scope(agency):
        roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles == {
        "founder@northwind.test": "owner",
        "sam@assist.test": "assistant",
        "dana@acme.test": "client",
    }
    # A used link cannot be used again.
    assert dana.post(accept_url).status_code == 400
