# Retainer bank use summed from one index.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0018_late_fees_and_top_ups"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="charge",
            index=models.Index(
                condition=models.Q(("kind", "task"), ("period_start__isnull", False)),
                fields=["agency", "contract_line", "period_start"],
                include=("minutes_from_bank", "minutes_billed"),
                name="charge_task_bank_use",
            ),
        ),
    ]
