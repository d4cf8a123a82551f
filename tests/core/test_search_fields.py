"""Search-as-you-type fields for clients and assistants (core.widgets): the endpoints
answer staff with at most 20 of their own agency's rows, never anyone else; the forms that
used to list every client or assistant in a select render one field, keep the choice
after submitting, and match typed text on the server when no script ran."""

import re

import pytest
from django.urls import reverse

from core.roles import Role
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import ClientFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(member):
    return member(Role.OWNER)


def option_values(response) -> list[int]:
    return [int(v) for v in re.findall(r'data-value="(\d+)"', response.content.decode())]


def test_client_search_finds_the_agencys_own_clients_starting_with_the_term_first(
    agency, other_agency, owner, signed_in, count_queries
):
    late = ClientFactory(agency=agency, name="Zeta Acme Partners")
    early = ClientFactory(agency=agency, name="Acme Dental")
    ClientFactory(agency=agency, name="Bloom Studio")
    ClientFactory(agency=other_agency, name="Acme Elsewhere")
    http = signed_in(owner.user)
    url = reverse("client_search", args=[agency.slug])
    response = http.get(url, {"client_search": "acme", "list": "id_client_listbox"})
    assert response.status_code == 200
    assert option_values(response) == [early.pk, late.pk]
    assert 'id="id_client_listbox-' in response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    # At most 20, for the same queries however many match.
    few = count_queries(lambda: http.get(url, {"q": "client"}))
    for _ in range(30):
        ClientFactory(agency=agency)
    assert count_queries(lambda: http.get(url, {"q": "client"})) == few
    assert len(option_values(http.get(url, {"q": "client"}))) == 20
    assert "No client for" in http.get(url, {"q": "nothing like it"}).content.decode()


def test_assistant_search_matches_names_and_e_mails_of_the_agencys_assistants(
    agency, other_agency, owner, signed_in
):
    maria = AssistantProfileFactory(
        agency=agency, membership__user=UserFactory(full_name="Maria Silva")
    ).membership
    MembershipFactory(agency=agency, role=Role.ADMIN, user=UserFactory(full_name="Maria Admin"))
    AssistantProfileFactory(
        agency=other_agency, membership__user=UserFactory(full_name="Maria Other")
    )
    http = signed_in(owner.user)
    url = reverse("assistant_search", args=[agency.slug])
    assert option_values(http.get(url, {"q": "maria"})) == [maria.pk]
    assert option_values(http.get(url, {"q": maria.user.email[:6]})) == [maria.pk]


@pytest.mark.parametrize("name", ["client_search", "assistant_search"])
@pytest.mark.parametrize("role", [Role.CLIENT, Role.ASSISTANT])
def test_only_staff_may_search_names(name, role, agency, member, signed_in):
    ClientFactory(agency=agency, name="Acme Dental")
    http = signed_in(member(role).user)
    response = http.get(reverse(name, args=[agency.slug]), {"q": "a"})
    assert response.status_code == 403
    assert b"Acme Dental" not in response.content


def test_the_task_filter_renders_search_fields_not_a_select_of_every_client(
    agency, owner, signed_in
):
    clients = [ClientFactory(agency=agency) for _ in range(120)]
    for _ in range(40):
        AssistantProfileFactory(agency=agency)
    http = signed_in(owner.user)
    html = http.get(reverse("task_list", args=[agency.slug])).content.decode()
    assert clients[-1].name not in html
    assert 'role="combobox"' in html and 'aria-controls="id_client_listbox"' in html
    assert reverse("client_search", args=[agency.slug]) in html
    # A chosen client is kept after filtering, id and name.
    chosen = clients[7]
    html = http.get(
        reverse("task_list", args=[agency.slug]), {"client": chosen.pk}
    ).content.decode()
    assert f'value="{chosen.name}"' in html
    assert f'name="client" value="{chosen.pk}"' in html


def test_without_scripts_the_typed_text_chooses_the_client(agency, owner, signed_in):
    from tasks.views.work import TaskFilterForm

    acme = ClientFactory(agency=agency, name="Acme Dental")
    bloom = ClientFactory(agency=agency, name="Bloom Studio")
    ClientFactory(agency=agency, name="Bloom Gardens")

    def chosen(data):
        from core.tenancy import agency_scope

        with agency_scope(agency):
            form = TaskFilterForm(data, agency=agency)
            return form.filters()["client_id"], form.errors.get("client")

    assert chosen({"client_search": "acme dental"}) == (acme.pk, None)
    assert chosen({"client_search": "dent"}) == (acme.pk, None)  # the one that contains it
    # typed over an earlier choice: the text wins over the stale id
    assert chosen({"client": str(acme.pk), "client_search": "Bloom Studio"}) == (bloom.pk, None)
    assert chosen({"client": str(acme.pk), "client_search": "Acme Dental"}) == (acme.pk, None)
    assert chosen({"client": str(acme.pk), "client_search": ""}) == (None, None)
    client_id, errors = chosen({"client_search": "bloom"})
    assert client_id is None and "Several match" in errors[0]
    client_id, errors = chosen({"client_search": "nobody"})
    assert client_id is None and "Nothing matches" in errors[0]


def test_another_agencys_client_id_is_no_choice(agency, other_agency, owner, signed_in):
    theirs = ClientFactory(agency=other_agency, name="Their Client")
    http = signed_in(owner.user)
    response = http.get(reverse("task_list", args=[agency.slug]), {"client": theirs.pk})
    assert response.status_code == 200
    assert b"Their Client" not in response.content


def test_the_contract_and_invitation_forms_take_a_typed_client(agency, owner, signed_in):
    acme = ClientFactory(agency=agency, name="Acme Dental")
    ClientFactory(agency=agency, name="Bloom Studio")
    http = signed_in(owner.user)
    response = http.post(
        reverse("invitation_create", args=[agency.slug]),
        {"email": "new@acme.test", "role": "client", "client_search": "Acme"},
    )
    assert response.status_code == 302
    from accounts.models import Invitation
    from core.tenancy import scopes_disabled

    with scopes_disabled():
        assert Invitation.objects.get(email="new@acme.test").client_id == acme.pk
    page = http.get(reverse("contract_create", args=[agency.slug])).content.decode()
    assert "Bloom Studio" not in page and 'name="client_search"' in page


def test_the_report_filters_search_clients_and_assistants(agency, owner, signed_in):
    for _ in range(60):
        ClientFactory(agency=agency)
    http = signed_in(owner.user)
    html = http.get(reverse("report_hours", args=[agency.slug])).content.decode()
    assert html.count("<option") < 20


@pytest.mark.parametrize("name", ["charge_list", "invoice_list"])
def test_the_billing_lists_filter_by_a_searched_client(name, agency, owner, signed_in):
    clients = [ClientFactory(agency=agency) for _ in range(60)]
    http = signed_in(owner.user)
    url = reverse(name, args=[agency.slug])
    html = http.get(url).content.decode()
    assert clients[-1].name not in html
    assert 'name="client_search"' in html and "data-submit-on-pick" in html
    chosen = clients[3]
    response = http.get(url, {"client": chosen.pk})
    assert response.context["client"] == chosen
    assert f'value="{chosen.name}"' in response.content.decode()
    # typed without a script
    assert http.get(url, {"client_search": chosen.name}).context["client"] == chosen


@pytest.mark.parametrize(
    "params",
    [
        {"q": "ac\x00me"},
        {"q": "x" * 5000},
        {"q": "acme", "list": '"><script>alert(1)</script>'},
        {"client_search": "%_\\"},
    ],
)
def test_odd_search_input_is_an_answer_never_an_error(params, agency, owner, signed_in):
    ClientFactory(agency=agency, name="Acme Dental")
    http = signed_in(owner.user)
    response = http.get(reverse("client_search", args=[agency.slug]), params)
    assert response.status_code == 200
    assert b"<script>" not in response.content
    listed = http.get(
        reverse("task_list", args=[agency.slug]), {"client_search": params.get("q", "x")}
    )
    assert listed.status_code == 200
