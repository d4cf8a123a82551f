import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("assistants", "0004_move_catalogue_to_contracts"),
        ("billing", "0007_report_indexes"),
        ("contracts", "0001_initial"),
        ("tasks", "0005_move_catalogue_to_contracts"),
    ]

    # The catalogue and contracts moved to the contracts app with their tables (contracts 0001):
    # only Django's record of the models changes; no table, row or constraint is touched.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='contractassistant',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='contractassistant',
                    name='contract',
                ),
                migrations.RemoveField(
                    model_name='contractassistant',
                    name='membership',
                ),
                migrations.RemoveField(
                    model_name='contractline',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='contractline',
                    name='contract',
                ),
                migrations.RemoveField(
                    model_name='contractline',
                    name='service',
                ),
                migrations.RemoveField(
                    model_name='contractterms',
                    name='line',
                ),
                migrations.AlterField(
                    model_name='charge',
                    name='contract_line',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='contracts.contractline'),
                ),
                migrations.RemoveField(
                    model_name='contractterms',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='contractterms',
                    name='created_by',
                ),
                migrations.AlterField(
                    model_name='charge',
                    name='terms',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='charges', to='contracts.contractterms'),
                ),
                migrations.RemoveField(
                    model_name='service',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='service',
                    name='category',
                ),
                migrations.RemoveField(
                    model_name='servicecategory',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='servicecontract',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='servicecontract',
                    name='client',
                ),
                migrations.AlterField(
                    model_name='invoice',
                    name='contract',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='invoices', to='contracts.servicecontract'),
                ),
                migrations.DeleteModel(
                    name='ContractAssistant',
                ),
                migrations.DeleteModel(
                    name='ContractLine',
                ),
                migrations.DeleteModel(
                    name='ContractTerms',
                ),
                migrations.DeleteModel(
                    name='Service',
                ),
                migrations.DeleteModel(
                    name='ServiceCategory',
                ),
                migrations.DeleteModel(
                    name='ServiceContract',
                ),
            ],
        ),
    ]
