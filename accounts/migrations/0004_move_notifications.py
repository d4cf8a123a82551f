
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_notifications'),
    ]

    operations = [
        # Moved to the notifications app; the tables stay (notifications.0001_initial).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='notificationpreference',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='notificationpreference',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='notificationsettings',
                    name='agency',
                ),
                migrations.RemoveField(
                    model_name='notificationsettings',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='Notification',
                ),
                migrations.DeleteModel(
                    name='NotificationPreference',
                ),
                migrations.DeleteModel(
                    name='NotificationSettings',
                ),
            ],
            database_operations=[],
        ),
    ]
