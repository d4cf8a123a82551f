"""Telling the reports that the figures of a past month changed.

The reports keep each closed month's totals (reports.rollups) and read only the current
month from the raw rows; they sit above tasks and billing, so the writers below cannot call
them. A writer that changes a row a month's figures count (a completion, a send-back, a
time entry, a charge, a credit note, an invoice's status) calls `touch` with the moments
those figures date the row by; the reports register `month_touched` from their
AppConfig.ready() and mark those months to be counted again.
"""

import datetime as dt
from collections.abc import Iterable

from core.hooks import Hook

# hook(agency_id=..., moments=[datetime | date, ...]) inside the writer's transaction, so
# the mark commits (or rolls back) with the change it is for.
month_touched = Hook("tasks.report_month_touched")


def touch(*, agency_id: int, moments: Iterable[dt.datetime | dt.date | None]) -> None:
    """The months these moments fall in (the agency's calendar) changed."""
    moments = [moment for moment in moments if moment is not None]
    if moments:
        month_touched(agency_id=agency_id, moments=moments)


def tasks_touched(*, agency_id: int, tasks: Iterable) -> None:
    """A task's completion counts in the month it was completed."""
    touch(agency_id=agency_id, moments=[task.completed_at for task in tasks])


def entries_touched(*, agency_id: int, entries: Iterable, task=None) -> None:
    """Time counts in the month it started; what its task was charged is shared out by that
    time, so the task's completion month changes too."""
    moments = [entry.started_at for entry in entries]
    if task is not None:
        moments.append(task.completed_at)
    touch(agency_id=agency_id, moments=moments)
