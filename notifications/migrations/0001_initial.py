
import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0004_move_notifications'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables were made by accounts (0003_notifications) and keep their names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('task_assigned', 'A task is assigned to you'), ('task_due_soon', 'Your task is due soon'), ('task_overdue', 'Your task is overdue'), ('client_replied', 'The client replied on your task'), ('task_at_risk', 'A task is at risk (due soon, not started)'), ('task_unassigned', 'A task has waited too long for an assistant'), ('task_overdue_staff', 'A task is overdue'), ('payment_failed', "A client's payment failed"), ('task_taken', 'Someone has taken your request'), ('task_waiting_on_you', 'Your answer is needed on a request'), ('task_awaiting_approval', 'Work is done and awaits your approval'), ('invoice_issued', 'An invoice is issued'), ('invoice_due_soon', 'An invoice is coming due'), ('invoice_overdue', 'An invoice is overdue'), ('retainer_low', 'Retainer hours are running low'), ('retainer_exhausted', 'Retainer hours are used up'), ('charge_held', 'A charge past the budget cap awaits your approval'), ('contract_ending', 'A contract ends soon')], max_length=32)),
                        ('target_type', models.CharField(max_length=64)),
                        ('target_id', models.PositiveBigIntegerField()),
                        ('occasion', models.CharField(max_length=64)),
                        ('title', models.CharField(max_length=200)),
                        ('body', models.TextField(blank=True)),
                        ('link', models.CharField(help_text='Path of the object, from the site root.', max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('read_at', models.DateTimeField(blank=True, null=True)),
                        ('email_due_at', models.DateTimeField(blank=True, null=True)),
                        ('emailed_at', models.DateTimeField(blank=True, null=True)),
                        ('digest', models.BooleanField(default=False)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('recipient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_notification',
                        'ordering': ['-created_at', '-pk'],
                        'indexes': [models.Index(fields=['agency', 'recipient', '-created_at'], name='accounts_no_agency__814fcf_idx'), models.Index(condition=models.Q(('read_at__isnull', True)), fields=['agency', 'recipient'], name='notification_unread'), models.Index(fields=['agency', 'target_type', 'target_id', 'kind'], name='accounts_no_agency__d35629_idx'), models.Index(condition=models.Q(('email_due_at__isnull', False), ('emailed_at__isnull', True)), fields=['email_due_at'], name='notification_email_due')],
                        'constraints': [models.UniqueConstraint(fields=('agency', 'recipient', 'kind', 'target_type', 'target_id', 'occasion'), name='notification_once')],
                    },
                ),
                migrations.CreateModel(
                    name='NotificationPreference',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('task_assigned', 'A task is assigned to you'), ('task_due_soon', 'Your task is due soon'), ('task_overdue', 'Your task is overdue'), ('client_replied', 'The client replied on your task'), ('task_at_risk', 'A task is at risk (due soon, not started)'), ('task_unassigned', 'A task has waited too long for an assistant'), ('task_overdue_staff', 'A task is overdue'), ('payment_failed', "A client's payment failed"), ('task_taken', 'Someone has taken your request'), ('task_waiting_on_you', 'Your answer is needed on a request'), ('task_awaiting_approval', 'Work is done and awaits your approval'), ('invoice_issued', 'An invoice is issued'), ('invoice_due_soon', 'An invoice is coming due'), ('invoice_overdue', 'An invoice is overdue'), ('retainer_low', 'Retainer hours are running low'), ('retainer_exhausted', 'Retainer hours are used up'), ('charge_held', 'A charge past the budget cap awaits your approval'), ('contract_ending', 'A contract ends soon')], max_length=32)),
                        ('email', models.BooleanField(default=True)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notification_preferences', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'accounts_notificationpreference',
                        'constraints': [models.UniqueConstraint(fields=('agency', 'user', 'kind'), name='notification_preference_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='NotificationSettings',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('daily_digest', models.BooleanField(default=False)),
                        ('digest_hour', models.PositiveSmallIntegerField(default=8, validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(23)])),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name_plural': 'notification settings',
                        'db_table': 'accounts_notificationsettings',
                        'constraints': [models.UniqueConstraint(fields=('agency', 'user'), name='notification_settings_unique'), models.CheckConstraint(condition=models.Q(('digest_hour__lte', 23)), name='notification_digest_hour_valid')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
