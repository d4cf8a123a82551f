"""Request templates no longer repeat a field every request already has (a title, details,
priority, due time, budget, files): such a field is dropped from the template, since the
request form asks it once, as the task's own field. Answers already given to it stay on
their tasks and are still shown there.

The built-in names are written out here (not imported) so that this migration keeps
meaning what it meant when it was written.
"""

import re

from django.db import migrations

BUILT_IN = {
    "service",
    "title",
    "details",
    "priority",
    "due",
    "due at",
    "due date",
    "due time",
    "budget",
    "max budget",
    "maximum budget",
    "attachments",
    "attachment",
    "files",
    "file",
    "over cap approved",
    "i approve going over this service s monthly budget",
}


def _words(text) -> str:
    text = re.sub(r"\(\s*optional\s*\)", " ", str(text or "").casefold())
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.replace("_", " ")).split())


def _built_in(field) -> bool:
    if not isinstance(field, dict):
        return False
    names = {_words(field.get("name")), _words(field.get("label"))}
    return bool(names & BUILT_IN) or any(
        re.fullmatch(r"budget in [a-z]{3}", name) for name in names
    )


def drop_built_in_fields(apps, schema_editor):
    Service = apps.get_model("contracts", "Service")
    for service in Service._base_manager.iterator():
        template = service.request_template
        if not isinstance(template, list):
            continue
        kept = [field for field in template if not _built_in(field)]
        if len(kept) != len(template):
            service.request_template = kept
            service.save(update_fields=["request_template"])


class Migration(migrations.Migration):
    dependencies = [("contracts", "0002_records_follow_the_move")]

    operations = [migrations.RunPython(drop_built_in_fields, migrations.RunPython.noop)]
