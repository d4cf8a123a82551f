"""The Reply-To of notification e-mails about a task: an address that carries, signed,
the task, the member told and the agency, so that their answer becomes a comment."""

from accounts.models import Membership
from tasks.inbound.addresses import reply_address

TASK_TARGET = "tasks.task"


def task_reply_to(*, agency, notifications) -> dict[int, str]:
    about_tasks = [n for n in notifications if n.target_type == TASK_TARGET]
    if not about_tasks:
        return {}
    members = dict(
        Membership.objects.filter(
            agency=agency,
            user_id__in={n.recipient_id for n in about_tasks},
            is_active=True,
        ).values_list("user_id", "pk")
    )
    return {
        n.pk: reply_address(
            agency_id=agency.pk, task_id=n.target_id, membership_id=members[n.recipient_id]
        )
        for n in about_tasks
        if n.recipient_id in members
    }
