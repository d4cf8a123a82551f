"""Renaming a moved model's rows when the new name exists already (new code ran before the
migration): the notification said twice keeps one row, permissions survive the merge."""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from core.model_moves import relabel_moved_models
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification


def notification(agency, user, target_type, occasion="1"):
    return Notification.objects.create(
        agency=agency,
        recipient=user,
        kind="contract_ending",
        target_type=target_type,
        target_id=7,
        occasion=occasion,
        title="Ending soon",
        link="/",
    )


def test_old_names_are_renamed_and_a_twin_is_kept_once(agency, member):
    user = member(Role.ADMIN).user
    with scopes_disabled():
        said_twice = notification(agency, user, "billing.servicecontract")
        notification(agency, user, "contracts.servicecontract")  # the new code said it too
        only_old = notification(agency, user, "billing.servicecontract", occasion="2")
        other = notification(agency, user, "billing.charge")
        AuditEvent.objects.create(
            agency=agency,
            action="contract.created",
            target_type="billing.servicecontract",
            target_id="7",
        )

        relabel_moved_models(apps, "billing", "contracts", ["servicecontract"])

        rows = Notification.objects.filter(target_id=7)
        assert not rows.filter(pk=said_twice.pk).exists()
        assert rows.get(pk=only_old.pk).target_type == "contracts.servicecontract"
        assert rows.filter(target_type="contracts.servicecontract").count() == 2
        assert rows.get(pk=other.pk).target_type == "billing.charge"
        assert AuditEvent.objects.get(action="contract.created").target_type == (
            "contracts.servicecontract"
        )


def test_a_stale_content_type_hands_its_permissions_to_the_new_one(db):
    current = ContentType.objects.get(app_label="contracts", model="servicecontract")
    stale = ContentType.objects.create(app_label="billing", model="servicecontract")
    kept = Permission.objects.create(
        content_type=stale, codename="change_servicecontract", name="Can change"
    )
    extra = Permission.objects.create(content_type=stale, codename="audit_contract", name="x")
    group = Group.objects.create(name="finance")
    group.permissions.add(kept, extra)

    with scopes_disabled():
        relabel_moved_models(apps, "billing", "contracts", ["servicecontract"])

    assert not ContentType.objects.filter(pk=stale.pk).exists()
    assert set(group.permissions.values_list("content_type", "codename")) == {
        (current.pk, "change_servicecontract"),
        (current.pk, "audit_contract"),
    }
