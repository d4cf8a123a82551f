"""PostgreSQL row-level security on every tenant table: defence in depth under the ORM's
scoping (django-scopes), so that a query that forgot its agency filter (raw SQL, a base
manager, a related manager) still sees only the agency of the scope it runs in.

The policy lets a row through when the connection's `app.agency_id` (set from the active
scope by core.postgresql) is empty, which is so outside any agency scope (signing in,
migrations, cross-agency sweeps under `scopes_disabled`), or when the row's agency is that
agency; inserts and updates inside a scope may only write that agency's rows. It is
FORCEd, so the tables' owner is held to it too; only a superuser or a role with BYPASSRLS
passes by, which is why the application must not connect as one (README, Production).

Policies are (re)applied after every `migrate` to the tables of every TenantModel, so a
new tenant table is covered the day it is made.
"""

from django.apps import apps
from django.db import connections

from core.postgresql.base import AGENCY_SETTING

# Named by version: a change to the condition gets a new name, and the old is dropped.
POLICY = "agency_isolation_v1"


def _agency_matches() -> str:
    setting = f"current_setting('{AGENCY_SETTING}', true)"
    return f"(coalesce({setting}, '') = '' OR agency_id = nullif({setting}, '')::bigint)"


def tenant_tables() -> list[str]:
    from core.models import TenantModel

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy and model._meta.managed
    )


def row_security_apply(*, using: str = "default") -> list[str]:
    """Enable, force and create the agency policy on every tenant table that lacks it
    (one query when all have it, as after a test's flush); the tables changed. Does
    nothing on a database other than PostgreSQL."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    condition = _agency_matches()
    changed = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relforcerowsecurity, coalesce(array_agg(p.policyname)"
            " FILTER (WHERE p.policyname IS NOT NULL), '{}')"
            " FROM pg_class c LEFT JOIN pg_policies p"
            " ON p.tablename = c.relname AND p.schemaname = current_schema()"
            " WHERE c.relnamespace = current_schema()::regnamespace"
            " GROUP BY c.relname, c.relforcerowsecurity"
        )
        held = {table: (forced, set(policies)) for table, forced, policies in cursor.fetchall()}
        for table in tenant_tables():
            forced, policies = held.get(table, (False, set()))
            if forced and policies == {POLICY}:
                continue
            name = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
            for old in policies:
                if old.startswith("agency_isolation"):
                    cursor.execute(f"DROP POLICY {connection.ops.quote_name(old)} ON {name}")
            cursor.execute(
                f"CREATE POLICY {POLICY} ON {name} USING {condition} WITH CHECK {condition}"
            )
            changed.append(table)
    return changed


def _after_migrate(sender, using="default", **kwargs):
    row_security_apply(using=using)
