import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from clients.models import Client
from clients.services import client_ensure_active
from contracts.models import (
    COMMON_CATEGORIES,
    CollectionMethod,
    ContractAssistant,
    ContractLine,
    ContractStatus,
    ContractTerms,
    PricingModel,
    Service,
    ServiceCategory,
    ServiceContract,
)
from contracts.request_templates import validate_template
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error, unique_or_error
from core.roles import Role
from core.times import local_midnight, local_today
from core.validators import date_in_range, date_range_message


def service_categories_seed(*, agency, actor=None) -> None:
    """Give an agency the common categories it does not have yet (on its creation:
    accounts' hook)."""
    existing = set(ServiceCategory.objects.filter(agency=agency).values_list("slug", flat=True))
    ServiceCategory.objects.bulk_create(
        ServiceCategory(agency=agency, slug=slug, name=name)
        for slug, name in COMMON_CATEGORIES
        if slug not in existing
    )


# -- the catalogue ----------------------------------------------------------------------

SERVICE_FIELDS = (
    "name",
    "category",
    "description",
    "default_pricing_model",
    "default_price",
    "default_turnaround_hours",
    "request_template",
    "is_active",
)


def service_create(*, agency, actor, **fields) -> Service:
    """Add a service to the catalogue. Names are unique in the agency; the category and
    the request template are checked."""
    return _service_save(agency=agency, actor=actor, service=Service(agency=agency), **fields)


def service_update(*, agency, actor, service: Service, **fields) -> Service:
    """Change a catalogue entry. Contracts keep their own terms, so prices here only
    prefill future contract lines."""
    return _service_save(agency=agency, actor=actor, service=service, **fields)


def _service_save(*, agency, actor, service: Service, **fields) -> Service:
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise TypeError(f"unknown service fields: {sorted(unknown)}")
    category = fields.get("category", getattr(service, "category", None))
    if category is None or category.agency_id != agency.pk:
        raise ApplicationError(
            "Choose a category.", code="service_category_invalid", extra={"field": "category"}
        )
    if "request_template" in fields:
        fields["request_template"] = validate_template(fields["request_template"])
    creating = service.pk is None
    for name, value in fields.items():
        setattr(service, name, value)
    service.name = service.name.strip()
    clean_or_error(service, exclude=("agency",))
    taken = f"The catalogue already has a service called “{service.name}”."
    with unique_or_error(taken, code="service_name_taken", field="name"):
        service.save()
        audit_record(
            agency=agency,
            actor=actor,
            target=service,
            action="service.created" if creating else "service.updated",
        )
    return service


# -- contracts --------------------------------------------------------------------------

TRANSITIONS = {
    ContractStatus.DRAFT: {ContractStatus.ACTIVE, ContractStatus.ENDED},
    ContractStatus.ACTIVE: {ContractStatus.PAUSED, ContractStatus.ENDED},
    ContractStatus.PAUSED: {ContractStatus.ACTIVE, ContractStatus.ENDED},
    ContractStatus.ENDED: set(),
}
LIVE = (ContractStatus.ACTIVE, ContractStatus.PAUSED)
HEADER_FIELDS = (
    "name",
    "starts_on",
    "ends_on",
    "billing_cadence",
    "collection_method",
    "days_until_due",
    "requires_approval",
)
# Once a contract is live, only these header fields may change: the rest are terms that
# billing has relied on. Its start date may still be corrected while no work is under it
# (contract_start_change).
LIVE_HEADER_FIELDS = ("name", "ends_on")


def contract_create(*, agency, actor, client: Client, dedicated=(), **header) -> ServiceContract:
    """Draft a contract for a client, in the client's currency. Its dates are days on the
    client's calendar: without a start date it starts on the client's today."""
    if client.agency_id != agency.pk:
        raise ApplicationError(
            "Unknown client.", code="contract_client_invalid", extra={"field": "client"}
        )
    client_ensure_active(client=client)
    if header.get("starts_on") is None:
        header["starts_on"] = local_today(client.time_zone)
    contract = ServiceContract(agency=agency, client=client, currency=client.currency)
    with transaction.atomic():
        _contract_header_save(contract, header)
        _dedicated_set(agency, contract, dedicated)
        audit_record(agency=agency, actor=actor, action="contract.created", target=contract)
    return contract


def contract_update(*, agency, actor, contract: ServiceContract, dedicated=None, **header):
    """Change a contract's header. A draft changes freely; a live contract may be renamed,
    extended or shortened and have its dedicated assistants changed, and its start date
    corrected while no work is under it (contract_start_change); an ended one is history."""
    if contract.status == ContractStatus.ENDED:
        raise ApplicationError("An ended contract cannot change.", code="contract_ended")
    if contract.status in LIVE and header.get("starts_on") is None:
        header.pop("starts_on", None)
    if contract.status in LIVE:
        frozen = [
            k
            for k, v in header.items()
            if k not in (*LIVE_HEADER_FIELDS, "starts_on") and v != getattr(contract, k)
        ]
        if frozen:
            raise ApplicationError(
                "Billing terms of a live contract cannot change; end it and draft a new one.",
                code="contract_terms_frozen",
                extra={"field": frozen[0]},
            )
    with transaction.atomic():
        if contract.status in LIVE:
            _lock_client(contract)
            new_start = header.pop("starts_on", contract.starts_on)
            if new_start != contract.starts_on:
                # the end date given with it counts for the checks of the new start
                if "ends_on" in header:
                    contract.ends_on = header["ends_on"]
                contract_start_change(
                    agency=agency, actor=actor, contract=contract, starts_on=new_start
                )
        _contract_header_save(contract, header)
        if contract.status in LIVE and "ends_on" in header:
            _check_no_overlap(contract)
        if dedicated is not None:
            _dedicated_set(agency, contract, dedicated)
        audit_record(
            agency=agency,
            actor=actor,
            action="contract.updated",
            target=contract,
            fields=sorted(header),
        )
    return contract


def contract_work_summary(contract: ServiceContract) -> list[str]:
    """What work is under a contract, in words ("2 tasks", "1 charge"); empty when none.
    Tasks (and the time logged on them) and charges point at the contract from the apps
    above, so they are counted through those relations."""
    tasks = contract.tasks.count()
    charges = ContractLine.objects.filter(contract=contract, charges__isnull=False).count()
    done = []
    if tasks:
        done.append(f"{tasks} task{'s' if tasks != 1 else ''}")
    if charges:
        done.append(f"{charges} charge{'s' if charges != 1 else ''}")
    return done


def contract_start_change(
    *, agency, actor, contract: ServiceContract, starts_on: dt.date
) -> ServiceContract:
    """Correct the start date of a live (active or paused) contract, as long as no work is
    under it: no task (so no time logged) and no charge. The date is a day on the client's
    calendar; the terms of its services that began with the contract begin at the new start
    (00:00 in the client's zone). Dates stay in range, in order and clear of the client's
    other live contracts. A draft's dates change with contract_update; an ended contract is
    history."""
    if contract.status not in LIVE:
        raise ApplicationError(
            "Only a live contract's start date is corrected this way.",
            code="contract_not_live",
            extra={"field": "starts_on"},
        )
    if starts_on is None or not date_in_range(starts_on):
        raise ApplicationError(
            date_range_message(), code="contract_date_out_of_range", extra={"field": "starts_on"}
        )
    with transaction.atomic():
        _lock_client(contract)
        previous = ServiceContract.objects.select_for_update().get(pk=contract.pk)
        if previous.status not in LIVE:
            raise ApplicationError(
                "The contract changed meanwhile; reload and try again.",
                code="contract_not_live",
                extra={"field": "starts_on"},
            )
        old_start = previous.starts_on
        if starts_on == old_start:
            return contract
        done = contract_work_summary(contract)
        if done:
            raise ApplicationError(
                f"Work has been done under this contract ({', '.join(done)}), so its start "
                "date can no longer change. End it and draft a new one if the dates are wrong.",
                code="contract_start_has_work",
                extra={"field": "starts_on"},
            )
        ends_on = contract.ends_on
        if ends_on is not None and ends_on < starts_on:
            raise ApplicationError(
                "The end date is before the start date.",
                code="contract_dates_out_of_order",
                extra={"field": "starts_on"},
            )
        contract.starts_on = starts_on
        _check_no_overlap(contract)
        _terms_follow_start(
            contract,
            old_start=local_midnight(old_start, contract.client.time_zone),
            new_start=_contract_start(contract),
        )
        contract.save(update_fields=["starts_on"])
        audit_record(
            agency=agency,
            actor=actor,
            action="contract.start_changed",
            target=contract,
            previous=old_start.isoformat(),
            starts_on=starts_on.isoformat(),
        )
    return contract


def _terms_follow_start(contract, *, old_start: dt.datetime, new_start: dt.datetime) -> None:
    """Each line's first terms begin with the contract when they began with it, or when they
    would otherwise begin before it; a later change of terms must still come after them."""
    lines = ContractLine.objects.filter(contract=contract).select_related("service")
    for line in lines:
        versions = list(ContractTerms.objects.filter(line=line).order_by("effective_from"))
        if not versions:
            continue
        first = versions[0]
        if first.effective_from == old_start or first.effective_from < new_start:
            first.effective_from = new_start
        clash = next((v for v in versions[1:] if v.effective_from <= first.effective_from), None)
        if clash is not None:
            raise ApplicationError(
                f"{line.service.name} has a change of terms on or before the new start; "
                "change those terms first.",
                code="contract_start_after_terms",
                extra={"field": "starts_on"},
            )
        first.save(update_fields=["effective_from"])


def due_days_check(header, *, code_prefix: str) -> None:
    """A contract's (or a plan's) invoices: sent ones fall due in a given number of days,
    within a year; card-charged ones have none."""
    if header.collection_method != CollectionMethod.SEND_INVOICE:
        header.days_until_due = None
        return
    if header.days_until_due is None:
        raise ApplicationError(
            "Say in how many days a sent invoice falls due.",
            code=f"{code_prefix}_due_days_required",
            extra={"field": "days_until_due"},
        )
    if header.days_until_due > 365:
        raise ApplicationError(
            "Invoices fall due within a year at most.",
            code=f"{code_prefix}_due_days_invalid",
            extra={"field": "days_until_due"},
        )


def _contract_header_save(contract: ServiceContract, header: dict) -> None:
    unknown = set(header) - set(HEADER_FIELDS)
    if unknown:
        raise TypeError(f"unknown contract fields: {sorted(unknown)}")
    for name, value in header.items():
        setattr(contract, name, value)
    contract.name = (contract.name or "").strip()
    for name in ("starts_on", "ends_on"):
        value = getattr(contract, name)
        if value is not None and not date_in_range(value):
            raise ApplicationError(
                date_range_message(), code="contract_date_out_of_range", extra={"field": name}
            )
    if contract.ends_on and contract.starts_on and contract.ends_on < contract.starts_on:
        raise ApplicationError(
            "The end date is before the start date.",
            code="contract_dates_out_of_order",
            extra={"field": "ends_on"},
        )
    due_days_check(contract, code_prefix="contract")
    clean_or_error(contract, exclude=("agency", "client"))
    contract.save()


def _dedicated_set(agency, contract: ServiceContract, memberships) -> None:
    from accounts.models import Membership

    wanted = {m.pk for m in memberships}
    valid = set(
        Membership.objects.filter(
            agency=agency, pk__in=wanted, role=Role.ASSISTANT, is_active=True
        ).values_list("pk", flat=True)
    )
    if wanted - valid:
        raise ApplicationError(
            "Dedicated assistants must be active assistants of the agency.",
            code="contract_assistant_invalid",
            extra={"field": "dedicated"},
        )
    ContractAssistant.objects.filter(contract=contract).exclude(membership_id__in=wanted).delete()
    present = set(
        ContractAssistant.objects.filter(contract=contract).values_list("membership_id", flat=True)
    )
    ContractAssistant.objects.bulk_create(
        ContractAssistant(agency=agency, contract=contract, membership_id=pk)
        for pk in wanted - present
    )


def contract_transition(*, agency, actor, contract: ServiceContract, to: str) -> ServiceContract:
    """Move a contract along draft → active ⇄ paused → ended (a draft may also be ended).

    Activation needs at least one line and no overlap in dates with the client's other live
    contracts, checked under a lock on the client so two activations cannot both pass.
    Ending sets the end date to today in the client's zone if it was later or open.
    """
    if to not in TRANSITIONS[contract.status]:
        raise ApplicationError(
            f"A {contract.get_status_display().lower()} contract cannot become "
            f"{ContractStatus(to).label.lower()}.",
            code="contract_transition_invalid",
        )
    with transaction.atomic():
        _lock_client(contract)
        contract.refresh_from_db()
        if to not in TRANSITIONS[contract.status]:  # someone else moved it meanwhile
            raise ApplicationError(
                "The contract changed meanwhile; reload and try again.",
                code="contract_transition_invalid",
            )
        previous = contract.status
        now = timezone.now()
        if to == ContractStatus.ACTIVE and previous == ContractStatus.DRAFT:
            client_ensure_active(client=contract.client)
            lines = ContractLine.objects.filter(contract=contract, removed_at=None)
            if not lines.exists():
                raise ApplicationError(
                    "Add at least one service before activating.", code="contract_has_no_lines"
                )
            # A draft's single terms row starts with the contract, wherever its dates moved.
            ContractTerms.objects.filter(line__contract=contract).update(
                effective_from=_contract_start(contract)
            )
            contract.activated_at = now
        if to == ContractStatus.ACTIVE:
            contract.status = to
            _check_no_overlap(contract)
        if to == ContractStatus.ENDED:
            today = local_today(contract.client.time_zone)
            if contract.ends_on is None or contract.ends_on > today:
                contract.ends_on = max(today, contract.starts_on)
            contract.ended_at = now
        contract.status = to
        contract.save()
        audit_record(
            agency=agency, actor=actor, action=f"contract.{to}", target=contract, previous=previous
        )
    return contract


def _lock_client(contract: ServiceContract) -> None:
    Client.objects.select_for_update().filter(pk=contract.client_id).first()


def _check_no_overlap(contract: ServiceContract) -> None:
    """One client, one live contract at any date: otherwise which prices apply is unclear."""
    others = ServiceContract.objects.filter(client_id=contract.client_id, status__in=LIVE).exclude(
        pk=contract.pk
    )
    for other in others:
        if _overlaps(contract.starts_on, contract.ends_on, other.starts_on, other.ends_on):
            until = other.ends_on.isoformat() if other.ends_on else "open-ended"
            raise ApplicationError(
                f"Its dates overlap “{other.name}” ({other.starts_on.isoformat()} to {until}), "
                "which is live. End that one or change the dates.",
                code="contract_overlap",
                extra={"field": "starts_on", "contract": other.pk},
            )


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start <= (b_end or dt.date.max) and b_start <= (a_end or dt.date.max)


def _contract_start(contract: ServiceContract) -> dt.datetime:
    return local_midnight(contract.starts_on, contract.client.time_zone)


# -- contract lines and their terms ------------------------------------------------------

TERMS_FIELDS = {
    PricingModel.FLAT: ("flat_fee",),
    PricingModel.HOURLY: ("hourly_rate", "rounding_increment_minutes", "minimum_minutes"),
    PricingModel.RETAINER: (
        "retainer_fee",
        "included_minutes",
        "rollover_cap_minutes",
        "overage_rate",
        "rounding_increment_minutes",
    ),
}
# A retainer's optional terms: empty means banked hours never expire, and extra hours cost
# the overage rate.
RETAINER_OPTIONAL = ("banked_hours_expire_after_months", "top_up_rate")
ALL_TERMS_FIELDS = {f for fields in TERMS_FIELDS.values() for f in fields} | {
    "monthly_budget_cap",
    "cap_behaviour",
    *RETAINER_OPTIONAL,
}
AT_LEAST_ONE = {"rounding_increment_minutes", "included_minutes"}
# The largest amount or duration a term holds (a PostgreSQL integer column).
LARGEST_TERMS_VALUE = 2**31 - 1
LABELS = {
    "flat_fee": "the fee per task",
    "hourly_rate": "the hourly rate",
    "rounding_increment_minutes": "the rounding increment",
    "minimum_minutes": "the minimum per task",
    "retainer_fee": "the monthly retainer fee",
    "included_minutes": "the hours included",
    "rollover_cap_minutes": "the rollover cap",
    "overage_rate": "the overage rate",
}


def _terms_values(pricing_model: str, values: dict) -> dict:
    """The terms a pricing model needs, complete and in range; other models' fields cleared."""
    if pricing_model not in TERMS_FIELDS:
        raise ApplicationError(
            "Choose a pricing model.",
            code="terms_pricing_invalid",
            extra={"field": "pricing_model"},
        )
    unknown = set(values) - ALL_TERMS_FIELDS
    if unknown:
        raise TypeError(f"unknown terms fields: {sorted(unknown)}")
    terms = {field: None for field in ALL_TERMS_FIELDS - {"cap_behaviour"}}
    for field in TERMS_FIELDS[pricing_model]:
        value = values.get(field)
        if value is None:
            raise ApplicationError(
                f"Enter {LABELS[field]}.", code="terms_incomplete", extra={"field": field}
            )
        if value < (1 if field in AT_LEAST_ONE else 0):
            raise ApplicationError(
                f"Enter a positive value for {LABELS[field]}.",
                code="terms_out_of_range",
                extra={"field": field},
            )
        terms[field] = value
    increment = terms["rounding_increment_minutes"]
    if increment is not None and increment > 240:
        raise ApplicationError(
            "Round to at most 4 hours.",
            code="terms_out_of_range",
            extra={"field": "rounding_increment_minutes"},
        )
    cap = values.get("monthly_budget_cap")
    if cap is not None and cap < 0:
        raise ApplicationError(
            "A budget cap cannot be negative.",
            code="terms_out_of_range",
            extra={"field": "monthly_budget_cap"},
        )
    for field in RETAINER_OPTIONAL:
        value = values.get(field) if pricing_model == PricingModel.RETAINER else None
        if value is not None and not 0 <= value <= (120 if "months" in field else 10**9):
            raise ApplicationError(
                "Enter a value in range.", code="terms_out_of_range", extra={"field": field}
            )
        terms[field] = value
    terms["monthly_budget_cap"] = cap
    for field, value in terms.items():
        # The columns' range on every database (SQLite would store more; PostgreSQL not).
        if isinstance(value, int) and value > LARGEST_TERMS_VALUE:
            raise ApplicationError(
                "Enter a smaller value.", code="terms_out_of_range", extra={"field": field}
            )
    terms["cap_behaviour"] = values.get("cap_behaviour") or "block"
    terms["pricing_model"] = pricing_model
    return terms


def contract_line_add(
    *,
    agency,
    actor,
    contract: ServiceContract,
    service: Service,
    pricing_model: str,
    effective_from: dt.datetime | None = None,
    **values,
) -> ContractLine:
    """Add a service to a contract with its terms. The service must be in this agency's
    catalogue and not already on the contract. On a live contract the line starts at
    `effective_from` (now if not given, never in the past)."""
    if contract.status == ContractStatus.ENDED:
        raise ApplicationError("An ended contract cannot change.", code="contract_ended")
    if service.agency_id != agency.pk or not service.is_active:
        raise ApplicationError(
            "Choose a service from the catalogue.",
            code="contract_line_service_invalid",
            extra={"field": "service"},
        )
    terms = _terms_values(pricing_model, values)
    starts = _terms_start(contract, effective_from)
    already = f"“{service.name}” is already on this contract; change its terms instead."
    with unique_or_error(already, code="contract_line_duplicate", field="service"):
        line = ContractLine.objects.create(agency=agency, contract=contract, service=service)
        ContractTerms.objects.create(
            agency=agency, line=line, effective_from=starts, created_by=actor, **terms
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="contract_line.added",
            target=line,
            service=service.pk,
            pricing_model=pricing_model,
        )
    return line


def contract_line_terms_change(
    *,
    agency,
    actor,
    line: ContractLine,
    pricing_model: str,
    effective_from: dt.datetime | None = None,
    **values,
) -> ContractTerms:
    """New terms for a line. On a draft the terms are simply replaced (no work was done
    under them). On a live contract a new version starts at `effective_from` (now or
    later), and work done before keeps the version it was done under."""
    contract = line.contract
    if contract.status == ContractStatus.ENDED or line.removed_at is not None:
        raise ApplicationError("These terms are history and cannot change.", code="contract_ended")
    terms = _terms_values(pricing_model, values)
    if contract.status == ContractStatus.DRAFT:
        with transaction.atomic():
            version = ContractTerms.objects.select_for_update().get(line=line)
            for name, value in terms.items():
                setattr(version, name, value)
            version.created_by = actor
            version.save()
            audit_record(
                agency=agency, actor=actor, action="contract_terms.replaced", target=version
            )
        return version
    starts = _terms_start(contract, effective_from)
    clash = "There is already a change of terms at that moment."
    with unique_or_error(clash, code="contract_terms_duplicate", field="effective_from"):
        version = ContractTerms.objects.create(
            agency=agency, line=line, effective_from=starts, created_by=actor, **terms
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="contract_terms.versioned",
            target=version,
            effective_from=starts.isoformat(),
        )
    return version


def contract_line_remove(*, agency, actor, line: ContractLine) -> None:
    """Take a service off a contract: deleted from a draft, closed (kept as history) on a
    live contract so work already done can still be billed under its terms."""
    contract = line.contract
    if contract.status == ContractStatus.ENDED:
        raise ApplicationError("An ended contract cannot change.", code="contract_ended")
    with transaction.atomic():
        audit_record(agency=agency, actor=actor, action="contract_line.removed", target=line)
        if contract.status == ContractStatus.DRAFT:
            line.delete()
        else:
            line.removed_at = timezone.now()
            line.save(update_fields=["removed_at"])


def _terms_start(contract: ServiceContract, effective_from: dt.datetime | None) -> dt.datetime:
    if contract.status == ContractStatus.DRAFT:
        return _contract_start(contract)
    now = timezone.now()
    if effective_from is None:
        return now
    if not date_in_range(effective_from):
        raise ApplicationError(
            date_range_message(),
            code="contract_terms_date_out_of_range",
            extra={"field": "effective_from"},
        )
    # A minute's grace for a form submitted with "now" a moment ago.
    if effective_from < now - dt.timedelta(minutes=1):
        raise ApplicationError(
            "New terms cannot start in the past: work already done keeps its terms.",
            code="contract_terms_in_past",
            extra={"field": "effective_from"},
        )
    return max(effective_from, now)


def service_category_create(*, agency, actor, name: str) -> ServiceCategory:
    """Add a kind of work beyond the common ones. Names (and their slugs) are unique."""
    name = name.strip()
    category = ServiceCategory(agency=agency, name=name, slug=slugify(name)[:50])
    if not category.slug:
        raise ApplicationError(
            "Give the category a name with letters or digits.",
            code="category_name_invalid",
            extra={"field": "name"},
        )
    clean_or_error(category)
    taken = f"There is already a category called “{name}”."
    with unique_or_error(taken, code="category_name_taken", field="name"):
        category.save()
        audit_record(agency=agency, actor=actor, action="category.created", target=category)
    return category
