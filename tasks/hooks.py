"""What apps above tasks do when work is finished.

Billing sits above tasks and charges finished work: it registers its function from its
AppConfig.ready(). tasks.jobs.task_completed calls the hook once the completion has
committed, before the client is told, so a retry of the job finds the charge made and a
failing mail server never costs a charge.
"""

import datetime as dt
from collections.abc import Callable

from core.hooks import Hook

# hook(agency=..., task=...), run in the agency's scope by the job that follows a
# completion; a task sent back before the job ran is not passed.
task_completed = Hook("tasks.task_completed")

# hook(agency=..., client=..., actor=...) before a new request is made: raises
# ApplicationError to refuse it (billing pauses a client's requests over an unpaid invoice).
request_check = Hook("tasks.request_check")

# What billing has charged of a task's time is billing's to know, and billing sits above
# tasks: it registers billed_until(agency=..., task=...) -> the latest completion of the
# task it has charged (None if none) with `count_billed_with` when it starts (billing.apps).
_billed_until = []


def count_billed_with(function: Callable) -> Callable:
    _billed_until[:] = [function]
    return function


def billed_until(*, agency, task) -> dt.datetime | None:
    """Time recorded on the task up to this moment is on a charge: it no longer changes."""
    if not _billed_until:
        raise RuntimeError("No record of what tasks were charged: is billing installed?")
    return _billed_until[0](agency=agency, task=task)


# hook(agency=..., task_ids=...) once staff approve a timesheet, after it commits: the tasks
# with time in that week. Billing registers it to bill work that waited for approved time.
timesheet_approved = Hook("tasks.timesheet_approved")
