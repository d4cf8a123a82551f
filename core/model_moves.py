"""For data migrations that follow a model to another app: rows that name a model by its
app ("billing.servicecontract") are renamed to the new app's name.

Used by the migrations that moved the catalogue and contracts to `contracts` and the
notifications to `notifications`; it takes the migration's historical `apps`, so it works
at that point of the migration history.
"""

from django.db.models import Exists, OuterRef


def relabel_moved_models(apps, old: str, new: str, models: list[str]) -> None:
    """Rename `old.<model>` to `new.<model>` where rows name it: the audit trail's and the
    notifications' targets (reminders find what they said by its target, so an old name
    would send a reminder again) and Django's content types, kept with their permissions.

    Where the new name exists already (a process of the new code wrote it before the
    migration ran), the row under the old name is the same fact said twice: a notification
    is then dropped rather than break its once-only constraint, and a content type's
    permissions are merged into the new one's.
    """
    AuditEvent = apps.get_model("core", "AuditEvent")
    Notification = apps.get_model("notifications", "Notification")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in models:
        before, after = f"{old}.{model}", f"{new}.{model}"
        AuditEvent.objects.filter(target_type=before).update(target_type=after)
        said_anew = Notification.objects.filter(
            target_type=after,
            agency_id=OuterRef("agency_id"),
            recipient_id=OuterRef("recipient_id"),
            kind=OuterRef("kind"),
            target_id=OuterRef("target_id"),
            occasion=OuterRef("occasion"),
        )
        twins = Notification.objects.filter(target_type=before).filter(Exists(said_anew))
        twins.delete()
        Notification.objects.filter(target_type=before).update(target_type=after)

        stale = ContentType.objects.filter(app_label=old, model=model).first()
        if stale is None:
            continue
        current = ContentType.objects.filter(app_label=new, model=model).first()
        if current is None:
            stale.app_label = new
            stale.save(update_fields=["app_label"])
            continue
        for permission in Permission.objects.filter(content_type=stale):
            same = Permission.objects.filter(
                content_type=current, codename=permission.codename
            ).first()
            if same is None:
                permission.content_type = current
                permission.save(update_fields=["content_type"])
                continue
            same.group_set.add(*permission.group_set.all())
            same.user_set.add(*permission.user_set.all())
            permission.delete()
        stale.delete()
