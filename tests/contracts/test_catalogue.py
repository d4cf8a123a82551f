import pytest
from django import forms
from django.urls import reverse

from contracts import services
from contracts.models import COMMON_CATEGORIES, ServiceCategory
from contracts.request_templates import template_form_fields, validate_template
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import CategoryFactory


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


TRAVEL = [
    {"name": "origin", "label": "Origin", "type": "text", "required": True},
    {"name": "destination", "label": "Destination", "type": "text", "required": True},
    {"name": "depart_on", "label": "Departure date", "type": "date", "required": True},
    {"name": "nights", "label": "Nights away", "type": "number"},
    {"name": "cabin", "label": "Cabin", "type": "choice", "choices": ["Economy", "Business"]},
]


def test_a_new_agency_starts_with_the_common_categories(db):
    from accounts.services import agency_create
    from tests.factories import UserFactory

    agency = agency_create(
        owner=UserFactory(), name="Fresh", time_zone="UTC", default_currency="USD"
    )
    with agency_scope(agency):
        slugs = set(ServiceCategory.objects.values_list("slug", flat=True))
    assert slugs == {slug for slug, _ in COMMON_CATEGORIES}


def test_a_service_with_a_request_template(agency, admin):
    category = CategoryFactory(agency=agency)
    with agency_scope(agency):
        service = services.service_create(
            agency=agency,
            actor=admin,
            name=" Travel booking ",
            category=category,
            default_pricing_model="flat",
            default_price=6000,
            default_turnaround_hours=48,
            request_template=TRAVEL,
        )
    assert service.name == "Travel booking"
    assert [f["name"] for f in service.request_template] == [
        "origin",
        "destination",
        "depart_on",
        "nights",
        "cabin",
    ]
    assert service.request_template[3] == {
        "name": "nights",
        "label": "Nights away",
        "type": "number",
        "required": False,
        "choices": [],
    }
    fields = template_form_fields(service.request_template)
    assert isinstance(fields["depart_on"], forms.DateField) and fields["depart_on"].required
    assert [c for c, _ in fields["cabin"].choices] == ["", "Economy", "Business"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("not a list", "is a list"),
        ([{"name": "Bad Name", "label": "X"}], "lower-case"),
        ([{"name": "a", "label": "A"}, {"name": "a", "label": "B"}], "used twice"),
        ([{"name": "a", "label": "A", "type": "colour"}], "unknown type"),
        ([{"name": "a", "label": "A", "type": "choice", "choices": ["one"]}], "two choices"),
        ([{"name": "a", "label": ""}], "label"),
    ],
)
def test_bad_request_templates_are_refused(template, message):
    with pytest.raises(ApplicationError) as error:
        validate_template(template)
    assert message in error.value.message
    assert error.value.code == "request_template_invalid"


def test_service_names_are_unique_and_categories_local(agency, other_agency, admin):
    category = CategoryFactory(agency=agency)
    foreign = CategoryFactory(agency=other_agency)
    data = {
        "default_pricing_model": "hourly",
        "default_price": 4000,
        "default_turnaround_hours": 24,
    }
    with agency_scope(agency):
        services.service_create(agency=agency, actor=admin, name="Inbox", category=category, **data)
        with pytest.raises(ApplicationError) as error:
            services.service_create(
                agency=agency, actor=admin, name="Inbox", category=category, **data
            )
        assert error.value.code == "service_name_taken"
        with pytest.raises(ApplicationError) as error:
            services.service_create(
                agency=agency, actor=admin, name="Other", category=foreign, **data
            )
        assert error.value.code == "service_category_invalid"
        with pytest.raises(ApplicationError) as error:
            services.service_create(
                agency=agency,
                actor=admin,
                name="Zero",
                category=category,
                **{**data, "default_turnaround_hours": 0},
            )
        assert error.value.extra["field"] == "default_turnaround_hours"


def test_admins_add_categories_with_clear_errors(agency, admin, signed_in, api):
    url = reverse("category_list", args=[agency.slug])
    http = signed_in(admin)
    assert http.post(url, {"name": "Podcast editing"}).status_code == 302
    response = http.post(url, {"name": "podcast  editing"})
    assert response.context["form"].errors == {
        "name": ["There is already a category called “podcast  editing”."]
    }
    response = api(admin).post(
        reverse("api:category-list", args=[agency.slug]), {"name": "Lead research"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["slug"] == "lead-research"
    with agency_scope(agency):
        assert (
            ServiceCategory.objects.filter(slug__in=["podcast-editing", "lead-research"]).count()
            == 2
        )
