"""The client list says how many people each client has and how many invitations wait
for an answer, in words ("No invitations pending", "1 invitation pending")."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation
from core.roles import Role
from core.tenancy import scopes_disabled
from tests.factories import ClientFactory, InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def people_cells(html: str) -> dict[str, str]:
    rows = re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a></td>(.*?)</tr>', html, re.S)
    cells = {}
    for name, rest in rows:
        cell = re.search(r'data-testid="people">(.*?)</td>', rest, re.S).group(1)
        cells[name] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
    return cells


def test_members_and_pending_invitations_are_counted_in_words(
    agency, member, signed_in, count_queries
):
    http = signed_in(member(Role.OWNER).user)
    acme = ClientFactory(agency=agency, name="Acme")
    bloom = ClientFactory(agency=agency, name="Bloom")
    cedar = ClientFactory(agency=agency, name="Cedar")
    MembershipFactory(agency=agency, role=Role.CLIENT, client=bloom)
    for client in (cedar, cedar, cedar, bloom):
        InvitationFactory(agency=agency, role=Role.CLIENT, client=client)
    # answered or withdrawn invitations wait for nobody
    accepted = InvitationFactory(agency=agency, role=Role.CLIENT, client=acme)
    revoked = InvitationFactory(agency=agency, role=Role.CLIENT, client=acme)
    with scopes_disabled():
        Invitation.objects.filter(pk=accepted.pk).update(accepted_at=timezone.now())
        Invitation.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    url = reverse("client_list", args=[agency.slug])
    cells = people_cells(http.get(url).content.decode())
    assert cells == {
        "Acme": "0 members · No invitations pending · Invite someone",
        "Bloom": "1 member · 1 invitation pending · Invite someone",
        "Cedar": "0 members · 3 invitations pending · Invite someone",
    }
    few = count_queries(lambda: http.get(url))
    for n in range(10):
        client = ClientFactory(agency=agency, name=f"More {n}")
        InvitationFactory(agency=agency, role=Role.CLIENT, client=client)
    assert count_queries(lambda: http.get(url)) == few
