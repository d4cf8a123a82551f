from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"

    def ready(self):
        # Notifications sit below tasks: e-mails about a task get their Reply-To from here.
        from notifications.hooks import provide_reply_to
        from tasks.inbound.reply_to import task_reply_to

        provide_reply_to(task_reply_to)
