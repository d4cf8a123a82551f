"""What apps above tasks do when work is finished.

Billing sits above tasks and charges finished work: it registers its function from its
AppConfig.ready(). tasks.jobs.task_completed calls the hook once the completion has
committed, before the client is told, so a retry of the job finds the charge made and a
failing mail server never costs a charge.
"""

from core.hooks import Hook

# hook(agency=..., task=...), run in the agency's scope by the job that follows a
# completion; a task sent back before the job ran is not passed.
task_completed = Hook("tasks.task_completed")
