from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing.jobs import bill_on_completion
        from billing.selectors import month_spent, task_billed_until
        from contracts import caps
        from tasks import hooks as task_hooks

        caps.count_spend_with(month_spent)
        task_hooks.task_completed.register(bill_on_completion)
        task_hooks.count_billed_with(task_billed_until)
