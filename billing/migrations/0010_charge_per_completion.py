import datetime as dt

from django.conf import settings
from django.db import migrations, models


def completions_of_existing_charges(apps, schema_editor):
    """Each task charge made so far billed the task's first completion: the moment its
    breakdown recorded, else the task's completed_at."""
    Charge = apps.get_model("billing", "Charge")
    rows = Charge.objects.filter(kind="task", task_completed_at=None).select_related("task")
    for charge in rows.iterator(chunk_size=2000):
        recorded = (charge.breakdown or {}).get("completed_at")
        moment = dt.datetime.fromisoformat(recorded) if recorded else charge.task.completed_at
        Charge.objects.filter(pk=charge.pk).update(task_completed_at=moment)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_billing_currencies'),
        ('billing', '0009_charge_times_rebilled'),
        ('clients', '0003_billing_currencies'),
        ('contracts', '0002_records_follow_the_move'),
        ('tasks', '0005_move_catalogue_to_contracts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='charge',
            name='charge_one_per_task',
        ),
        migrations.AddField(
            model_name='charge',
            name='task_completed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='charge',
            name='status',
            field=models.CharField(choices=[('pending', 'Unbilled'), ('held', 'Held for approval'), ('invoiced', 'Invoiced'), ('written_off', 'Written off'), ('covered', 'Nothing to bill')], default='pending', max_length=16),
        ),
        migrations.RunPython(completions_of_existing_charges, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='charge',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'task')), fields=('agency', 'task', 'task_completed_at'), name='charge_one_per_task_completion'),
        ),
    ]
