"""The active agency scope. Every query on a tenant model runs inside one, or fails."""

from collections import defaultdict
from contextlib import contextmanager

from django_scopes import scope, scopes_disabled

__all__ = ["agency_scope", "in_agencies", "scopes_disabled"]


@contextmanager
def agency_scope(agency):
    """Enter one agency's scope. There is no "no agency" scope: pass an Agency, always."""
    if agency is None or agency.pk is None:
        raise ValueError("agency_scope needs a saved Agency; use scopes_disabled() explicitly.")
    with scope(agency=agency.pk):
        yield


def in_agencies(rows, agency_of):
    """Group rows found across agencies by agency and yield (agency, rows) inside each
    agency's scope: sweeps read across agencies once, then act in each one's scope."""
    grouped = defaultdict(list)
    agencies = {}
    for row in rows:
        agency = agency_of(row)
        agencies[agency.pk] = agency
        grouped[agency.pk].append(row)
    for agency_id, items in grouped.items():
        with agency_scope(agencies[agency_id]):
            yield agencies[agency_id], items
