"""Rows that name a moved model by its app ("billing.servicecontract") now name it as
contracts does: the audit trail's and the notifications' targets (reminders look a
notification up by its target, so an old name would send a reminder again), and Django's
content types (kept, with their permissions, under the new app)."""

from django.db import migrations

MODELS = [
    "servicecategory",
    "service",
    "servicecontract",
    "contractassistant",
    "contractline",
    "contractterms",
]


def relabel(apps, old: str, new: str) -> None:
    AuditEvent = apps.get_model("core", "AuditEvent")
    Notification = apps.get_model("notifications", "Notification")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        for rows in (AuditEvent.objects, Notification.objects):
            rows.filter(target_type=f"{old}.{model}").update(target_type=f"{new}.{model}")
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forward(apps, schema_editor):
    relabel(apps, "billing", "contracts")


def backward(apps, schema_editor):
    relabel(apps, "contracts", "billing")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("notifications", "0001_initial"),
        ("contracts", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
