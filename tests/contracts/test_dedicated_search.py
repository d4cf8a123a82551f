"""A contract's dedicated assistants are chosen with one search field, not a checkbox per
assistant: the form's size and queries stay the same for 1 or 200 assistants, the chosen
ones show as ticked boxes with their names, and without scripts a typed name is matched
when the form is sent (several matches are offered to tick). Whatever is sent, only the
agency's active assistants can be chosen."""

import re

import pytest
from django.urls import reverse

from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import ContractFactory
from tests.factories import ClientFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(member):
    return member(Role.OWNER)


def assistant(agency, name: str):
    return AssistantProfileFactory(
        agency=agency, membership__user=UserFactory(full_name=name)
    ).membership


def header(**changes):
    return {
        "name": "Support 2026",
        "starts_on": "2026-03-02",
        "billing_cadence": "monthly",
        "collection_method": "send_invoice",
        "days_until_due": 14,
        **changes,
    }


def ticked(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'name="dedicated" value="(\d+)" checked', html)]


def offered(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'name="dedicated" value="(\d+)">', html)]


def dedicated_of(agency, contract) -> set[int]:
    with agency_scope(agency):
        return {d.membership_id for d in contract.dedicated.all()}


def test_the_form_costs_the_same_for_one_or_two_hundred_assistants(
    agency, owner, signed_in, count_queries
):
    client = ClientFactory(agency=agency)
    ana = assistant(agency, "Ana Lima")
    contract = ContractFactory(agency=agency, client=client, status="draft")
    with agency_scope(agency):
        contract.dedicated.create(agency=agency, membership=ana)
    http = signed_in(owner.user)
    urls = [
        reverse("contract_create", args=[agency.slug]),
        reverse("contract_update", args=[agency.slug, contract.pk]),
    ]

    def measure():
        sizes, queries = [], []
        for url in urls:
            queries.append(count_queries(lambda url=url: http.get(url)))
            sizes.append(len(http.get(url).content))
        return sizes, queries

    few = measure()
    for n in range(199):
        assistant(agency, f"Zed {n:03d}")
    assert measure() == few
    page = http.get(urls[0]).content.decode()
    assert "Zed 000" not in page and "Ana Lima" not in page
    assert 'name="dedicated_search"' in page and "?active=1&amp;list=id_dedicated_listbox" in page
    edit = http.get(urls[1]).content.decode()
    assert ticked(edit) == [ana.pk] and "Ana Lima" in edit and "Zed 000" not in edit


def test_ticked_and_typed_assistants_are_saved_and_unticked_ones_let_go(agency, owner, signed_in):
    client = ClientFactory(agency=agency)
    ana, bea = assistant(agency, "Ana Lima"), assistant(agency, "Bea Souza")
    carl = assistant(agency, "Carl Mendes")
    http = signed_in(owner.user)
    response = http.post(
        reverse("contract_create", args=[agency.slug]),
        {"client": client.pk, **header(), "dedicated": [ana.pk], "dedicated_search": "bea"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        contract = client.contracts.get()
    assert dedicated_of(agency, contract) == {ana.pk, bea.pk}

    url = reverse("contract_update", args=[agency.slug, contract.pk])
    assert sorted(ticked(http.get(url).content.decode())) == sorted([ana.pk, bea.pk])
    # Bea unticked, Carl typed by his e-mail address.
    response = http.post(
        url, {**header(), "dedicated": [ana.pk], "dedicated_search": carl.user.email.upper()}
    )
    assert response.status_code == 302
    assert dedicated_of(agency, contract) == {ana.pk, carl.pk}
    assert http.post(url, header()).status_code == 302  # nothing ticked: anyone skilled
    assert dedicated_of(agency, contract) == set()


def test_text_matching_several_offers_them_and_saves_nothing(agency, owner, signed_in):
    client = ClientFactory(agency=agency)
    ana, anabel = assistant(agency, "Ana Lima"), assistant(agency, "Anabel Costa")
    bea = assistant(agency, "Bea Souza")
    http = signed_in(owner.user)
    url = reverse("contract_create", args=[agency.slug])
    response = http.post(
        url, {"client": client.pk, **header(), "dedicated": [bea.pk], "dedicated_search": "ana"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Several match “ana”" in html
    assert ticked(html) == [bea.pk] and offered(html) == [ana.pk, anabel.pk]
    assert 'name="dedicated_search" id="id_dedicated" value="ana"' in html
    with scopes_disabled():
        assert not client.contracts.exists()
    nothing = http.post(url, {"client": client.pk, **header(), "dedicated_search": "zoe"})
    assert "Nothing matches “zoe”" in nothing.content.decode()
    exact = http.post(url, {"client": client.pk, **header(), "dedicated_search": "Ana Lima"})
    assert exact.status_code == 302
    with scopes_disabled():
        assert dedicated_of(agency, client.contracts.get()) == {ana.pk}


@pytest.mark.parametrize(
    "chosen",
    ["other agency", "former", "client member", "admin", "not a number", "too big", "negative"],
)
def test_only_the_agencys_active_assistants_can_be_chosen(
    chosen, agency, other_agency, owner, signed_in
):
    client = ClientFactory(agency=agency)
    if chosen == "other agency":
        value = assistant(other_agency, "Ana Elsewhere").pk
    elif chosen == "former":
        former = assistant(agency, "Ana Former")
        with scopes_disabled():
            former.is_active = False
            former.save()
        value = former.pk
    elif chosen == "client member":
        value = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).pk
    elif chosen == "admin":
        value = MembershipFactory(agency=agency, role=Role.ADMIN).pk
    else:
        value = {"not a number": "abc", "too big": str(2**70), "negative": "-3"}[chosen]
    http = signed_in(owner.user)
    response = http.post(
        reverse("contract_create", args=[agency.slug]),
        {"client": client.pk, **header(), "dedicated": [value]},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["dedicated"]
    with scopes_disabled():
        assert not client.contracts.exists()
    # Typed names find only the agency's active assistants too.
    if chosen in ("other agency", "former"):
        typed = http.post(
            reverse("contract_create", args=[agency.slug]),
            {"client": client.pk, **header(), "dedicated_search": "Ana"},
        )
        assert "Nothing matches “Ana”" in typed.content.decode()


def test_the_search_offers_only_current_assistants_when_asked(agency, owner, signed_in):
    current = assistant(agency, "Maria Current")
    former = assistant(agency, "Maria Former")
    with scopes_disabled():
        former.is_active = False
        former.save()
    http = signed_in(owner.user)
    url = reverse("assistant_search", args=[agency.slug])

    def found(params):
        body = http.get(url, params).content.decode()
        return [int(v) for v in re.findall(r'data-value="(\d+)"', body)]

    assert found({"q": "maria"}) == [current.pk, former.pk]  # a filter may name a former one
    assert found({"q": "maria", "active": "1"}) == [current.pk]
    assert found({"dedicated_search": "mar", "active": "1", "list": "id_dedicated_listbox"}) == [
        current.pk
    ]
