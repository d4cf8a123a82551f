"""Rows that name a moved model by its old app ("accounts.notification") now name it as
notifications does (core.model_moves)."""

from django.db import migrations

from core.model_moves import relabel_moved_models

MODELS = [
    "notification",
    "notificationpreference",
    "notificationsettings",
]


def forward(apps, schema_editor):
    relabel_moved_models(apps, "accounts", "notifications", MODELS)


def backward(apps, schema_editor):
    relabel_moved_models(apps, "notifications", "accounts", MODELS)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
