"""PostgreSQL row-level security under the ORM's scoping: inside one agency's scope even
SQL with no agency filter at all sees and writes only that agency's rows."""

import contextlib

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from clients.models import Client
from core.models import TenantModel
from core.row_security import POLICY, row_security_apply, tenant_tables
from core.tenancy import agency_scope, scopes_disabled
from tests.factories import AgencyFactory, ClientFactory

PROBE_ROLE = "va_row_security_probe"


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (set DATABASE_URL)")


@pytest.fixture
def held_to_policies(db):
    """Run as a role the policies hold: the test's own when it is not a superuser (as in
    CI and production), else a probe role without superuser or BYPASSRLS."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            yield
            return
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [PROBE_ROLE])
        if cursor.fetchone() is None:
            with contextlib.suppress(IntegrityError, ProgrammingError), transaction.atomic():
                cursor.execute(f"CREATE ROLE {PROBE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"SET ROLE {PROBE_ROLE}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def raw_client_names() -> list[str]:
    """Every client name, by SQL with no agency filter."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM clients_client ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


@pytest.fixture
def two_agencies(db):
    first, second = AgencyFactory(), AgencyFactory()
    ClientFactory(agency=first, name="Alder")
    ClientFactory(agency=second, name="Birch")
    return first, second


def test_every_tenant_table_has_the_policy_forced(db):
    from django.apps import apps

    models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    assert {m._meta.db_table for m in models} == set(tenant_tables())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname"
            " WHERE c.relrowsecurity AND c.relforcerowsecurity AND p.policyname = %s",
            [POLICY],
        )
        covered = {table for (table,) in cursor.fetchall()}
    assert set(tenant_tables()) <= covered
    assert row_security_apply() == []  # applied already: nothing to change


def test_unfiltered_sql_sees_only_the_scopes_agency(two_agencies, held_to_policies):
    first, second = two_agencies
    with agency_scope(first):
        assert raw_client_names() == ["Alder"]
        with agency_scope(second):
            assert raw_client_names() == ["Birch"]
        assert raw_client_names() == ["Alder"]
        # The base manager has no scope of its own: the database still fences it.
        assert list(Client._base_manager.values_list("name", flat=True)) == ["Alder"]
        with scopes_disabled():
            assert raw_client_names() == ["Alder", "Birch"]
    assert raw_client_names() == ["Alder", "Birch"]  # outside any scope, as at sign-in


def test_a_scope_cannot_write_another_agencys_rows(two_agencies, held_to_policies):
    first, second = two_agencies
    with agency_scope(first):
        with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE clients_client SET agency_id = %s WHERE name = 'Alder'", [second.pk]
            )
        with connection.cursor() as cursor:
            cursor.execute("UPDATE clients_client SET name = 'Changed' WHERE name = 'Birch'")
            assert cursor.rowcount == 0  # not visible, so not changed
    with scopes_disabled():
        assert sorted(Client.objects.values_list("name", flat=True)) == ["Alder", "Birch"]


def test_a_rolled_back_savepoint_does_not_leave_the_wrong_agency(two_agencies, held_to_policies):
    """The setting made inside a savepoint is undone with it; the next statement sends it
    again instead of trusting what it sent."""
    first, second = two_agencies
    with agency_scope(first):
        assert raw_client_names() == ["Alder"]
    with agency_scope(second):
        with contextlib.suppress(ZeroDivisionError), transaction.atomic():
            assert raw_client_names() == ["Birch"]  # the setting changes in the savepoint
            raise ZeroDivisionError
        assert raw_client_names() == ["Birch"]
    with agency_scope(first):
        assert raw_client_names() == ["Alder"]


def test_passing_the_scope_on_costs_no_query(two_agencies, django_assert_num_queries):
    first, second = two_agencies
    for agency in (first, second, first):
        with agency_scope(agency), django_assert_num_queries(1):
            assert Client.objects.count() == 1
