from datetime import UTC, datetime

import pytest
import time_machine

from clients import services
from clients.models import MANUAL_MAX_LENGTH, Client
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.clients.factories import ClientFactory


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


def audit_actions(agency, client):
    with agency_scope(agency):
        return list(
            AuditEvent.objects.filter(target_type="clients.client", target_id=str(client.pk))
            .order_by("pk")
            .values_list("action", flat=True)
        )


def test_create_records_the_manual_author_and_an_audit_row(agency, admin):
    with agency_scope(agency):
        client = services.client_create(
            agency=agency,
            actor=admin,
            name="  Acme  ",
            time_zone="Europe/Paris",
            currency="eur",
            manual="# Rules\r\n\r\nBe kind.",
        )
        client.refresh_from_db()
    assert (client.name, client.currency, client.status) == ("Acme", "EUR", "active")
    assert client.manual == "# Rules\n\nBe kind."
    assert client.manual_updated_by == admin and client.manual_updated_at is not None
    assert audit_actions(agency, client) == ["client.created"]


def test_update_changes_details_and_audits_what_changed(agency, admin):
    client = ClientFactory(agency=agency, name="Acme", currency="USD")
    with agency_scope(agency):
        updated = services.client_update(
            agency=agency,
            actor=admin,
            client=client,
            name="Acme Group",
            currency="eur",
            status=Client.Status.INACTIVE,
            time_zone=client.time_zone,  # unchanged: not in the audit row
        )
        event = AuditEvent.objects.get(action="client.updated")
        stored = Client.objects.get(pk=client.pk)
    assert (stored.name, stored.currency, stored.status) == ("Acme Group", "EUR", "inactive")
    assert updated.name == "Acme Group"
    assert event.actor == admin
    assert event.details == {
        "changes": {
            "name": ["Acme", "Acme Group"],
            "currency": ["USD", "EUR"],
            "status": ["active", "inactive"],
        }
    }


def test_update_with_nothing_changed_writes_nothing(agency, admin):
    client = ClientFactory(agency=agency, name="Acme")
    with agency_scope(agency):
        services.client_update(agency=agency, actor=admin, client=client, name="Acme ")
    assert audit_actions(agency, client) == []


def test_update_can_clear_the_billing_email(agency, admin):
    client = ClientFactory(agency=agency, billing_email="pay@acme.test")
    with agency_scope(agency):
        services.client_update(agency=agency, actor=admin, client=client, billing_email="")
        assert Client.objects.get(pk=client.pk).billing_email == ""


def test_a_taken_name_is_a_clear_error_and_saves_nothing(agency, admin):
    ClientFactory(agency=agency, name="Globex")
    client = ClientFactory(agency=agency, name="Acme")
    with agency_scope(agency), pytest.raises(ApplicationError) as raised:
        services.client_update(
            agency=agency, actor=admin, client=client, name="Globex", currency="EUR"
        )
    assert raised.value.code == "client_name_taken"
    assert raised.value.extra["field"] == "name"
    assert raised.value.message == "There is already a client called “Globex”."
    assert client.name == "Acme"  # the caller's object is untouched
    with agency_scope(agency):
        assert Client.objects.get(pk=client.pk).currency == "USD"
    assert audit_actions(agency, client) == []


def test_the_same_name_in_another_agency_is_fine(agency, other_agency, admin):
    ClientFactory(agency=other_agency, name="Globex")
    client = ClientFactory(agency=agency, name="Acme")
    with agency_scope(agency):
        services.client_update(agency=agency, actor=admin, client=client, name="Globex")
        assert Client.objects.get(pk=client.pk).name == "Globex"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Mars/Olympus is not a known time zone."),
        ({"currency": "xxq"}, "currency", "XXQ is not an ISO 4217 currency code."),
        ({"status": "paused"}, "status", "Value 'paused' is not a valid choice."),
        ({"billing_email": "not-an-email"}, "billing_email", "Enter a valid email address."),
        ({"name": "   "}, "name", "This field cannot be blank."),
    ],
)
def test_bad_input_is_a_clear_error_and_saves_nothing(agency, admin, changes, field, message):
    client = ClientFactory(agency=agency, name="Acme", time_zone="Europe/London")
    with agency_scope(agency), pytest.raises(ApplicationError) as raised:
        # A valid change alongside the bad one must not be saved either.
        valid = {"billing_email": "new@acme.test"} if field != "billing_email" else {}
        services.client_update(agency=agency, actor=admin, client=client, **valid, **changes)
    assert raised.value.code == "invalid"
    assert raised.value.extra["field"] == field
    assert raised.value.message == message
    with agency_scope(agency):
        stored = Client.objects.get(pk=client.pk)
    assert (stored.name, stored.time_zone, stored.currency) == ("Acme", "Europe/London", "USD")
    assert stored.billing_email == client.billing_email
    assert audit_actions(agency, client) == []


def test_create_with_a_bad_time_zone_saves_nothing(agency, admin):
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as raised:
            services.client_create(
                agency=agency, actor=admin, name="Acme", time_zone="Nowhere", currency="USD"
            )
        assert raised.value.extra["field"] == "time_zone"
        assert not Client.objects.exists()
        assert not AuditEvent.objects.exists()


def test_a_client_of_another_agency_cannot_be_updated(agency, other_agency, admin):
    foreign = ClientFactory(agency=other_agency, name="Foreign")
    with agency_scope(agency), pytest.raises(ApplicationError) as raised:
        services.client_update(agency=agency, actor=admin, client=foreign, name="Mine now")
    assert raised.value.code == "client_invalid"
    with agency_scope(other_agency):
        assert Client.objects.get(pk=foreign.pk).name == "Foreign"


def test_manual_update_records_who_and_when(agency, admin):
    client = ClientFactory(agency=agency)
    with time_machine.travel("2026-03-02 14:30:00+00:00", tick=False), agency_scope(agency):
        updated = services.client_manual_update(
            agency=agency, actor=admin, client=client, manual="# Rules\r\n- be brief"
        )
    assert updated.manual == "# Rules\n- be brief"
    assert updated.manual_updated_by == admin
    assert updated.manual_updated_at == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    with agency_scope(agency):
        event = AuditEvent.objects.get(action="client.manual_updated")
    assert event.actor == admin
    assert event.details == {"previous_length": 0, "length": len("# Rules\n- be brief")}


def test_saving_the_same_manual_again_changes_nothing(agency, admin, member):
    client = ClientFactory(agency=agency)
    with agency_scope(agency):
        services.client_manual_update(agency=agency, actor=admin, client=client, manual="Hi")
        other_admin = member(Role.OWNER).user
        again = services.client_manual_update(
            agency=agency, actor=other_admin, client=client, manual="Hi"
        )
    assert again.manual_updated_by == admin
    assert audit_actions(agency, client) == ["client.manual_updated"]


def test_a_manual_over_the_limit_is_refused(agency, admin):
    client = ClientFactory(agency=agency, manual="Old")
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as raised:
            services.client_manual_update(
                agency=agency, actor=admin, client=client, manual="x" * (MANUAL_MAX_LENGTH + 1)
            )
        assert raised.value.extra["field"] == "manual"
        assert Client.objects.get(pk=client.pk).manual == "Old"
    assert audit_actions(agency, client) == []


def test_an_inactive_client_refuses_new_work(agency):
    services.client_ensure_active(client=ClientFactory(agency=agency))
    inactive = ClientFactory(agency=agency, inactive=True, name="Dormant")
    with pytest.raises(ApplicationError) as raised:
        services.client_ensure_active(client=inactive)
    assert raised.value.code == "client_inactive"
    assert "Dormant is inactive" in raised.value.message
