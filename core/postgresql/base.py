"""Django's PostgreSQL backend, plus the agency scope passed to PostgreSQL.

Before a statement runs, the connection's `app.agency_id` setting is made to match the
active scope (core.tenancy): the agency's id inside `agency_scope`, empty outside any
scope and under `scopes_disabled`. The row-level security policies (core.row_security)
read it. The setting is sent only when it changes, on the raw connection, so it costs
one round trip per change of agency and nothing per query; it is not one of the queries
Django counts.

A rolled-back transaction or savepoint undoes a setting made inside it, so after either
the connection no longer trusts what it last sent and sends it again before the next
statement.
"""

from django.db.backends.postgresql import base
from django_scopes import get_scope

AGENCY_SETTING = "app.agency_id"


def scope_agency_setting() -> str:
    """What `app.agency_id` must say for the active scope: an agency id, or empty."""
    current = get_scope()
    agency_id = current.get("agency")
    if current.get("_enabled") and agency_id is not None:
        return str(int(agency_id))
    return ""


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._agency_sent = None  # unknown: send before the next statement
        self.execute_wrappers.append(self._in_agency)

    def init_connection_state(self):
        super().init_connection_state()
        self._agency_sent = None

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._agency_sent = None

    def _savepoint_rollback(self, sid):
        try:
            super()._savepoint_rollback(sid)
        finally:
            self._agency_sent = None

    def _in_agency(self, execute, sql, params, many, context):
        wanted = scope_agency_setting()
        if wanted != self._agency_sent:
            with self.wrap_database_errors, self.connection.cursor() as raw:
                raw.execute("SELECT set_config(%s, %s, false)", [AGENCY_SETTING, wanted])
            self._agency_sent = wanted
        return execute(sql, params, many, context)
