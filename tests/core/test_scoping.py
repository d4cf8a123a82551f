import pytest
from django_scopes.exceptions import ScopeError

from accounts.models import Membership
from clients.models import Client
from core.models import AuditEvent
from core.tenancy import agency_scope, scopes_disabled
from tests.factories import ClientFactory


@pytest.mark.parametrize("model", [Client, Membership, AuditEvent])
def test_a_tenant_query_without_a_scope_raises(db, model):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=1).exists()
    with pytest.raises(ScopeError):
        model.objects.count()


def test_the_scope_shows_one_agency_only(agency, other_agency):
    mine = ClientFactory(agency=agency)
    ClientFactory(agency=other_agency)
    with agency_scope(agency):
        assert list(Client.objects.all()) == [mine]
        # Even a lookup by primary key cannot reach across.
        assert not Client.objects.filter(agency=other_agency).exists()


def test_there_is_no_scope_for_no_agency(db):
    with pytest.raises(ValueError), agency_scope(None):
        pass


def test_crossing_agencies_is_explicit(agency, other_agency):
    ClientFactory(agency=agency)
    ClientFactory(agency=other_agency)
    with scopes_disabled():
        assert Client.objects.count() == 2


def test_every_tenant_model_carries_an_indexed_agency(django_db_setup):
    from django.apps import apps
    from django.db.models import UniqueConstraint

    from core.models import TenantModel

    tenant_models = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    assert {Client, Membership, AuditEvent} <= set(tenant_models)
    for model in tenant_models:
        assert model._meta.get_field("agency").db_index, f"{model.__name__}.agency"
        for constraint in model._meta.constraints:
            if isinstance(constraint, UniqueConstraint):
                parts = [*constraint.fields, *map(str, constraint.expressions)]
                assert any("agency" in part for part in parts), (
                    f"{model.__name__}.{constraint.name} must include the agency"
                )
