import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('assistants', '0003_payouts'),
        ('contracts', '0001_initial'),
    ]

    # Service categories moved to the contracts app with their table: the skills point at the
    # same table as before, so only Django's record of them changes.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='assistantprofile',
                    name='skills',
                    field=models.ManyToManyField(blank=True, related_name='assistant_profiles', through='assistants.AssistantSkill', to='contracts.servicecategory'),
                ),
                migrations.AlterField(
                    model_name='assistantskill',
                    name='category',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='assistant_skills', to='contracts.servicecategory'),
                ),
            ],
        ),
    ]
