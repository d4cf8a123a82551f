from django.core.management import call_command


def test_the_openapi_schema_generates_without_warnings(tmp_path, db):
    """Every endpoint documents its types: drf-spectacular fails on any guess it makes."""
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    assert "/api/v1/a/{agency_slug}/contracts/{id}/transition/" in schema
    assert "/api/v1/a/{agency_slug}/assistants/" in schema
