"""The agency's public page (/p/<slug>/) and its settings: what strangers see, what they
never see, how cheaply and cacheably they see it, and how staff shape it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contracts.plans import Plan, PlanLine, PlanStatus
from contracts.public_page import (
    AgencyPublicPage,
    ListedService,
    accent_on_white,
    contrast_ratio,
    logo_version,
    text_colour_on,
)
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, LineFactory, ServiceFactory
from tests.factories import AgencyFactory, ClientFactory

# The smallest PNG: a signature the content check recognises.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def published_page_of(agency=None, *, services=1, plans=1) -> dict:
    """An agency with a published page (with a logo), `services` listed services and
    `plans` published plans; and the URL kwargs of its public routes."""
    agency = agency or AgencyFactory()
    category = CategoryFactory(agency=agency, name="Bookkeeping")
    with scopes_disabled():
        page = AgencyPublicPage(
            agency=agency,
            is_published=True,
            brand_colour="#1f4e79",
            pitch="We **keep books**.",
            contact_email="hello@agency.test",
            logo_content_type="image/png",
        )
        page.logo.save("logo.png", SimpleUploadedFile("logo.png", PNG), save=False)
        page.save()
        made = []
        for n in range(services):
            service = ServiceFactory(agency=agency, category=category, name=f"Ledgers {n}")
            ListedService.objects.create(
                agency=agency, service=service, price_kind="hourly", price=3500 + n
            )
            made.append(service)
        first_plan = None
        for n in range(plans):
            plan = Plan.objects.create(
                agency=agency,
                name=f"Twenty hours {n}",
                currency=agency.default_currency,
                days_until_due=14,
                status=PlanStatus.PUBLISHED,
            )
            PlanLine.objects.create(
                agency=agency,
                plan=plan,
                service=made[0] if made else ServiceFactory(agency=agency, category=category),
                pricing_model="retainer",
                retainer_fee=80000,
                included_minutes=20 * 60,
                rollover_cap_minutes=5 * 60,
                overage_rate=5000,
                rounding_increment_minutes=15,
            )
            first_plan = first_plan or plan
    return {
        "agency": agency,
        "page": page,
        "kwargs": {"plan_id": first_plan.pk if first_plan else 0, "version": logo_version(page)},
    }


def page_url(agency) -> str:
    return reverse("public_page", kwargs={"agency": agency.slug})


# -- what strangers see -----------------------------------------------------------------


def test_the_page_shows_listed_services_and_published_plans_and_nothing_private(client, db):
    shown = published_page_of()
    agency = shown["agency"]
    category = CategoryFactory(agency=agency, name="Inbox")
    unlisted = ServiceFactory(agency=agency, category=category, name="Secret sauce")
    client_row = ClientFactory(agency=agency, name="Acme Confidential Ltd")
    line = LineFactory(agency=agency, contract__client=client_row, service=unlisted)
    AssistantProfileFactory(
        agency=agency, membership__user__full_name="Priya Hidden", pay_rate=1234
    )
    with scopes_disabled():
        Plan.objects.create(
            agency=agency, name="Draft plan", currency=agency.default_currency, days_until_due=7
        )
        Plan.objects.create(
            agency=agency,
            name="Old plan",
            currency=agency.default_currency,
            days_until_due=7,
            status=PlanStatus.ARCHIVED,
        )
        terms = line.terms.get()

    response = client.get(page_url(agency))

    assert response.status_code == 200
    html = response.content.decode()
    assert agency.name in html
    assert "Ledgers 0" in html and "per hour" in html and "Bookkeeping" in html
    assert "Twenty hours 0" in html and "Choose this plan" in html
    assert "<strong>keep books</strong>" in html
    assert (
        reverse(
            "public_logo", kwargs={"agency": agency.slug, **{"version": shown["kwargs"]["version"]}}
        )
        in html
    )
    for private in ("Secret sauce", "Acme Confidential", "Priya Hidden", "Draft plan", "Old plan"):
        assert private not in html
    # neither the contract's rate nor what the agency pays its assistants
    assert "12.34" not in html and "$" not in html
    assert f"{terms.flat_fee or terms.hourly_rate}" not in html
    assert "<script" not in html  # readable without scripts, and none is sent
    assert "https://" not in html.replace(f"https://{response.wsgi_request.get_host()}", "")


def test_the_pitch_is_sanitised(client, db):
    shown = published_page_of()
    with scopes_disabled():
        AgencyPublicPage.objects.filter(pk=shown["page"].pk).update(
            pitch='Hello <script>alert(1)</script><a href="javascript:alert(1)" onclick="x()">x</a>'
        )
    html = client.get(page_url(shown["agency"])).content.decode()
    assert "alert(1)" not in html and "onclick" not in html and "javascript:" not in html


def test_the_page_costs_the_same_queries_for_one_or_many_services_and_plans(
    client, db, count_queries
):
    few = published_page_of(services=1, plans=1)
    many = published_page_of(services=12, plans=6)
    client.get(page_url(few["agency"]))  # warm caches (content types, templates)
    one = count_queries(lambda: client.get(page_url(few["agency"])))
    lots = count_queries(lambda: client.get(page_url(many["agency"])))
    assert one == lots
    assert one <= 6


def test_the_page_is_publicly_cacheable_and_answers_304_when_unchanged(client, db):
    shown = published_page_of()
    url = page_url(shown["agency"])
    first = client.get(url)
    assert "public" in first["Cache-Control"] and "max-age=" in first["Cache-Control"]
    assert "Cookie" not in first.get("Vary", "")
    assert not first.cookies  # no session is started for a visitor
    etag = first["ETag"]

    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b"" and again["ETag"] == etag

    # A change in the catalogue (not on the page's own row) is a new page.
    with scopes_disabled():
        listed = ListedService.objects.filter(agency=shown["agency"]).select_related("service")
        service = listed.first().service
        service.name = "Ledgers renamed"
        service.save()
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and "Ledgers renamed" in changed.content.decode()
    assert changed["ETag"] != etag


def test_unpublished_and_unknown_pages_are_404_like_strangers(client, db):
    shown = published_page_of()
    agency = shown["agency"]
    logo = reverse(
        "public_logo", kwargs={"agency": agency.slug, "version": shown["kwargs"]["version"]}
    )
    plan = reverse(
        "public_plan", kwargs={"agency": agency.slug, "plan_id": shown["kwargs"]["plan_id"]}
    )
    assert client.get(logo).status_code == 200
    assert client.get(logo)["Content-Type"] == "image/png"
    with scopes_disabled():
        AgencyPublicPage.objects.filter(pk=shown["page"].pk).update(is_published=False)
    for url in (page_url(agency), logo, plan, "/p/no-such-agency/"):
        assert client.get(url).status_code == 404, url
    never = AgencyFactory()
    assert client.get(page_url(never)).status_code == 404


def test_choosing_a_plan_says_how_to_get_in_touch(client, db):
    shown = published_page_of()
    url = reverse(
        "public_plan",
        kwargs={"agency": shown["agency"].slug, "plan_id": shown["kwargs"]["plan_id"]},
    )
    html = client.get(url).content.decode()
    assert "mailto:hello@agency.test" in html and "Twenty hours 0" in html
    with scopes_disabled():
        Plan.objects.filter(pk=shown["kwargs"]["plan_id"]).update(status=PlanStatus.DRAFT)
    assert client.get(url).status_code == 404


def test_the_header_text_reads_on_any_brand_colour():
    for colour in ("#ffff00", "#000000", "#1f4e79", "#ff7f50", "#777777", "#ffffff"):
        assert contrast_ratio(colour, text_colour_on(colour)) >= 4.5, colour
    assert text_colour_on("#ffff00") == "#000000"
    assert text_colour_on("#1f4e79") == "#ffffff"
    assert accent_on_white("#ffff00") != "#ffff00"  # too pale for links on white


# -- settings ------------------------------------------------------------------------------


def settings_url(agency) -> str:
    return reverse("public_page_settings", kwargs={"agency_slug": agency.slug})


def page_form(**changes) -> dict:
    return {
        "is_published": "on",
        "brand_colour": "#2b5797",
        "pitch": "Virtual assistants for busy founders.",
        "contact_email": "hello@agency.test",
        **changes,
    }


def test_an_admin_publishes_the_page_with_a_logo(agency, member, signed_in, client):
    admin = signed_in(member(Role.ADMIN).user)
    logo = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    response = admin.post(settings_url(agency), page_form(logo=logo))
    assert response.status_code == 302
    with agency_scope(agency):
        page = AgencyPublicPage.objects.get(agency=agency)
    assert page.is_published and page.logo and page.brand_colour == "#2b5797"
    assert client.get(page_url(agency)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"brand_colour": "blue"}, "Use a colour like"),
        ({"brand_colour": "#12345g"}, "Use a colour like"),
        ({"contact_email": ""}, "Give a contact e-mail"),
        ({"contact_email": "not-an-address"}, "valid email"),
        ({"pitch": "x" * 2001}, "at most 2000"),
        (
            {"logo": SimpleUploadedFile("logo.svg", b"<svg onload='x()'/>", "image/svg+xml")},
            "PNG, JPEG or WebP",
        ),
        ({"logo": SimpleUploadedFile("logo.png", b"plain text, not a png")}, "not that of a .png"),
        ({"logo": SimpleUploadedFile("logo.png", PNG + b"\0" * (1024 * 1024))}, "at most 1024 KB"),
    ],
)
def test_bad_settings_are_form_errors(agency, member, signed_in, changes, said):
    admin = signed_in(member(Role.ADMIN).user)
    response = admin.post(settings_url(agency), page_form(**changes))
    assert response.status_code == 200
    assert said in response.content.decode()
    with agency_scope(agency):
        assert not AgencyPublicPage.objects.filter(agency=agency, is_published=True).exists()


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_only_staff_change_the_page(agency, member, signed_in, role):
    person = signed_in(member(role).user)
    assert person.post(settings_url(agency), page_form()).status_code == 403
    services = reverse("public_page_services", kwargs={"agency_slug": agency.slug})
    assert person.get(services).status_code == 403


def test_staff_choose_the_listed_services_and_their_prices(agency, member, signed_in, client):
    admin = signed_in(member(Role.ADMIN).user)
    admin.post(settings_url(agency), page_form())
    shown = ServiceFactory(agency=agency, name="Inbox zero")
    hidden = ServiceFactory(agency=agency, name="Not for sale")
    url = reverse("public_page_services", kwargs={"agency_slug": agency.slug})
    form = admin.get(url)
    assert form.status_code == 200 and "Inbox zero" in form.content.decode()

    def rows(price):
        return {
            "services-TOTAL_FORMS": "2",
            "services-INITIAL_FORMS": "2",
            "services-0-service_id": str(shown.pk),
            "services-0-listed": "on",
            "services-0-price_kind": "flat",
            "services-0-price": price,
            "services-0-turnaround": "Same day",
            "services-1-service_id": str(hidden.pk),
            "services-1-price_kind": "hourly",
            "services-1-price": "30",
        }

    refused = admin.post(url, rows(""))
    assert refused.status_code == 200
    assert "Enter the public price of Inbox zero" in refused.content.decode()
    assert admin.post(url, rows("45.00")).status_code == 302
    html = client.get(page_url(agency)).content.decode()
    assert "Inbox zero" in html and "Same day" in html and "per task" in html
    assert "Not for sale" not in html


def test_a_service_of_another_agency_cannot_be_listed(agency, other_agency, member, signed_in):
    admin = signed_in(member(Role.ADMIN).user)
    foreign = ServiceFactory(agency=other_agency)
    url = reverse("public_page_services", kwargs={"agency_slug": agency.slug})
    response = admin.post(
        url,
        {
            "services-TOTAL_FORMS": "1",
            "services-INITIAL_FORMS": "1",
            "services-0-service_id": str(foreign.pk),
            "services-0-listed": "on",
            "services-0-price_kind": "on_request",
        },
    )
    assert response.status_code == 200
    with agency_scope(agency):
        assert not ListedService.objects.exists()


def test_the_services_form_costs_the_same_for_one_service_or_many(
    agency, member, signed_in, count_queries
):
    admin = signed_in(member(Role.ADMIN).user)
    url = reverse("public_page_services", kwargs={"agency_slug": agency.slug})
    ServiceFactory(agency=agency)
    admin.get(url)
    one = count_queries(lambda: admin.get(url))
    for _ in range(10):
        service = ServiceFactory(agency=agency)
        with scopes_disabled():
            ListedService.objects.create(agency=agency, service=service, price_kind="on_request")
    with scopes_disabled():
        Plan.objects.create(
            agency=agency, name="A plan", currency=agency.default_currency, days_until_due=7
        )
    many = count_queries(lambda: admin.get(url))
    assert one == many


def test_a_public_price_past_what_the_database_holds_is_a_form_error(agency, member, signed_in):
    admin = signed_in(member(Role.ADMIN).user)
    service = ServiceFactory(agency=agency, name="Inbox zero")
    url = reverse("public_page_services", kwargs={"agency_slug": agency.slug})
    response = admin.post(
        url,
        {
            "services-TOTAL_FORMS": "2",
            "services-INITIAL_FORMS": "2",
            "services-0-service_id": str(service.pk),
            "services-0-listed": "on",
            "services-0-price_kind": "flat",
            "services-0-price": "99999999",
            "services-1-service_id": str(10**30),
            "services-1-price_kind": "flat",
        },
    )
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to" in response.content.decode()
    del_row = {"services-TOTAL_FORMS": "1", "services-INITIAL_FORMS": "1"}
    response = admin.post(
        url,
        {
            **del_row,
            "services-0-service_id": str(service.pk),
            "services-0-listed": "on",
            "services-0-price_kind": "flat",
            "services-0-price": "99999999",
        },
    )
    assert response.status_code == 200
    assert "Enter a smaller price" in response.content.decode()
    with agency_scope(agency):
        assert not ListedService.objects.exists()
