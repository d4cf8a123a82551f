"""Rights for each of a client's people, and an owner for every client that has people.

Until now every client member could do everything their client can, so each existing
member keeps every right; the earliest active member of each client becomes its owner.
"""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    ClientMemberRights = apps.get_model("clients", "ClientMemberRights")
    owners = set()
    rows = []
    members = Membership._base_manager.filter(role="client").order_by(
        "client_id", "created_at", "pk"
    )
    for membership in members.iterator():
        is_owner = membership.is_active and membership.client_id not in owners
        if is_owner:
            owners.add(membership.client_id)
        rows.append(
            ClientMemberRights(
                agency_id=membership.agency_id,
                membership_id=membership.pk,
                is_owner=is_owner,
                may_request=True,
                may_approve=True,
                may_see_invoices=True,
            )
        )
    ClientMemberRights._base_manager.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_hashed_api_tokens'),
        ('clients', '0007_client_tax_details'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClientInvitationRights',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('may_request', models.BooleanField(default=True, verbose_name='may request work')),
                ('may_approve', models.BooleanField(default=True, verbose_name='may approve work')),
                ('may_see_invoices', models.BooleanField(default=False, verbose_name='may see invoices')),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                ('invitation', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='client_rights', to='accounts.invitation')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='ClientMemberRights',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('may_request', models.BooleanField(default=True, verbose_name='may request work')),
                ('may_approve', models.BooleanField(default=True, verbose_name='may approve work')),
                ('may_see_invoices', models.BooleanField(default=False, verbose_name='may see invoices')),
                ('is_owner', models.BooleanField(default=False)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.agency')),
                ('membership', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='client_rights', to='accounts.membership')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
