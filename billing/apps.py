from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing.cards import check_card_before_acceptance
        from billing.jobs import bill_on_completion, bill_when_time_approved
        from billing.late_fees import check_requests_allowed
        from billing.selectors import month_spent, task_billed_until
        from contracts import caps
        from contracts import hooks as contract_hooks
        from tasks import hooks as task_hooks

        caps.count_spend_with(month_spent)
        task_hooks.task_completed.register(bill_on_completion)
        task_hooks.timesheet_approved.register(bill_when_time_approved)
        task_hooks.count_billed_with(task_billed_until)
        task_hooks.request_check.register(check_requests_allowed)
        contract_hooks.proposal_accept_check.register(check_card_before_acceptance)
