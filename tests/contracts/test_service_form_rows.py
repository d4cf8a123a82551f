"""The service form's request-field rows: as many as the template may hold, added and
removed with the page's script or, without it, by sending the form back for one more row."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from contracts.models import Service
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import CategoryFactory, ServiceFactory


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


def service_form(category, rows, total=None, **extra):
    data = {
        "name": "Travel booking",
        "category": category.pk,
        "description": "",
        "default_pricing_model": "flat",
        "default_price": "60",
        "default_turnaround_hours": "48",
        "is_active": "on",
        "template-TOTAL_FORMS": str(total if total is not None else len(rows)),
        "template-INITIAL_FORMS": "0",
        "template-MIN_NUM_FORMS": "0",
        "template-MAX_NUM_FORMS": "20",
        **extra,
    }
    for index, row in enumerate(rows):
        data[f"template-{index}-type"] = "text"
        data.update({f"template-{index}-{key}": value for key, value in row.items()})
    return data


def test_the_form_has_an_add_button_an_empty_row_to_copy_and_its_script(agency, admin, signed_in):
    html = signed_in(admin).get(reverse("service_create", args=[agency.slug])).content.decode()
    assert 'name="template-TOTAL_FORMS" value="3"' in html
    assert re.search(r'<template data-formset-empty>.*name="template-__prefix__-label"', html, re.S)
    assert 'name="add_field"' in html and "Add a field" in html
    assert "/static/js/formset_rows.js" in html
    assert finders.find("js/formset_rows.js")


def test_without_a_script_add_a_field_shows_one_more_row_and_saves_nothing(
    agency, admin, signed_in
):
    category = CategoryFactory(agency=agency)
    http = signed_in(admin)
    rows = [{"label": f"Question {n}"} for n in range(1, 4)]
    response = http.post(
        reverse("service_create", args=[agency.slug]),
        service_form(category, rows, add_field="1", name=""),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="template-TOTAL_FORMS" value="4"' in html
    assert 'name="template-3-label"' in html
    assert 'value="Question 3"' in html
    assert 'class="error"' not in html  # nothing is marked wrong before it is sent
    with agency_scope(agency):
        assert not Service.objects.exists()


def test_many_rows_are_saved_in_order_and_empty_ones_skipped(agency, admin, signed_in):
    category = CategoryFactory(agency=agency)
    labels = ["From", "To", "Departure date", "Return date", "Passengers", "Matter number"]
    rows = [{"label": label} for label in labels] + [{}]
    response = signed_in(admin).post(
        reverse("service_create", args=[agency.slug]), service_form(category, rows)
    )
    assert response.status_code == 302
    with agency_scope(agency):
        template = Service.objects.get().request_template
    assert [f["label"] for f in template] == labels
    assert [f["name"] for f in template][:2] == ["from", "to"]


def test_a_removed_row_leaves_the_template(agency, admin, signed_in):
    service = ServiceFactory(
        agency=agency,
        request_template=[
            {"name": "origin", "label": "From", "type": "text", "required": True, "choices": []},
            {"name": "seat", "label": "Seat", "type": "text", "required": False, "choices": []},
        ],
    )
    rows = [
        {"name": "origin", "label": "From", "required": "on"},
        {"name": "seat", "label": "Seat", "DELETE": "on"},
    ]
    data = service_form(service.category, rows, **{"template-INITIAL_FORMS": "2"})
    data["name"] = service.name
    response = signed_in(admin).post(
        reverse("service_update", args=[agency.slug, service.pk]), data
    )
    assert response.status_code == 302
    with agency_scope(agency):
        service.refresh_from_db()
    assert [f["name"] for f in service.request_template] == ["origin"]


def test_no_more_rows_than_a_template_may_hold(agency, admin, signed_in):
    category = CategoryFactory(agency=agency)
    rows = [{"label": f"Question {n}"} for n in range(21)]
    response = signed_in(admin).post(
        reverse("service_create", args=[agency.slug]), service_form(category, rows)
    )
    assert response.status_code == 200
    assert "20" in " ".join(response.context["formset"].non_form_errors())
    with agency_scope(agency):
        assert not Service.objects.exists()
