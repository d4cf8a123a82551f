# The dashboard's counts of open work read from one index.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0007_list_keyset_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(
                    (
                        "status__in",
                        ("requested", "queued", "assigned", "in_progress", "waiting_on_client"),
                    )
                ),
                fields=["agency", "status", "due_at", "queued_at", "assignee"],
                name="task_open_counts",
            ),
        ),
    ]
