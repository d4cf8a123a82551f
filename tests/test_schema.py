import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator


def test_the_openapi_schema_generates_without_warnings(tmp_path, db):
    """Every endpoint documents its types: drf-spectacular fails on any guess it makes."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    assert "/api/v1/a/{agency_slug}/contracts/{id}/transition/" in schema
    assert "/api/v1/a/{agency_slug}/assistants/" in schema


@pytest.fixture
def schema(db):
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def test_every_action_documents_its_body(schema):
    for path, method, operation in operations(schema):
        if method in ("POST", "PUT", "PATCH"):
            assert "requestBody" in operation, f"{method} {path}"
    start = schema["paths"]["/api/v1/a/{agency_slug}/tasks/{id}/start/"]["post"]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NoBodyRequest"}
    assert not start["requestBody"].get("required")


def test_every_operation_documents_its_errors_with_the_error_body(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {
        "message",
        "code",
        "extra",
    }
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        label = f"{method} {path}"
        assert {"401", "403"} <= set(responses), label  # every operation needs a caller
        if "{" in path:
            assert "404" in responses, label
        if "requestBody" in operation:
            assert "400" in responses, label
        for code, response in responses.items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"] == error, label


def test_what_may_be_null_is_nullable(schema):
    components = schema["components"]["schemas"]
    assert components["Member"]["properties"]["client"]["nullable"] is True
    assert components["MembershipOfUser"]["properties"]["client"]["nullable"] is True
    entry = components["Timer"]["properties"]["entry"]
    assert entry["nullable"] is True and entry["allOf"] == [
        {"$ref": "#/components/schemas/TimeEntry"}
    ]
    for path in ("timer/", "timer/stop/"):
        item = schema["paths"][f"/api/v1/a/{{agency_slug}}/{path}"]
        operation = item.get("get") or item["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Timer"
        }
