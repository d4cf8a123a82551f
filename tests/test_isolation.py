"""The tenant-isolation matrix: every URL pattern of the project, classified and checked.

A pattern under /a/<agency_slug>/ or /api/v1/a/<agency_slug>/ is a tenant URL: it must be
built on the agency base classes. Both agencies of the test hold one real object of every
kind (build_side), and every id of a URL is filled with one of them. For every method a
tenant URL answers: a member of another agency and an unknown slug get 404; an anonymous
caller is sent to log in (pages) or gets 401/403 (API); a member asking for another
agency's real objects under their own agency's URL gets 404; a member whose role the view
does not allow gets a 403 that says why (on pages, in the site's layout with a link home),
and one it allows gets 200 for a GET and no refusal or error otherwise; and inside their
own agency a role asking for what it may not see (another client's, another assistant's,
another member's) gets 404. Any other pattern must be named in NON_TENANT below with how
it treats an anonymous caller. A new URL that fits neither, or whose ids the matrix cannot
fill, fails here, so it is covered the day it is added.
"""

import dataclasses
import datetime as dt
import shutil
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.access import AgencyViewMixin
from accounts.api.access import AgencyAPIMixin
from accounts.models import Agency, Membership
from assistants.models import TimeOff, WorkSample
from assistants.time_off import span_of
from billing.models import Charge, ChargeKind, ChargeStatus, Invoice, TaxRate
from clients.models import ClientMemberRights
from contracts.models import Proposal, QuoteRequest
from contracts.plans import Plan, PlanLine
from contracts.proposals import offer_of
from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification
from tasks.models import Attachment, RecurringRequest, TimeEntry, Timesheet
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import (
    CategoryFactory,
    ContractFactory,
    LineFactory,
    ServiceFactory,
)
from tests.factories import (
    AgencyFactory,
    ClientFactory,
    InvitationFactory,
    MembershipFactory,
    UserFactory,
)
from tests.tasks.factories import TaskFactory

# Non-tenant URLs by name (namespaced where they have one), with what an anonymous GET gets.
PUBLIC, LOGIN, API_AUTH, BY_TOKEN = "public", "login", "api-auth", "by-token"
# Called by another service (Stripe), proven by a signature: an anonymous POST without a
# valid one gets 400 and changes nothing; any other method gets 405.
WEBHOOK = "webhook"
# An agency's public page and what hangs off it: anyone may read it while the agency
# publishes it; an unknown slug, an unpublished page and another agency's plan are 404.
PUBLISHED = "published"
# A form hanging off a published page (signing up for a plan): the same 404s, and a POST
# of bad input is a form error, never a server error.
PUBLISHED_FORM = "published-form"
NON_TENANT = {
    "home": PUBLIC,
    "healthz": PUBLIC,
    "favicon": PUBLIC,
    "agency_list": LOGIN,
    "agency_create": LOGIN,
    "api_token": LOGIN,
    "invitation_accept": BY_TOKEN,
    "api:root": API_AUTH,
    "api:me": API_AUTH,
    "api:schema": PUBLIC,
    "api:docs": PUBLIC,
    "stripe_webhook": WEBHOOK,
    "inbound_email": WEBHOOK,
    "public_page": PUBLISHED,
    "public_plan": PUBLISHED,
    "public_logo": PUBLISHED,
    "public_signup": PUBLISHED_FORM,
    "public_signup_done": BY_TOKEN,
}
# The Django admin is platform-staff tooling (it sees every agency on purpose).
PLATFORM_ADMIN_NAMESPACE = "admin:"
# allauth's sign-in, sign-up, e-mail, password and two-factor pages, by where they are declared.
AUTH_URLCONF = "allauth."


@dataclass
class Route:
    name: str
    kwargs: tuple[str, ...]
    view: object
    module: str
    source: str  # the urlconf module that declared it
    namespace: str

    @property
    def view_class(self):
        return getattr(self.view, "cls", None) or getattr(self.view, "view_class", None)

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")

    def url(self, slug: str) -> str:
        """The URL with every id 1 (other tests' sample; the matrix fills real ids)."""
        sample = {k: slug if k == "agency_slug" else "1" for k in self.kwargs}
        return reverse(self.name, kwargs=sample)

    def methods(self) -> list[str]:
        allowed = getattr(self.view_class, "http_method_names", ["get", "post"])
        actions = getattr(self.view, "actions", None)
        if actions:  # a DRF viewset route (HEAD is GET without a body)
            return [m.upper() for m in actions if m in allowed and m != "head"]
        handlers = [
            m
            for m in ("get", "post", "put", "patch", "delete")
            if m in allowed and hasattr(self.view_class, m)
        ]
        return [m.upper() for m in handlers] or ["GET"]


def _kwarg_names(pattern) -> tuple[str, ...]:
    if hasattr(pattern, "converters") and pattern.converters:
        return tuple(pattern.converters)
    return tuple(pattern.regex.groupindex)


def all_routes(resolver=None, namespace="", inherited=(), source=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        kwargs = inherited + _kwarg_names(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            urlconf = entry.urlconf_name
            inner = urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", source)
            yield from all_routes(entry, ns, kwargs, inner or source)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            module = getattr(entry.callback, "__module__", "")
            yield Route(name, kwargs, entry.callback, module, source, namespace)


ROUTES = list(all_routes())
TENANT_ROUTES = [r for r in ROUTES if "agency_slug" in r.kwargs]
OTHER_ROUTES = [r for r in ROUTES if "agency_slug" not in r.kwargs]


def route_id(route):
    return route.name or route.module


def test_every_pattern_is_classified():
    unclassified = [
        f"{r.name or '<unnamed>'} ({r.module})"
        for r in OTHER_ROUTES
        if r.name not in NON_TENANT
        and r.namespace != PLATFORM_ADMIN_NAMESPACE
        and not r.source.startswith(AUTH_URLCONF)
    ]
    assert not unclassified, f"URL patterns the isolation matrix cannot classify: {unclassified}"
    assert len(TENANT_ROUTES) >= 8  # the matrix really found the agency URLs


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_uses_the_agency_base_class(route):
    assert route.name, "every tenant URL needs a name so it can be checked"
    base = AgencyAPIMixin if route.is_api else AgencyViewMixin
    assert route.view_class is not None and issubclass(route.view_class, base), (
        f"{route.name} must be built on {base.__name__}"
    )


# -- one of everything, in each of two agencies ------------------------------------------


@dataclass
class Side:
    """One agency with a caller of each role and one object of each kind they may open,
    plus objects of the same agency that a client member or an assistant may not see:
    another client's work (`<key>_hidden`), another assistant's task, another member's
    notification. Ids, not objects: the tests only build URLs from them."""

    agency: object
    members: dict  # role -> the Membership that calls
    ids: dict  # object key -> pk
    notifications: dict  # role -> the pk of that caller's own notification

    def id_of(self, key: str, role: str) -> int:
        return self.notifications[role] if key == "notification" else self.ids[key]


def build_side(agency) -> Side:
    now = timezone.now()
    owner = MembershipFactory(agency=agency, role=Role.OWNER)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    skill, other_skill = CategoryFactory(agency=agency), CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=skill)
    other_service = ServiceFactory(agency=agency, category=other_skill)
    client, other_client = ClientFactory(agency=agency), ClientFactory(agency=agency)
    client_member = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    # The caller owns its client's team; a colleague and an invitation are on that team,
    # and another client's team has one of each too.
    colleague = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    other_colleague = MembershipFactory(agency=agency, role=Role.CLIENT, client=other_client)
    team_invitations = [
        InvitationFactory(agency=agency, role=Role.CLIENT, client=company)
        for company in (client, other_client)
    ]
    with scopes_disabled():
        ClientMemberRights.objects.create(agency=agency, membership=client_member, is_owner=True)
    assistant = AssistantProfileFactory(agency=agency, skills=[skill])
    other_assistant = AssistantProfileFactory(agency=agency, skills=[other_skill])
    contract = ContractFactory(agency=agency, client=client, status="active")
    other_contract = ContractFactory(agency=agency, client=other_client, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    other_line = LineFactory(agency=agency, contract=other_contract, service=other_service)
    task = TaskFactory(
        agency=agency, contract_line=line, status="in_progress", assignee=assistant.membership
    )
    # Another client's, held by another assistant and outside this one's skills.
    other_task = TaskFactory(
        agency=agency,
        contract_line=other_line,
        status="assigned",
        assignee=other_assistant.membership,
    )
    done = TaskFactory(
        agency=agency, contract_line=line, status="completed", assignee=assistant.membership
    )
    other_done = TaskFactory(
        agency=agency,
        contract_line=other_line,
        status="completed",
        assignee=other_assistant.membership,
    )
    extra_member = MembershipFactory(agency=agency, role=Role.ASSISTANT)
    second_owner = MembershipFactory(agency=agency, role=Role.OWNER)
    invitation = InvitationFactory(agency=agency)
    with scopes_disabled():
        plans = [
            Plan.objects.create(
                agency=agency, name=f"Plan {n}", currency=agency.default_currency, days_until_due=14
            )
            for n in (1, 2)
        ]
        plan_lines = [
            PlanLine.objects.create(
                agency=agency, plan=plan, service=service, pricing_model="flat", flat_fee=4000
            )
            for plan in plans
        ]
        drafts = [
            ContractFactory(agency=agency, client=company, status="draft")
            for company in (client, other_client)
        ]
        offered = [
            Proposal.objects.create(
                agency=agency,
                contract=draft,
                client=draft.client,
                version=1,
                offer=offer_of(draft),
                expires_at=now + dt.timedelta(days=7),
                sent_at=now,
            )
            for draft in drafts
        ]
        quotes = [
            QuoteRequest.objects.create(agency=agency, client=company, details="Inbox help")
            for company in (client, other_client)
        ]
        files = [_attachment(agency, work, client_member.user) for work in (task, other_task)]
        samples = [_work_sample(agency, profile) for profile in (assistant, other_assistant)]
        charges = [
            Charge.objects.create(
                agency=agency,
                kind=ChargeKind.TASK,
                task=work,
                task_completed_at=now,
                contract_line=work.contract_line,
                terms=work.contract_line.terms.get(),
                client=work.client,
                minutes_logged=60,
                minutes_billed=60,
                amount=4000,
                currency=work.currency,
                description=work.title,
                status=ChargeStatus.HELD,
                idempotency_key=f"charge-task-{work.pk}",
            )
            for work in (done, other_done)
        ]
        invoices = [
            Invoice.objects.create(
                agency=agency,
                client=deal.client,
                contract=deal,
                number=f"INV-{deal.pk}",
                status="open",
                collection_method="send_invoice",
                currency=deal.currency,
                amount_due=4000,
                due_date=now + dt.timedelta(days=14),
            )
            for deal in (contract, other_contract)
        ]
        tax_rate = TaxRate.objects.create(agency=agency, display_name="VAT", percentage=20)
        time_off = [_time_off(agency, person.membership) for person in (assistant, other_assistant)]
        recurring = [
            RecurringRequest.objects.create(
                agency=agency,
                client=deal.client,
                service=deal_service,
                title="Weekly inbox sweep",
                frequency="weekly",
                weekday=0,
                time_of_day=dt.time(9),
                next_run_at=now + dt.timedelta(days=7),
            )
            for deal, deal_service in ((contract, service), (other_contract, other_service))
        ]
        entries = [
            TimeEntry.objects.create(
                agency=agency,
                task=work,
                assistant=person,
                started_at=now - dt.timedelta(hours=1),
                ended_at=now - dt.timedelta(minutes=30),
                minutes=30,
                seconds=30 * 60,
            )
            for work, person in (
                (task, assistant.membership),
                (other_task, other_assistant.membership),
            )
        ]
        # A week each assistant submitted, waiting for staff.
        monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
        weeks = [
            Timesheet.objects.create(
                agency=agency,
                assistant=person,
                week_start=monday,
                zone="Europe/Lisbon",
                status="submitted",
                submitted_at=now,
            )
            for person in (assistant.membership, other_assistant.membership)
        ]
        members = {
            Role.OWNER: owner,
            Role.ADMIN: admin,
            Role.ASSISTANT: assistant.membership,
            Role.CLIENT: client_member,
        }
        notifications = {
            role: _notification(agency, member.user, contract).pk
            for role, member in members.items()
        }
        someone_elses = _notification(agency, extra_member.user, contract).pk
    return Side(
        agency=agency,
        members=members,
        notifications=notifications,
        ids={
            "task": task.pk,
            "task_hidden": other_task.pk,
            "attachment": files[0].pk,
            "attachment_hidden": files[1].pk,
            "time_entry": entries[0].pk,
            "time_entry_hidden": entries[1].pk,
            "client": client.pk,
            "client_hidden": other_client.pk,
            "contract": contract.pk,
            "contract_hidden": other_contract.pk,
            "line": line.pk,
            "line_hidden": other_line.pk,
            "service": service.pk,
            "charge": charges[0].pk,
            "charge_hidden": charges[1].pk,
            "invoice": invoices[0].pk,
            "invoice_hidden": invoices[1].pk,
            "tax_rate": tax_rate.pk,
            "recurring": recurring[0].pk,
            "recurring_hidden": recurring[1].pk,
            "notification_hidden": someone_elses,
            "invitation": invitation.pk,
            "client_member": colleague.pk,
            "client_member_hidden": other_colleague.pk,
            "client_invitation": team_invitations[0].pk,
            "client_invitation_hidden": team_invitations[1].pk,
            "member": extra_member.pk,
            "owner_member": second_owner.pk,
            "profile": assistant.pk,
            "profile_hidden": other_assistant.pk,
            "work_sample": samples[0].pk,
            "work_sample_hidden": samples[1].pk,
            "assistant_member": assistant.membership_id,
            "time_off": time_off[0].pk,
            "time_off_hidden": time_off[1].pk,
            "timesheet": weeks[0].pk,
            "timesheet_hidden": weeks[1].pk,
            "draft_contract": drafts[0].pk,
            "proposal": offered[0].pk,
            "proposal_hidden": offered[1].pk,
            "quote_request": quotes[0].pk,
            "quote_request_hidden": quotes[1].pk,
            "plan": plans[0].pk,
            "plan_hidden": plans[1].pk,
            "plan_line": plan_lines[0].pk,
            "plan_line_hidden": plan_lines[1].pk,
        },
    )


def _attachment(agency, task, user):
    attachment = Attachment(
        agency=agency,
        task=task,
        uploaded_by=user,
        name="brief.pdf",
        size=14,
        content_type="application/pdf",
    )
    attachment.file.save("brief.pdf", ContentFile(b"%PDF-1.4 brief"), save=True)
    return attachment


def _work_sample(agency, profile):
    sample = WorkSample(agency=agency, profile=profile, title="Report", name="report.pdf")
    sample.file.save("report.pdf", ContentFile(b"%PDF-1.4 report"), save=True)
    return sample


def _time_off(agency, membership):
    """A request still waiting, a month ahead: the assistant may cancel it, staff decide it."""
    first = timezone.localdate() + dt.timedelta(days=30)
    starts_at, ends_at = span_of(first, first + dt.timedelta(days=2), "Europe/Lisbon")
    return TimeOff.objects.create(
        agency=agency,
        assistant=membership,
        starts_on=first,
        ends_on=first + dt.timedelta(days=2),
        time_zone="Europe/Lisbon",
        starts_at=starts_at,
        ends_at=ends_at,
    )


def _notification(agency, user, contract):
    return Notification.objects.create(
        agency=agency,
        recipient=user,
        kind="contract_ending",
        target_type="contracts.servicecontract",
        target_id=contract.pk,
        occasion="isolation",
        title="Ending soon",
        link="/",
    )


@pytest.fixture(scope="module")
def built_sides(django_db_setup, django_db_blocker, tmp_path_factory):
    """Both agencies, built once for the whole module (building them is most of the
    matrix's cost) inside a transaction that is rolled back when the module ends. Each
    test runs in a savepoint inside it, so what one test writes is gone before the next
    and every test meets the same rows. Their files are kept in a folder of the module's
    and copied for each test: a request may remove a file, and no rollback restores it."""
    media = tmp_path_factory.mktemp("isolation-media")
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
            built = build_side(AgencyFactory()), build_side(AgencyFactory())
        # Blocked again between tests: a test that did not ask for the database gets none.
        yield built, media
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def sides(built_sides, db, settings, tmp_path):
    """(the callers' agency, another agency), each with one of everything: the module's
    rows, with the agency and the callers read afresh for this test, so that a change one
    test makes to an object in memory (a sign-in stamps its user) never reaches another."""
    built, media = built_sides
    shutil.copytree(media, tmp_path, dirs_exist_ok=True)
    settings.MEDIA_ROOT = tmp_path
    return tuple(_read_afresh(side) for side in built)


def _read_afresh(side: Side) -> Side:
    with scopes_disabled():
        agency = Agency.objects.get(pk=side.agency.pk)
        by_pk = Membership.objects.select_related("user").in_bulk(
            [member.pk for member in side.members.values()]
        )
    members = {role: by_pk[member.pk] for role, member in side.members.items()}
    return dataclasses.replace(
        side,
        agency=agency,
        members=members,
        ids=dict(side.ids),
        notifications=dict(side.notifications),
    )


# Which object each id of a URL names. `pk` by the URL's name (first match); the others by
# the kwarg. A route whose ids this cannot name fails test_every_id_is_named.
PK_OBJECTS = [
    ("our_team_invitation_", "client_invitation"),
    ("our_team_member", "client_member"),
    ("api:our-team-invitation-", "client_invitation"),
    ("api:our-team-member-", "client_member"),
    ("api:notification-", "notification"),
    ("notification_", "notification"),
    ("api:client-manual-", "client"),
    ("api:client-", "client"),
    ("client_", "client"),
    ("manual_view", "client"),
    ("api:work-sample", "work_sample"),
    ("work_sample_", "work_sample"),
    ("assistant_sample_add", "profile"),
    ("assistant_profile_view", "profile"),
    ("api:time-off-", "time_off"),
    ("api:my-time-off-", "time_off"),
    ("time_off_", "time_off"),
    ("my_time_off_", "time_off"),
    ("api:timesheet-", "timesheet"),
    ("timesheet_", "timesheet"),
    ("api:assistant-", "profile"),
    ("assistant_edit", "profile"),
    ("assistant_earnings", "assistant_member"),
    ("api:earnings-", "assistant_member"),
    ("earnings_payout", "assistant_member"),
    ("api:service-", "service"),
    ("service_", "service"),
    ("proposal_send", "draft_contract"),
    ("api:proposal-", "proposal"),
    ("api:our-proposal-", "proposal"),
    ("api:our-quote-request-", "quote_request"),
    ("our_proposal_", "proposal"),
    ("proposal_", "proposal"),
    ("api:quote-request-", "quote_request"),
    ("quote_request_", "quote_request"),
    ("api:contract-", "contract"),
    ("api:plan-", "plan"),
    ("plan_", "plan"),
    ("contract_", "contract"),
    ("line_", "contract"),
    ("api:charge-", "charge"),
    ("charge_", "charge"),
    ("api:invoice-", "invoice"),
    ("api:tax-rate-", "tax_rate"),
    ("tax_rate_", "tax_rate"),
    ("invoice_", "invoice"),
    ("our_invoice_", "invoice"),
    ("invitation_", "invitation"),
    ("member_remove", "member"),
    ("recurring_", "recurring"),
    ("api:recurring-", "recurring"),
    ("api:task-", "task"),
    ("task_", "task"),
]
KWARG_OBJECTS = {
    "client_pk": "client",
    "line_pk": "line",
    "file_pk": "attachment",
    "attachment_pk": "attachment",
    "entry_pk": "time_entry",
    "plan_line_pk": "plan_line",
    "member_pk": "client_member",
}
# Kwargs that are words, not ids.
LITERAL_KWARGS = {"to": "paused"}
# Whose objects of each kind a role may not open, though they are of its own agency: a
# client member another client's, an assistant another assistant's work and the manuals
# of clients they do not work for, nobody another member's notifications.
HIDDEN_FROM = {
    "task": {Role.ASSISTANT, Role.CLIENT},
    "attachment": {Role.ASSISTANT, Role.CLIENT},
    "client": {Role.ASSISTANT, Role.CLIENT},
    "contract": {Role.CLIENT},
    "charge": {Role.CLIENT},
    "invoice": {Role.CLIENT},
    "recurring": {Role.CLIENT},
    "notification": set(Role),
    "time_off": {Role.ASSISTANT},
    "timesheet": {Role.ASSISTANT},
    "profile": {Role.ASSISTANT, Role.CLIENT},
    "work_sample": {Role.ASSISTANT, Role.CLIENT},
    "proposal": {Role.CLIENT},
    "quote_request": {Role.CLIENT},
    "client_member": {Role.CLIENT},
    "client_invitation": {Role.CLIENT},
}
# Routes whose allowed roles depend on the object: (ids that differ, the roles allowed).
OBJECT_CASES = {
    # Only owners remove or demote owners; an admin may remove anyone else.
    "member_remove": [({"pk": "owner_member"}, frozenset({Role.OWNER}))],
}


def id_objects(route) -> dict[str, str]:
    """kwarg -> object key, for each id in the route's URL."""
    named = {}
    for kwarg in route.kwargs:
        if kwarg == "agency_slug" or kwarg in LITERAL_KWARGS:
            continue
        if kwarg == "pk":
            named[kwarg] = next(
                (key for prefix, key in PK_OBJECTS if route.name.startswith(prefix)), None
            )
        else:
            named[kwarg] = KWARG_OBJECTS.get(kwarg)
    return named


def url_of(route, side: Side, role: str, **keys) -> str:
    """The route's URL in `side`'s agency, naming the objects `role` may open (or those
    `keys` names instead, kwarg -> object key; a Side value takes that object from it)."""
    values = {"agency_slug": side.agency.slug, **LITERAL_KWARGS}
    for kwarg, key in id_objects(route).items():
        chosen = keys.get(kwarg, key)
        source = side
        if isinstance(chosen, Side):
            chosen, source = key, chosen
        values[kwarg] = source.id_of(chosen, role)
    return reverse(route.name, kwargs={k: v for k, v in values.items() if k in route.kwargs})


def allowed_roles(route, method: str) -> frozenset:
    roles_for = getattr(route.view_class, "roles_for", None)
    return roles_for(method) if roles_for else route.view_class.allowed_roles


def call(http, method: str, url: str):
    """One request whose writes are undone, so that every call meets the same world."""
    with transaction.atomic():
        response = getattr(http, method.lower())(url)
        transaction.set_rollback(True)
    return response


ID_ROUTES = [r for r in TENANT_ROUTES if id_objects(r)]


def test_every_id_is_named():
    unnamed = [
        f"{r.name}: {kwarg}" for r in ID_ROUTES for kwarg, key in id_objects(r).items() if not key
    ]
    assert unnamed == [], "URL ids the isolation matrix cannot fill with a real object"
    assert len(ID_ROUTES) >= 40  # the matrix really found the detail URLs


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_is_isolated(route, sides, signed_in, client):
    """Strangers and unknown slugs get 404, the anonymous are turned away, and a member
    asking, in their own agency's URL, for another agency's real objects gets 404: each
    id alone and all of them together."""
    mine, theirs = sides
    stranger_http = signed_in(theirs.members[Role.OWNER].user)
    for method in route.methods():
        url = url_of(route, mine, Role.OWNER)
        unknown = url.replace(f"/a/{mine.agency.slug}/", "/a/no-such-agency/", 1)

        response = call(stranger_http, method, url)
        assert response.status_code == 404, f"{method} {url} as another agency's owner"
        response = call(stranger_http, method, unknown)
        assert response.status_code == 404, f"{method} {unknown} for an unknown slug"

        response = call(client, method, url)
        if route.is_api:
            assert response.status_code in (401, 403), f"anonymous {method} {url}"
        else:
            assert response.status_code == 302, f"anonymous {method} {url}"
            assert response["Location"].startswith(reverse("account_login"))

        kwargs = list(id_objects(route))
        if not kwargs:
            continue
        variants = [{kwarg: theirs for kwarg in kwargs}]
        if len(kwargs) > 1:
            variants += [{kwarg: theirs} for kwarg in kwargs]
        for role in allowed_roles(route, method):
            http = signed_in(mine.members[role].user)
            for variant in variants:
                url = url_of(route, mine, role, **variant)
                response = call(http, method, url)
                assert response.status_code == 404, (
                    f"{role} {method} {url}: another agency's {sorted(variant)}"
                )


def refused_for_the_role(route, response, role) -> str | None:
    """What is wrong with a refusal, or None: a 403 that says what the role cannot do, a
    page in the site's layout with a way back to the agency."""
    if response.status_code != 403:
        return f"status {response.status_code}"
    article = "an" if role in (Role.OWNER, Role.ADMIN, Role.ASSISTANT) else "a"
    said = f"As {article} {role}"
    if route.is_api:
        body = response.json()
        return None if said in body["message"] else f"API message {body}"
    html = response.content.decode()
    if 'data-testid="forbidden"' not in html or 'class="topbar"' not in html:
        return "not the layout's forbidden page"
    if reverse("dashboard", args=[route_agency_slug(response)]) not in html:
        return "no link back to the agency"
    return None if said in html else "does not say what the role cannot do"


def route_agency_slug(response) -> str:
    return response.wsgi_request.resolver_match.kwargs["agency_slug"]


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=route_id)
def test_tenant_route_checks_the_role(route, sides, signed_in):
    """Each role, on objects of its own that it may open: refused with a 403 that says why
    if the view does not allow the role, else answered (a GET with 200, a write with
    anything but a refusal or an error)."""
    mine, _ = sides
    cases = [({}, None), *OBJECT_CASES.get(route.name, [])]
    for keys, roles in cases:
        for role in Role:
            http = signed_in(mine.members[role].user)
            for method in route.methods():
                allowed = roles if roles is not None else allowed_roles(route, method)
                url = url_of(route, mine, role, **keys)
                response = call(http, method, url)
                if role in allowed:
                    if method == "GET":
                        assert response.status_code == 200, f"{role} GET {url}"
                    else:
                        assert response.status_code not in (403, 404, 405), (
                            f"{role} {method} {url}: {response.status_code}"
                        )
                        assert response.status_code < 500, f"{role} {method} {url}"
                else:
                    problem = refused_for_the_role(route, response, role)
                    assert problem is None, f"{role} {method} {url}: {problem}"


@pytest.mark.parametrize("route", ID_ROUTES, ids=route_id)
def test_tenant_route_hides_what_the_role_may_not_see(route, sides, signed_in):
    """Inside their own agency, each role allowed on the route asks for objects it may not
    open (another client's, another assistant's task, someone else's notification) and
    gets 404; so does anyone pairing an object with another's child (a task with a file of
    another task)."""
    mine, _ = sides
    objects = id_objects(route)
    for method in route.methods():
        for role in allowed_roles(route, method):
            http = signed_in(mine.members[role].user)
            for kwarg, key in objects.items():
                if role not in HIDDEN_FROM.get(key, ()) and len(objects) == 1:
                    continue  # the other object is one this role may open
                url = url_of(route, mine, role, **{kwarg: f"{key}_hidden"})
                response = call(http, method, url)
                assert response.status_code == 404, f"{role} {method} {url}: {key} not theirs"


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if r.name in NON_TENANT and not r.kwargs], ids=route_id
)
def test_non_tenant_route_treats_anonymous_as_declared(route, client, db):
    response = client.get(reverse(route.name))
    expected = NON_TENANT[route.name]
    if expected == PUBLIC:
        assert response.status_code == 200
    elif expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    elif expected == API_AUTH:
        assert response.status_code in (401, 403)


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if NON_TENANT.get(r.name) == WEBHOOK], ids=route_id
)
def test_webhook_route_refuses_unsigned_calls(route, client, agency, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_isolation_matrix"  # so the signature is checked
    # The URL names its agency by slug, under a kwarg other than agency_slug.
    # A webhook URL's other words name no agency (the inbound mail provider).
    words = {"provider": "mailgun"}
    url = reverse(route.name, kwargs={k: words.get(k, agency.slug) for k in route.kwargs})
    assert client.get(url).status_code == 405
    response = client.post(url, data=b"{}", content_type="application/json")
    assert response.status_code == 400
    response = client.post(
        url, data=b"{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=00"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if NON_TENANT.get(r.name) == PUBLISHED], ids=route_id
)
def test_published_page_route_answers_only_for_a_published_agency(
    route, client, db, settings, tmp_path
):
    from tests.contracts.test_public_page import published_page_of

    settings.MEDIA_ROOT = tmp_path

    shown, hidden, other = published_page_of(), published_page_of(), published_page_of()
    with scopes_disabled():
        type(hidden["page"]).objects.filter(pk=hidden["page"].pk).update(is_published=False)

    def url(side, **instead):
        values = {"agency": side["agency"].slug, **side["kwargs"], **instead}
        return reverse(route.name, kwargs={k: values[k] for k in route.kwargs})

    assert client.get(url(shown)).status_code == 200
    assert client.post(url(shown)).status_code == 405
    assert client.get(url(shown, agency="no-such-agency")).status_code == 404
    assert client.get(url(hidden)).status_code == 404
    if "plan_id" in route.kwargs:  # another agency's published plan under this slug
        assert client.get(url(shown, plan_id=other["kwargs"]["plan_id"])).status_code == 404
    if "version" in route.kwargs:  # another agency's logo under this slug
        assert client.get(url(shown, version=other["kwargs"]["version"])).status_code == 404


@pytest.mark.parametrize(
    "route", [r for r in OTHER_ROUTES if NON_TENANT.get(r.name) == PUBLISHED_FORM], ids=route_id
)
def test_published_form_route_answers_only_for_a_published_agency(
    route, client, db, settings, tmp_path
):
    from tests.contracts.test_public_page import published_page_of

    settings.MEDIA_ROOT = tmp_path

    shown, hidden, other = published_page_of(), published_page_of(), published_page_of()
    with scopes_disabled():
        type(hidden["page"]).objects.filter(pk=hidden["page"].pk).update(is_published=False)

    def url(side, **instead):
        values = {"agency": side["agency"].slug, **side["kwargs"], **instead}
        return reverse(route.name, kwargs={k: values[k] for k in route.kwargs})

    assert client.get(url(shown)).status_code == 200
    assert client.post(url(shown), {"unexpected": "x"}).status_code == 400
    for method in (client.get, client.post):
        assert method(url(shown, agency="no-such-agency")).status_code == 404
        assert method(url(hidden)).status_code == 404
        if "plan_id" in route.kwargs:  # another agency's published plan under this slug
            assert method(url(shown, plan_id=other["kwargs"]["plan_id"])).status_code == 404


def test_invitation_link_with_a_bad_token_is_a_clear_400(client, db):
    response = client.get(reverse("invitation_accept", args=["not-a-token"]))
    assert response.status_code == 400
    assert b"not valid" in response.content


def test_platform_admin_is_for_platform_staff_only(client, agency, member, signed_in):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    owner = member(Role.OWNER).user  # an agency owner is not platform staff
    assert signed_in(owner).get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(
    "name",
    [
        "admin:accounts_membership_changelist",
        "admin:clients_client_changelist",
        "admin:core_auditevent_changelist",
        "admin:accounts_invitation_changelist",
    ],
)
def test_platform_staff_see_every_agency_in_the_admin(name, agency, other_agency, signed_in):
    ClientFactory(agency=agency)
    ClientFactory(agency=other_agency)
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert signed_in(staff).get(reverse(name)).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "admin:contracts_servicecontract_changelist",
        "admin:billing_charge_changelist",
        "admin:tasks_task_changelist",
        "admin:tasks_timeentry_changelist",
    ],
)
def test_platform_staff_read_billing_and_tasks_in_the_admin(name, signed_in, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert signed_in(staff).get(reverse(name)).status_code == 200
