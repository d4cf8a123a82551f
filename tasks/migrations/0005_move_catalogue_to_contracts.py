import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0001_initial'),
        ('tasks', '0004_report_indexes'),
    ]

    # The catalogue and contracts moved to the contracts app with their tables: the foreign keys
    # point at the same tables as before, so only Django's record of them changes.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='recurringrequest',
                    name='service',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contracts.service'),
                ),
                migrations.AlterField(
                    model_name='task',
                    name='category',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contracts.servicecategory'),
                ),
                migrations.AlterField(
                    model_name='task',
                    name='contract',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='tasks', to='contracts.servicecontract'),
                ),
                migrations.AlterField(
                    model_name='task',
                    name='contract_line',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='tasks', to='contracts.contractline'),
                ),
                migrations.AlterField(
                    model_name='task',
                    name='service',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contracts.service'),
                ),
            ],
        ),
    ]
