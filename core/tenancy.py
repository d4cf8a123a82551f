"""The active agency scope. Every query on a tenant model runs inside one, or fails."""

from contextlib import contextmanager

from django_scopes import scope, scopes_disabled

__all__ = ["agency_scope", "scopes_disabled"]


@contextmanager
def agency_scope(agency):
    """Enter one agency's scope. There is no "no agency" scope: pass an Agency, always."""
    if agency is None or agency.pk is None:
        raise ValueError("agency_scope needs a saved Agency; use scopes_disabled() explicitly.")
    with scope(agency=agency.pk):
        yield
