import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0004_move_notifications'),
        ('billing', '0007_report_indexes'),
        ('clients', '0002_client_status_stripe_and_manual'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The catalogue and contracts, made by billing's migrations 0001-0007 and moved here with
    # their tables (Meta.db_table): this records them as contracts' models and creates nothing.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ServiceCategory',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('slug', models.SlugField()),
                        ('name', models.CharField(max_length=80)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                    ],
                    options={
                        'verbose_name_plural': 'service categories',
                        'db_table': 'billing_servicecategory',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='Service',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('description', models.TextField(blank=True)),
                        ('default_pricing_model', models.CharField(choices=[('flat', 'Flat fee per task'), ('hourly', 'Hourly')], default='hourly', max_length=16)),
                        ('default_price', models.PositiveIntegerField(default=0, help_text="Minor units of the agency's default currency: per task or per hour.")),
                        ('default_turnaround_hours', models.PositiveIntegerField(default=48, validators=[django.core.validators.MinValueValidator(1)])),
                        ('request_template', models.JSONField(blank=True, default=list)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='services', to='contracts.servicecategory')),
                    ],
                    options={
                        'db_table': 'billing_service',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ServiceContract',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(help_text='How both sides refer to it.', max_length=120)),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('active', 'Active'), ('paused', 'Paused'), ('ended', 'Ended')], default='draft', max_length=16)),
                        ('starts_on', models.DateField()),
                        ('ends_on', models.DateField(blank=True, null=True)),
                        ('currency', models.CharField(max_length=3)),
                        ('billing_cadence', models.CharField(choices=[('per_task', 'Per task (an invoice for each finished task)'), ('weekly', 'Weekly'), ('monthly', 'Monthly')], default='monthly', max_length=16)),
                        ('collection_method', models.CharField(choices=[('charge_automatically', 'Charge the card on file'), ('send_invoice', 'Send the invoice, due in N days')], default='send_invoice', max_length=24)),
                        ('days_until_due', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('requires_approval', models.BooleanField(default=False, help_text='Bill a task only once the client approves it.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('activated_at', models.DateTimeField(blank=True, null=True)),
                        ('ended_at', models.DateTimeField(blank=True, null=True)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='contracts', to='clients.client')),
                    ],
                    options={
                        'db_table': 'billing_servicecontract',
                        'ordering': ['-starts_on', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='ContractLine',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('removed_at', models.DateTimeField(blank=True, null=True)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contracts.service')),
                        ('contract', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='contracts.servicecontract')),
                    ],
                    options={
                        'db_table': 'billing_contractline',
                    },
                ),
                migrations.CreateModel(
                    name='ContractAssistant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('membership', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.membership')),
                        ('contract', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='dedicated', to='contracts.servicecontract')),
                    ],
                    options={
                        'db_table': 'billing_contractassistant',
                    },
                ),
                migrations.CreateModel(
                    name='ContractTerms',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('effective_from', models.DateTimeField()),
                        ('pricing_model', models.CharField(choices=[('flat', 'Flat fee per task'), ('hourly', 'Hourly'), ('retainer', 'Retainer (hours included per month)')], max_length=16)),
                        ('flat_fee', models.PositiveIntegerField(blank=True, null=True)),
                        ('hourly_rate', models.PositiveIntegerField(blank=True, null=True)),
                        ('rounding_increment_minutes', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('minimum_minutes', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('retainer_fee', models.PositiveIntegerField(blank=True, null=True)),
                        ('included_minutes', models.PositiveIntegerField(blank=True, null=True)),
                        ('rollover_cap_minutes', models.PositiveIntegerField(blank=True, null=True)),
                        ('overage_rate', models.PositiveIntegerField(blank=True, null=True)),
                        ('monthly_budget_cap', models.PositiveIntegerField(blank=True, null=True)),
                        ('cap_behaviour', models.CharField(choices=[('block', 'Block new work at the cap'), ('ask', 'Ask the client to approve work past the cap')], default='block', max_length=8)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('line', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='terms', to='contracts.contractline')),
                    ],
                    options={
                        'verbose_name_plural': 'contract terms',
                        'db_table': 'billing_contractterms',
                        'ordering': ['-effective_from'],
                        'indexes': [models.Index(fields=['agency', 'line', '-effective_from'], name='billing_con_agency__518df2_idx')],
                        'constraints': [models.UniqueConstraint(fields=('agency', 'line', 'effective_from'), name='terms_one_per_moment'), models.CheckConstraint(condition=models.Q(models.Q(('pricing_model', 'flat'), _negated=True), ('flat_fee__isnull', False), _connector='OR'), name='terms_flat_has_fee'), models.CheckConstraint(condition=models.Q(models.Q(('pricing_model', 'hourly'), _negated=True), models.Q(('hourly_rate__isnull', False), ('minimum_minutes__isnull', False), ('rounding_increment_minutes__gte', 1)), _connector='OR'), name='terms_hourly_complete'), models.CheckConstraint(condition=models.Q(models.Q(('pricing_model', 'retainer'), _negated=True), models.Q(('included_minutes__gte', 1), ('overage_rate__isnull', False), ('retainer_fee__isnull', False), ('rollover_cap_minutes__isnull', False), ('rounding_increment_minutes__gte', 1)), _connector='OR'), name='terms_retainer_complete')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='servicecategory',
                    constraint=models.UniqueConstraint(fields=('agency', 'slug'), name='category_slug_unique'),
                ),
                migrations.AddIndex(
                    model_name='service',
                    index=models.Index(fields=['agency', 'is_active', 'name'], name='billing_ser_agency__d4d005_idx'),
                ),
                migrations.AddConstraint(
                    model_name='service',
                    constraint=models.UniqueConstraint(fields=('agency', 'name'), name='service_name_unique'),
                ),
                migrations.AddConstraint(
                    model_name='service',
                    constraint=models.CheckConstraint(condition=models.Q(('default_turnaround_hours__gte', 1)), name='service_turnaround_positive'),
                ),
                migrations.AddIndex(
                    model_name='servicecontract',
                    index=models.Index(fields=['agency', 'client', 'status'], name='billing_ser_agency__9b261a_idx'),
                ),
                migrations.AddIndex(
                    model_name='servicecontract',
                    index=models.Index(condition=models.Q(('status', 'active')), fields=['ends_on'], name='contract_active_ends_sweep'),
                ),
                migrations.AddConstraint(
                    model_name='servicecontract',
                    constraint=models.CheckConstraint(condition=models.Q(('ends_on__isnull', True), ('ends_on__gte', models.F('starts_on')), _connector='OR'), name='contract_dates_in_order'),
                ),
                migrations.AddConstraint(
                    model_name='servicecontract',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('collection_method', 'send_invoice'), ('days_until_due__isnull', False)), models.Q(('collection_method', 'charge_automatically'), ('days_until_due__isnull', True)), _connector='OR'), name='contract_due_days_iff_sending_invoices'),
                ),
                migrations.AddConstraint(
                    model_name='contractline',
                    constraint=models.UniqueConstraint(condition=models.Q(('removed_at__isnull', True)), fields=('agency', 'contract', 'service'), name='contract_line_one_per_service'),
                ),
                migrations.AddConstraint(
                    model_name='contractassistant',
                    constraint=models.UniqueConstraint(fields=('agency', 'contract', 'membership'), name='contract_assistant_unique'),
                ),
            ],
        ),
    ]
