"""A service's request fields: shown under their own labels wherever their answers are,
checked as strictly as the task's own fields, and never a second copy of one of them."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from contracts import services
from contracts.models import Service
from contracts.request_templates import validate_template
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory

NOW = "2026-03-10 15:00Z"
TEMPLATE = [
    {"name": "origin", "label": "From", "type": "text", "required": True, "choices": []},
    {"name": "destination", "label": "To", "type": "text", "required": True, "choices": []},
    {
        "name": "depart_on",
        "label": "Departure date",
        "type": "date",
        "required": True,
        "choices": [],
    },
    {
        "name": "matter_number",
        "label": "Matter number",
        "type": "text",
        "required": False,
        "choices": [],
    },
    {
        "name": "passengers",
        "label": "Passengers",
        "type": "number",
        "required": False,
        "choices": [],
    },
    {
        "name": "cabin",
        "label": "Cabin",
        "type": "choice",
        "required": False,
        "choices": ["Economy", "Business"],
    },
]


@pytest.fixture
def travel(agency, time_machine):
    time_machine.move_to(NOW, tick=False)
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(
        agency=agency, name="Travel booking", category=category, request_template=TEMPLATE
    )
    client = ClientFactory(agency=agency, time_zone="America/New_York", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    return {
        "service": service,
        "category": category,
        "line": line,
        "person": MembershipFactory(agency=agency, role=Role.CLIENT, client=client),
        "admin": MembershipFactory(agency=agency, role=Role.ADMIN),
        "assistant": AssistantProfileFactory(agency=agency, skills=[category]).membership,
    }


def request_form(travel, **answers):
    return {
        "service": travel["service"].pk,
        "title": "Flights to the expo",
        "details": "",
        "priority": "1",
        "due_date": "2026-03-20",
        "due_time": "09:00",
        "max_budget": "",
        "tpl_origin": "Austin",
        "tpl_destination": "Chicago",
        "tpl_depart_on": "2027-02-10",
        "tpl_matter_number": "M-114",
        **answers,
    }


def post_request(agency, travel, signed_in, **answers):
    return signed_in(travel["person"].user).post(
        reverse("client_task_create", args=[agency.slug]), request_form(travel, **answers)
    )


def the_task(agency):
    with agency_scope(agency):
        return Task.objects.get()


# -- labels ---------------------------------------------------------------------------------


def test_the_task_page_shows_each_fields_own_label(agency, travel, signed_in):
    assert post_request(agency, travel, signed_in, tpl_passengers="2").status_code == 302
    task = the_task(agency)
    for who in ("person", "admin", "assistant"):
        page = signed_in(travel[who].user).get(reverse("task_detail", args=[agency.slug, task.pk]))
        html = page.content.decode()
        section = html.split('data-testid="request-fields"')[1].split("</dl>")[0]
        assert "<dt>From</dt><dd>Austin</dd>" in section
        assert "<dt>To</dt><dd>Chicago</dd>" in section
        assert "<dt>Departure date</dt><dd>2027-02-10</dd>" in section
        assert "<dt>Matter number</dt><dd>M-114</dd>" in section
        assert "<dt>Passengers</dt><dd>2</dd>" in section
        for mangled in ("Origin", "Destination", "Departon", "Matternumber"):
            assert mangled not in section


def test_a_renamed_label_shows_on_earlier_tasks_and_keeps_their_answers(agency, travel, signed_in):
    post_request(agency, travel, signed_in)
    http = signed_in(travel["admin"].user)
    edit = reverse("service_update", args=[agency.slug, travel["service"].pk])
    page = http.get(edit)
    formset = page.context["formset"]
    data = {
        "name": "Travel booking",
        "category": travel["category"].pk,
        "description": "",
        "default_pricing_model": "hourly",
        "default_price": "40.00",
        "default_turnaround_hours": "24",
        "is_active": "on",
        **{f"template-{key}": value for key, value in formset.management_form.initial.items()},
    }
    data["template-TOTAL_FORMS"] = str(len(formset.forms))
    for index, form in enumerate(formset.forms):
        data[f"template-{index}-type"] = "text"  # as a browser sends every select
        for name in ("name", "label", "type", "required", "choices"):
            value = form.initial.get(name)
            if value is None or value is False:
                continue
            data[f"template-{index}-{name}"] = "on" if value is True else value
    data["template-0-label"] = "Departure city"
    assert http.post(edit, data).status_code == 302
    with agency_scope(agency):
        template = Service.objects.get(pk=travel["service"].pk).request_template
    assert [f["name"] for f in template] == [f["name"] for f in TEMPLATE]
    assert template[0]["label"] == "Departure city"
    task = the_task(agency)
    html = http.get(reverse("task_detail", args=[agency.slug, task.pk])).content.decode()
    assert "<dt>Departure city</dt><dd>Austin</dd>" in html


def test_the_api_gives_each_answer_with_its_label(agency, travel, signed_in, api):
    post_request(agency, travel, signed_in)
    task = the_task(agency)
    http = api(travel["admin"].user)
    body = http.get(reverse("api:task-detail", args=[agency.slug, task.pk])).json()
    assert body["template_data"]["matter_number"] == "M-114"
    assert body["request_fields"] == [
        {"name": "origin", "label": "From", "value": "Austin"},
        {"name": "destination", "label": "To", "value": "Chicago"},
        {"name": "depart_on", "label": "Departure date", "value": "2027-02-10"},
        {"name": "matter_number", "label": "Matter number", "value": "M-114"},
    ]
    listed = http.get(reverse("api:task-list", args=[agency.slug])).json()["results"][0]
    assert listed["request_fields"] == body["request_fields"]


# -- answers are checked like the task's own fields ----------------------------------------


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"tpl_passengers": "-999"}, "tpl_passengers", "Enter zero or more."),
        ({"tpl_passengers": "-0.01"}, "tpl_passengers", "Enter zero or more."),
        ({"tpl_passengers": "10000000000"}, "tpl_passengers", "at most"),
        ({"tpl_passengers": "NaN"}, "tpl_passengers", "Enter a number."),
        ({"tpl_depart_on": "1999-12-31"}, "tpl_depart_on", "Use a date from"),
        ({"tpl_depart_on": "2100-01-01"}, "tpl_depart_on", "Use a date from"),
        ({"tpl_cabin": "First"}, "tpl_cabin", "Select a valid choice"),
        ({"tpl_origin": "x" * 401}, "tpl_origin", "at most 400 characters"),
        ({"tpl_origin": "   "}, "tpl_origin", "This field is required."),
    ],
)
def test_bad_answers_are_form_errors_and_no_task(
    agency, travel, signed_in, answers, field, message
):
    response = post_request(agency, travel, signed_in, **answers)
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    with agency_scope(agency):
        assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"passengers": -999}, "passengers"),
        ({"passengers": "1e12"}, "passengers"),
        ({"depart_on": "0001-01-01"}, "depart_on"),
        ({"origin": {"city": "Austin"}}, "origin"),
        ({"origin": ["Austin"]}, "origin"),
        ({"origin": True}, "origin"),
        ({"cabin": "First"}, "cabin"),
    ],
)
def test_bad_answers_through_the_api_are_400s_naming_the_field(agency, travel, api, answers, field):
    template_data = {"origin": "Austin", "destination": "Chicago", "depart_on": "2027-02-10"}
    response = api(travel["person"].user).post(
        reverse("api:task-list", args=[agency.slug]),
        {
            "service": travel["service"].pk,
            "title": "Flights",
            "template_data": {**template_data, **answers},
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "task_template_invalid"
    assert response.json()["extra"]["field"] == field
    with agency_scope(agency):
        assert not Task.objects.exists()


def test_a_number_is_stored_as_plain_text(agency, travel, api):
    response = api(travel["person"].user).post(
        reverse("api:task-list", args=[agency.slug]),
        {
            "service": travel["service"].pk,
            "title": "Flights",
            "template_data": {
                "origin": "Austin",
                "destination": "Chicago",
                "depart_on": "2027-02-10",
                "passengers": "2.50",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["template_data"]["passengers"] == "2.5"


# -- a template never repeats a built-in field ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("budget", "Budget"),
        ("travel_budget", "BUDGET"),
        ("spend", "budget (optional)"),
        ("max_budget", "Spending limit"),
        ("notes", "Title"),
        ("title", "Trip name"),
        ("deadline", "Due date"),
        ("due_time", "Time"),
        ("papers", "Files"),
        ("more", "Details"),
        ("level", "priority"),
        ("amount", "Budget in USD"),
    ],
)
def test_a_template_field_cannot_repeat_a_built_in_one(name, label):
    with pytest.raises(ApplicationError) as error:
        validate_template([{"name": "nights", "label": "Nights"}, {"name": name, "label": label}])
    assert error.value.code == "request_template_built_in"
    assert error.value.extra == {"field": "request_template", "row": 1}
    assert "already has the task's own" in error.value.message


def test_labels_are_unique_case_insensitively():
    with pytest.raises(ApplicationError) as error:
        validate_template([{"name": "a", "label": "Cabin"}, {"name": "b", "label": "cabin "}])
    assert "used twice" in error.value.message


def test_the_service_form_says_which_row_repeats_a_built_in_field(agency, travel, signed_in):
    http = signed_in(travel["admin"].user)
    response = http.post(
        reverse("service_create", args=[agency.slug]),
        {
            "name": "Travel, again",
            "category": travel["category"].pk,
            "default_pricing_model": "flat",
            "default_price": "60",
            "default_turnaround_hours": "48",
            "is_active": "on",
            "template-TOTAL_FORMS": "3",
            "template-INITIAL_FORMS": "0",
            "template-MIN_NUM_FORMS": "0",
            "template-MAX_NUM_FORMS": "20",
            "template-0-label": "From",
            "template-0-type": "text",
            "template-1-label": "Budget",
            "template-1-type": "number",
            "template-2-type": "text",
        },
    )
    assert response.status_code == 200
    rows = response.context["formset"].forms
    assert not rows[0].errors
    assert "already has the task's own “Budget” field" in rows[1].errors["label"][0]
    assert "already has the task" in response.content.decode()
    with agency_scope(agency):
        assert not Service.objects.filter(name="Travel, again").exists()


def test_the_api_refuses_a_template_that_repeats_a_built_in_field(agency, travel, api):
    response = api(travel["admin"].user).post(
        reverse("api:service-list", args=[agency.slug]),
        {
            "name": "Travel, again",
            "category": travel["category"].pk,
            "default_pricing_model": "flat",
            "default_price": 6000,
            "request_template": [{"name": "title", "label": "Title", "type": "text"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "request_template_built_in"


def test_the_demo_catalogue_has_no_built_in_field_twice():
    from va_agency.management.commands.seed_demo import DEMO_SERVICES

    for *_, template in DEMO_SERVICES:
        validate_template(template)


def test_stored_templates_lose_their_copies_of_built_in_fields(agency, travel):
    with agency_scope(agency):
        Service.objects.filter(pk=travel["service"].pk).update(
            request_template=[
                *TEMPLATE[:2],
                {"name": "budget", "label": "Budget", "type": "number", "required": False},
                {"name": "files", "label": "Upload", "type": "text", "required": False},
            ]
        )
    migration = importlib.import_module(
        "contracts.migrations.0003_request_templates_without_built_in_fields"
    )
    migration.drop_built_in_fields(django_apps, None)
    with agency_scope(agency):
        template = Service.objects.get(pk=travel["service"].pk).request_template
    assert [f["name"] for f in template] == ["origin", "destination"]
    validate_template(template)


def test_the_built_in_fields_are_the_request_forms_own():
    """The template's list of built-in fields follows the task's request form."""
    from contracts.request_templates import built_in_field_for
    from tasks.views.client import TaskRequestForm

    for name, field in TaskRequestForm.base_fields.items():
        assert built_in_field_for(name) is not None, name
        label = str(field.label or name).split(" (")[0]
        assert built_in_field_for(label) is not None, label


def test_service_saves_go_through_the_same_rule(agency, travel):
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        services.service_update(
            agency=agency,
            actor=travel["admin"].user,
            service=travel["service"],
            request_template=[*TEMPLATE, {"name": "due", "label": "Due", "type": "date"}],
        )
    assert error.value.code == "request_template_built_in"
