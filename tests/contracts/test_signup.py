"""A business signs up from the agency's public page on a plan: account (allauth, with its
e-mail confirmation), client, owner membership and contract, once, and staff are told."""

import re
import uuid

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from accounts.models import Membership, User
from clients.models import Client, ClientMemberRights
from contracts.models import CollectionMethod, ContractStatus, ServiceContract
from contracts.plans import Plan, PlanStatus
from contracts.public_page import AgencyPublicPage
from contracts.signup import PlanSignup, plan_signup_complete
from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification, NotificationKind
from tests.contracts.test_public_page import published_page_of
from tests.factories import AgencyFactory, MembershipFactory, UserFactory

PASSWORD = "a-long-and-unusual-passphrase"
PLATFORM_KEY = "sk_test_platform"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def signup_url(shown, plan_id=None) -> str:
    return reverse(
        "public_signup",
        kwargs={"agency": shown["agency"].slug, "plan_id": plan_id or shown["kwargs"]["plan_id"]},
    )


def form_data(shown, *, email="dana@acme.test", key=None, **company) -> dict:
    data = {
        "company-name": "Acme Dental",
        "company-time_zone": "America/Chicago",
        "company-currency": shown["agency"].default_currency,
        "company-key": str(key or uuid.uuid4()),
    }
    data.update({f"company-{k}": v for k, v in company.items()})
    if email:
        data.update(
            {"account-email": email, "account-password1": PASSWORD, "account-password2": PASSWORD}
        )
    return data


def settle(shown, *, approve_first: bool):
    with scopes_disabled():
        AgencyPublicPage.objects.filter(pk=shown["page"].pk).update(
            signups_need_approval=approve_first
        )


def made_for(agency, email):
    with scopes_disabled():
        membership = Membership.objects.select_related("client").get(
            agency=agency, user__email=email
        )
        contracts = list(ServiceContract.objects.filter(client=membership.client))
        rights = ClientMemberRights.objects.filter(membership=membership).first()
    return membership, contracts, rights


@pytest.mark.django_db
@pytest.mark.parametrize("approve_first", [False, True])
def test_a_visitor_signs_up_confirms_and_lands_on_their_dashboard(
    approve_first, django_capture_on_commit_callbacks
):
    shown = published_page_of()
    agency = shown["agency"]
    settle(shown, approve_first=approve_first)
    staff = MembershipFactory(agency=agency, role=Role.OWNER).user
    http = HttpClient()

    page = http.get(reverse("public_page", kwargs={"agency": agency.slug})).content.decode()
    assert signup_url(shown) in page  # "Choose this plan" leads here
    assert http.get(signup_url(shown)).status_code == 200

    response = http.post(signup_url(shown), form_data(shown), follow=True)
    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent")
    with scopes_disabled():
        assert not Client.objects.filter(agency=agency).exists()  # nothing before confirming
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(link_in(mail.outbox[-1]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[agency.slug])
    assert response.templates[0].name == "dashboards/client.html"

    membership, contracts, rights = made_for(agency, "dana@acme.test")
    assert membership.role == Role.CLIENT and membership.client.name == "Acme Dental"
    assert membership.client.time_zone == "America/Chicago"
    assert membership.client.currency == agency.default_currency
    assert rights is not None and rights.is_owner
    assert len(contracts) == 1
    expected = ContractStatus.DRAFT if approve_first else ContractStatus.ACTIVE
    assert contracts[0].status == expected
    with scopes_disabled():
        told = Notification.objects.get(recipient=staff, kind=NotificationKind.CLIENT_SIGNED_UP)
    assert "Acme Dental" in told.title
    assert told.link == reverse("contract_detail", args=[agency.slug, contracts[0].pk])


@pytest.mark.django_db
def test_a_second_click_on_the_link_and_a_double_submit_make_one_client():
    shown = published_page_of()
    agency = shown["agency"]
    http = HttpClient()
    data = form_data(shown)
    http.post(signup_url(shown), data)
    http.post(signup_url(shown), data)  # the same form again: the address has an account
    confirm = [m for m in mail.outbox if "confirm" in m.body.lower()]
    link = link_in(confirm[0])
    http.post(link, follow=True)
    http.post(link, follow=True)
    with scopes_disabled():
        signup = PlanSignup.objects.get(agency=agency)
        assert Client.objects.filter(agency=agency).count() == 1
        assert User.objects.filter(email="dana@acme.test").count() == 1
    # completing again (the landing page, a retry) changes nothing
    again = plan_signup_complete(signup=signup)
    assert again.client_id == signup.client_id
    done = reverse("public_signup_done", kwargs={"agency": agency.slug, "key": signup.key})
    assert http.get(done).status_code == 302
    with scopes_disabled():
        assert Client.objects.filter(agency=agency).count() == 1
        assert ServiceContract.objects.filter(agency=agency).count() == 1


@pytest.mark.django_db
def test_a_signed_in_user_double_submitting_makes_one_client(signed_in):
    shown = published_page_of()
    agency = shown["agency"]
    user = UserFactory()
    http = signed_in(user)
    data = form_data(shown, email=None)
    first = http.post(signup_url(shown), data)
    second = http.post(signup_url(shown), data)
    assert first.status_code == second.status_code == 302
    with scopes_disabled():
        assert Client.objects.filter(agency=agency).count() == 1
        assert PlanSignup.objects.filter(agency=agency).count() == 1


@pytest.mark.django_db
def test_a_user_of_another_agency_signs_their_company_up_here_without_a_new_account(
    signed_in,
):
    shown = published_page_of()
    agency = shown["agency"]
    elsewhere = MembershipFactory(agency=AgencyFactory(), role=Role.ASSISTANT)
    http = signed_in(elsewhere.user)
    page = http.get(signup_url(shown)).content.decode()
    assert "account-password1" not in page and elsewhere.user.email in page
    response = http.post(signup_url(shown), form_data(shown, email=None), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[agency.slug])
    membership, contracts, rights = made_for(agency, elsewhere.user.email)
    assert membership.role == Role.CLIENT and rights.is_owner and len(contracts) == 1
    with scopes_disabled():
        assert Membership.objects.filter(user=elsewhere.user).count() == 2
        assert User.objects.filter(email=elsewhere.user.email).count() == 1
    assert not mail.outbox or all("confirm" not in m.subject.lower() for m in mail.outbox)


@pytest.mark.django_db
def test_staff_of_the_agency_cannot_sign_up_as_its_client(signed_in):
    shown = published_page_of()
    staff = MembershipFactory(agency=shown["agency"], role=Role.ADMIN).user
    response = signed_in(staff).post(signup_url(shown), form_data(shown, email=None))
    assert response.status_code == 400
    assert "on " in response.content.decode() and "team" in response.content.decode()


@pytest.mark.django_db
def test_a_card_on_file_plan_leads_to_the_card_page(signed_in, settings, stripe_server):
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_SECRET_KEY = PLATFORM_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    shown = published_page_of()
    agency = shown["agency"]
    settle(shown, approve_first=False)
    with scopes_disabled():
        Plan.objects.filter(pk=shown["kwargs"]["plan_id"]).update(
            collection_method=CollectionMethod.CHARGE_AUTOMATICALLY, days_until_due=None
        )
    http = signed_in(UserFactory())
    response = http.post(signup_url(shown), form_data(shown, email=None))
    assert response.status_code == 302
    assert response["Location"] == reverse("our_invoices", args=[agency.slug])
    card_page = http.get(response["Location"]).content.decode()
    assert 'data-testid="no-card"' in card_page and "Add a card" in card_page
    dashboard = http.get(reverse("dashboard", args=[agency.slug])).content.decode()
    assert 'data-testid="card-missing"' in dashboard


@pytest.mark.django_db
def test_unpublished_agencies_and_plans_and_another_agencys_plan_are_404(client):
    shown, other = published_page_of(), published_page_of()
    assert client.get(signup_url(shown)).status_code == 200
    assert client.get(signup_url(shown, plan_id=other["kwargs"]["plan_id"])).status_code == 404
    with scopes_disabled():
        Plan.objects.filter(pk=shown["kwargs"]["plan_id"]).update(status=PlanStatus.DRAFT)
    assert client.get(signup_url(shown)).status_code == 404
    assert client.post(signup_url(shown), form_data(shown)).status_code == 404
    with scopes_disabled():
        AgencyPublicPage.objects.filter(pk=other["page"].pk).update(is_published=False)
    assert client.get(signup_url(other)).status_code == 404
    unknown = reverse("public_signup", kwargs={"agency": "no-such-agency", "plan_id": 1})
    assert client.get(unknown).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field, says",
    [
        ({"currency": "JPY"}, "currency", "priced in GBP"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "not a known time zone"),
        ({"name": "   "}, "name", "required"),
        ({"key": "not-a-key"}, "key", "valid UUID"),
    ],
)
def test_bad_company_details_are_form_errors(client, change, field, says):
    shown = published_page_of()
    response = client.post(signup_url(shown), form_data(shown, **change))
    assert response.status_code == 400
    errors = response.context["company_form"].errors
    assert says in " ".join(errors[field])
    with scopes_disabled():
        assert not User.objects.filter(email="dana@acme.test").exists()
        assert not PlanSignup.objects.exists()


@pytest.mark.django_db
def test_a_bad_account_is_a_form_error_and_a_known_address_is_as_allauth_answers(client):
    shown = published_page_of()
    data = form_data(shown)
    data["account-password2"] = "something else entirely"
    response = client.post(signup_url(shown), data)
    assert response.status_code == 400 and response.context["account_form"].errors
    known = UserFactory(email="taken@acme.test")
    response = client.post(signup_url(shown), form_data(shown, email=known.email), follow=True)
    assert response.redirect_chain[-1][0] == reverse("account_email_verification_sent")
    with scopes_disabled():
        assert not PlanSignup.objects.exists()  # nobody learns the address has an account


@pytest.mark.django_db
def test_the_landing_link_is_only_its_persons(signed_in):
    shown = published_page_of()
    http = HttpClient()
    http.post(signup_url(shown), form_data(shown))
    with scopes_disabled():
        signup = PlanSignup.objects.get()
    done = reverse("public_signup_done", kwargs={"agency": shown["agency"].slug, "key": signup.key})
    response = http.get(done)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert signed_in(UserFactory()).get(done).status_code == 404
    wrong_agency = reverse(
        "public_signup_done", kwargs={"agency": "no-such-agency", "key": signup.key}
    )
    assert signed_in(signup.user).get(wrong_agency).status_code == 404
    # its own person, address not yet confirmed: told to confirm, nothing made
    response = signed_in(signup.user).get(done)
    assert response.status_code == 200 and b"Confirm your e-mail" in response.content
    with scopes_disabled():
        assert not Client.objects.exists()


@pytest.mark.django_db
def test_staff_activate_a_waiting_sign_up_with_the_contract_activation(signed_in):
    shown = published_page_of()
    agency = shown["agency"]
    settle(shown, approve_first=True)
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    signed_in(UserFactory()).post(signup_url(shown), form_data(shown, email=None))
    with scopes_disabled():
        contract = ServiceContract.objects.get(agency=agency)
    staff = signed_in(owner)
    listed = staff.get(reverse("contract_list", args=[agency.slug]) + "?status=draft")
    assert "Acme Dental" in listed.content.decode()
    response = staff.post(reverse("contract_transition", args=[agency.slug, contract.pk, "active"]))
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE


@pytest.mark.django_db
def test_staff_choose_whether_sign_ups_wait_for_approval(signed_in):
    shown = published_page_of()
    agency = shown["agency"]
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    url = reverse("public_page_settings", args=[agency.slug])
    response = signed_in(owner).post(
        url,
        {
            "is_published": "on",
            "brand_colour": "#1f4e79",
            "pitch": "",
            "contact_email": "hello@agency.test",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert AgencyPublicPage.objects.get(agency=agency).signups_need_approval is False


@pytest.mark.django_db(transaction=True)
def test_confirmations_racing_make_one_client():
    """Two requests completing the same sign-up at once (two clicks on the link, the link
    and the landing page) on their own connections: the row's lock lets one through."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers (set DATABASE_URL)")
    shown = published_page_of()
    agency = shown["agency"]
    user = UserFactory()
    with scopes_disabled():
        signup = PlanSignup.objects.create(
            agency=agency,
            plan_id=shown["kwargs"]["plan_id"],
            user=user,
            company_name="Acme Dental",
            time_zone="UTC",
            currency=agency.default_currency,
        )
    barrier = threading.Barrier(4, timeout=60)
    failures = []

    def run():
        try:
            barrier.wait()
            plan_signup_complete(signup=signup)
        except BaseException as error:  # surfaced below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with scopes_disabled():
        assert Client.objects.filter(agency=agency).count() == 1
        assert ServiceContract.objects.filter(agency=agency).count() == 1
        assert Membership.objects.filter(agency=agency, user=user).count() == 1
