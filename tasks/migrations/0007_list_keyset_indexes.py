# Indexes that end in each long list's keyset order, and the active work by assignee.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_time_entry_seconds"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="task",
            name="tasks_task_agency__434d3c_idx",
        ),
        migrations.RemoveIndex(
            model_name="task",
            name="tasks_task_agency__3d465e_idx",
        ),
        migrations.RemoveIndex(
            model_name="task",
            name="task_open_by_due",
        ),
        migrations.RemoveIndex(
            model_name="task",
            name="tasks_task_agency__1c1271_idx",
        ),
        migrations.RemoveIndex(
            model_name="task",
            name="tasks_task_agency__72a96c_idx",
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                fields=["agency", "status", "due_at", "-priority", "id"], name="task_status_by_due"
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["agency", "due_at", "-priority", "id"], name="task_by_due"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    (
                        "status__in",
                        ("requested", "queued", "assigned", "in_progress", "waiting_on_client"),
                    )
                ),
                fields=["agency", "due_at", "-priority", "id"],
                name="task_open_by_due",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(fields=["agency", "created_at", "id"], name="task_by_created"),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    ("status__in", ("assigned", "in_progress", "waiting_on_client"))
                ),
                fields=["agency", "assignee"],
                name="task_active_by_assignee",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                fields=["agency", "client", "-created_at", "-id"], name="task_client_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("approved_at__isnull", True), ("status", "completed")),
                fields=["agency", "client", "-created_at", "-id"],
                name="task_client_to_approve",
            ),
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                fields=["agency", "client", "status", "-created_at", "-id"],
                name="task_client_status_newest",
            ),
        ),
    ]
