"""An existing database upgrades in place.

A database at the project's old head (before the catalogue and contracts left billing
for their own app, and notifications left accounts), full of data, is migrated forward to
today's head. Every table keeps every row, records that name a moved model by its old app
are renamed to the new one, and the pages that read the moved tables still serve the data.

The data is written with today's code at today's head and the database is then migrated
back to the old head, so later schema changes keep the test working: the old head's
database holds the same rows in the old head's schema.
"""

import io
import random
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.test import Client as HttpClient
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django_scopes import scopes_disabled

# The leaf migration of each of the project's apps at the old head; None: no migration of
# the app was applied yet. An app of the project missing here is taken back to zero too.
OLD_HEAD = {
    "core": "0001_initial",
    "accounts": "0003_notifications",
    "assistants": "0003_payouts",
    "billing": "0007_report_indexes",
    "clients": "0002_client_status_stripe_and_manual",
    "tasks": "0004_report_indexes",
    "notifications": None,
    "contracts": None,
    "reports": None,
}

# Records written before the move name these models by their old app. The table each
# lives in (unchanged by the move) finds the model that owns it now; with the new app's
# migrations in place the rows must name the model as it is named now.
MOVED = {
    "billing.servicecategory": ("billing_servicecategory", "contracts"),
    "billing.service": ("billing_service", "contracts"),
    "billing.servicecontract": ("billing_servicecontract", "contracts"),
    "billing.contractline": ("billing_contractline", "contracts"),
    "billing.contractterms": ("billing_contractterms", "contracts"),
    "accounts.notification": ("accounts_notification", "notifications"),
}
# ...and these stayed where they were: their records are left alone.
UNMOVED = {
    "billing.charge": "billing_charge",
    "billing.invoice": "billing_invoice",
}
AUDIT_TABLE = "core_auditevent"
NOTIFICATION_TABLE = "accounts_notification"

REPOSITORY = Path(__file__).resolve().parent.parent
DEMO_OWNER = "owner@demo.test"
DEMO_SLUG = "demo"


# -- the migration graph --------------------------------------------------------------------


def project_apps() -> set[str]:
    """Labels of the installed apps that live in this repository (not in a virtualenv)."""
    labels = set()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(REPOSITORY) and "site-packages" not in path.parts:
            labels.add(config.label)
    return labels


def fresh_executor() -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


def old_head_targets(executor: MigrationExecutor) -> list[tuple[str, str | None]]:
    """The old head as migrate targets: the project's apps as OLD_HEAD says (zero for any
    other app of the project), every other app at its leaf."""
    graph = executor.loader.graph
    ours = project_apps()
    targets = []
    for app in sorted({app for app, _ in graph.nodes}):
        if app in OLD_HEAD:
            target = (app, OLD_HEAD[app])
            if target[1] is not None:
                assert target in graph.nodes, f"the old head's {target} is gone from the graph"
            targets.append(target)
        elif app in ours:
            targets.append((app, None))
        else:
            targets.extend(graph.leaf_nodes(app))
    return targets


def migrate(targets) -> None:
    executor = fresh_executor()
    executor.migrate(targets)
    ContentType.objects.clear_cache()


def migrate_to_new_head() -> None:
    executor = fresh_executor()
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        migrate(executor.loader.graph.leaf_nodes())


def apps_with_migrations() -> set[str]:
    return {app for app, _ in fresh_executor().loader.graph.nodes}


# -- what the database holds ----------------------------------------------------------------


# Tables a migration drops on purpose, and why.
DROPPED = {
    # API tokens kept in clear (DRF's authtoken): replaced by hashed ones (accounts 0007).
    "authtoken_token": "accounts.0007_hashed_api_tokens",
}


def row_counts() -> dict[str, int]:
    """Rows in every table of the database but Django's record of applied migrations."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table == "django_migrations":
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def target_types(table: str) -> set[str]:
    """The target_type values found in one table (audit events or notifications)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT target_type FROM {connection.ops.quote_name(table)}")
        return {value for (value,) in cursor.fetchall()}


def target_type_of(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT target_type FROM {connection.ops.quote_name(table)} WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def model_for_table(table: str):
    """The model that owns a table in today's code (wherever its app is)."""
    owners = [m for m in apps.get_models() if m._meta.db_table == table and not m._meta.proxy]
    assert len(owners) == 1, f"expected one model for table {table}, found {owners}"
    return owners[0]


# -- filling the database -------------------------------------------------------------------


def seed_bench_agencies() -> None:
    """The benchmark generator's data, small: one agency with a few hundred tasks (with their
    charges and invoices) and two small agencies, as `python -m bench.generate` makes them."""
    from bench import generate

    rng = random.Random(1)
    with generate.auto_timestamps_off():
        generate.build_agency(
            generate.Plan(
                slug=generate.BIG_SLUG,
                name="Bench Agency",
                clients=6,
                assistants=5,
                tasks=300,
                services=len(generate.SERVICES),
            ),
            rng,
            progress=None,
        )
        for number in (1, 2):
            generate.build_agency(
                generate.Plan(
                    slug=f"{generate.SMALL_PREFIX}{number:02d}",
                    name=f"Small Bench Agency {number}",
                    clients=rng.randint(3, 6),
                    assistants=rng.randint(2, 5),
                    tasks=rng.randint(24, 60),
                    services=rng.randint(3, 6),
                ),
                rng,
                progress=None,
            )


def write_old_records() -> dict[str, list[tuple[str, int]]]:
    """Audit events and notifications as the old code wrote them, naming each model by the
    app it had then. Returns, per old target_type, the (table, id) of each row written."""
    from accounts.models import Agency, User

    agency = Agency.objects.get(slug=DEMO_SLUG)
    owner = User.objects.get(email=DEMO_OWNER)
    bench = Agency.objects.get(slug="bench")
    audit_model = model_for_table(AUDIT_TABLE)
    notification_model = model_for_table(NOTIFICATION_TABLE)
    written: dict[str, list[tuple[str, int]]] = {}

    targets = {**{old: table for old, (table, _) in MOVED.items()}, **UNMOVED}
    for old_label, table in targets.items():
        model = model_for_table(table)
        with scopes_disabled():
            # The demo agency has no charges or invoices yet; the bench agency has them all.
            in_agency = agency if model.objects.filter(agency=agency).exists() else bench
            target = model.objects.filter(agency=in_agency).order_by("pk").first()
            assert target is not None, f"no {table} row to point at"
            event = audit_model.objects.create(
                agency=in_agency,
                actor=owner,
                action="before_the_move",
                target_type=old_label,
                target_id=str(target.pk),
                details={"old": True},
            )
            notification = notification_model.objects.create(
                agency=in_agency,
                recipient=owner,
                kind="contract_ending",
                target_type=old_label,
                target_id=target.pk,
                occasion=f"before-the-move:{old_label}",
                title=f"Old record about {old_label}",
                link=f"/a/{in_agency.slug}/",
            )
        written[old_label] = [(AUDIT_TABLE, event.pk), (NOTIFICATION_TABLE, notification.pk)]
    return written


# -- serving the data -----------------------------------------------------------------------


def url(*names: str, **kwargs) -> str:
    """The path of the first of these URL names that resolves (a name may move from one
    app's namespace to another's)."""
    for name in names:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    raise AssertionError(f"none of the URL names {names} resolves")


def page(http: HttpClient, path: str, *expected: str) -> None:
    response = http.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    body = response.content.decode()
    missing = [text for text in expected if escape(text) not in body]
    assert not missing, f"{path} does not show {missing}"


def page_shows_one_of(http: HttpClient, path: str, candidates: list[str]) -> None:
    response = http.get(path)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    body = response.content.decode()
    assert any(escape(text) in body for text in candidates), f"{path} shows none of {candidates}"


def assert_pages_serve_the_data() -> None:
    from accounts.models import Agency, User

    demo = Agency.objects.get(slug=DEMO_SLUG)
    bench = Agency.objects.get(slug="bench")
    with scopes_disabled():
        contract = model_for_table("billing_servicecontract").objects.get(
            agency=demo, name="Front-desk support 2026"
        )
        invoices = list(model_for_table("billing_invoice").objects.filter(agency=bench))
        clients = list(
            model_for_table("clients_client")
            .objects.filter(agency=bench)
            .values_list("name", flat=True)
        )
    assert invoices, "the bench agency should have invoices"

    http = HttpClient()
    http.force_login(User.objects.get(email=DEMO_OWNER))
    slug = {"agency_slug": demo.slug}
    page(
        http,
        url("contracts:contract_list", "billing:contract_list", "contract_list", **slug),
        "Front-desk support 2026",
        "Bookkeeping retainer",
        "Acme Dental",
    )
    page(
        http,
        url("contracts:service_list", "billing:service_list", "service_list", **slug),
        "Inbox triage",
        "Travel booking",
        "Monthly bookkeeping",
    )
    page(
        http,
        url(
            "contracts:contract_detail",
            "billing:contract_detail",
            "contract_detail",
            pk=contract.pk,
            **slug,
        ),
        "Front-desk support 2026",
        "Inbox triage",
        "Travel booking",
    )
    page(
        http,
        url("tasks:task_list", "task_list", **slug),
        "Sort the front-desk inbox before Monday",
    )
    page(http, url("reports:dashboard", "accounts:dashboard", "dashboard", **slug), demo.name)
    page(
        http,
        url("reports:report_index", "billing:report_index", "report_index", **slug),
        demo.name,
    )

    # The bench agency has charges and invoices, which the demo agency has not yet.
    bench_slug = {"agency_slug": bench.slug}
    http = HttpClient()
    http.force_login(User.objects.get(email="owner@bench.bench.test"))
    page_shows_one_of(
        http,
        url("billing:invoice_list", "invoice_list", **bench_slug),
        [str(invoice) for invoice in invoices],
    )
    page_shows_one_of(http, url("reports:report_revenue", "report_revenue", **bench_slug), clients)
    page(
        http, url("reports:dashboard", "accounts:dashboard", "dashboard", **bench_slug), bench.name
    )


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_old_head_migrates_forward_without_losing_a_row():
    """Fill the database, take it back to the old head (rows naming models by their old
    apps among it), migrate forward to the new head: the same tables with the same rows,
    old records renamed to the models' new apps, and the pages that read the moved tables
    still show the data."""
    new_head = fresh_executor().loader.graph.leaf_nodes()
    try:
        # Filled at the new head, where today's code matches the tables, then taken back:
        # the old head's database holds the same rows, in the old head's schema.
        call_command("seed_demo", stdout=io.StringIO())
        seed_bench_agencies()
        written = write_old_records()

        migrate(old_head_targets(fresh_executor()))
        at_old_head = fresh_executor()
        assert at_old_head.migration_plan(old_head_targets(at_old_head)) == []
        old_types = target_types(AUDIT_TABLE) | target_types(NOTIFICATION_TABLE)
        assert set(written) <= old_types
        before = row_counts()

        migrate(new_head)

        at_new_head = fresh_executor()
        assert at_new_head.migration_plan(at_new_head.loader.graph.leaf_nodes()) == []
        after = row_counts()
        for table in DROPPED:
            before.pop(table, None)
        assert set(before) <= set(after), "tables of the old head are gone"
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, f"row counts changed (before, after): {changed}"

        migrated_apps = apps_with_migrations()
        now_types = target_types(AUDIT_TABLE) | target_types(NOTIFICATION_TABLE)
        for old_label, (table, new_app) in MOVED.items():
            if new_app not in migrated_apps:
                continue  # the model has not moved yet: nothing to rename
            new_label = model_for_table(table)._meta.label_lower
            assert new_label.startswith(f"{new_app}."), f"{table} belongs to {new_label}"
            assert old_label not in now_types, f"rows still name {old_label}"
            for record_table, pk in written[old_label]:
                assert target_type_of(record_table, pk) == new_label
        for old_label in UNMOVED:
            for record_table, pk in written[old_label]:
                assert target_type_of(record_table, pk) == old_label

        assert_pages_serve_the_data()
    finally:
        # Other tests share this database: whatever happened, leave it at the full head.
        migrate_to_new_head()


@pytest.mark.django_db
def test_the_migrations_have_no_conflicts_and_match_the_models():
    """One leaf per app, and nothing left for makemigrations to write."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    assert loader.detect_conflicts() == {}
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"the models have changes no migration records:\n{out.getvalue()}")
