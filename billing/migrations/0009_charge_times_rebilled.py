
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0008_move_catalogue_to_contracts'),
    ]

    operations = [
        migrations.AddField(
            model_name='charge',
            name='times_rebilled',
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
