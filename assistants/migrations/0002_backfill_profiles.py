"""Give every assistant membership that predates profiles one, with the agency's defaults.

The defaults are written out here (not imported) so that this migration keeps meaning what
it meant when it was written.
"""

from django.db import migrations

WEEKDAY_HOURS = [["09:00", "17:00"]]


def backfill(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    AssistantProfile = apps.get_model("assistants", "AssistantProfile")
    hours = {day: list(WEEKDAY_HOURS) for day in ("mon", "tue", "wed", "thu", "fri")}
    hours.update(sat=[], sun=[])
    missing = (
        Membership._base_manager.filter(role="assistant", assistant_profile__isnull=True)
        .select_related("agency")
        .iterator()
    )
    AssistantProfile._base_manager.bulk_create(
        [
            AssistantProfile(
                agency_id=membership.agency_id,
                membership_id=membership.pk,
                time_zone=membership.agency.time_zone,
                pay_currency=membership.agency.default_currency,
                working_hours=hours,
                capacity=5,
                pay_rate=0,
                is_active=True,
            )
            for membership in missing
        ],
        batch_size=500,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("assistants", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
