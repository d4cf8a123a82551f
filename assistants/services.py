from django.db import transaction

from assistants.models import AssistantProfile, AssistantSkill
from assistants.schedule import default_working_hours, normalize_working_hours, working_hours_errors
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error
from core.roles import Role

DEFAULT_CAPACITY = 5
# What staff may change; an assistant may change only SELF_SERVICE_FIELDS of their own profile.
# The public-facing fields (bio, languages, specialisations) are the assistant's to write
# and staff's too.
PUBLIC_FIELDS = frozenset({"bio", "languages", "specialisations"})
STAFF_FIELDS = (
    frozenset(
        {
            "skills",
            "time_zone",
            "working_hours",
            "capacity",
            "pay_rate",
            "pay_currency",
            "is_active",
        }
    )
    | PUBLIC_FIELDS
)
SELF_SERVICE_FIELDS = frozenset({"time_zone", "working_hours"}) | PUBLIC_FIELDS


def assistant_profile_ensure(*, agency, membership, actor=None) -> AssistantProfile:
    """Give an assistant membership its profile, made with the agency's defaults.

    Idempotent: an existing profile is returned as it is (someone who comes back to the
    agency finds their skills and hours kept). Defaults: the agency's time zone and
    currency, Monday to Friday 09:00-17:00, capacity 5, no skills, pay rate 0.
    """
    if membership.agency_id != agency.pk:
        raise ApplicationError("Unknown membership.", code="assistant_membership_invalid")
    if membership.role != Role.ASSISTANT:
        raise ApplicationError(
            "Only assistants have an assistant profile.", code="assistant_membership_not_assistant"
        )
    with transaction.atomic():
        profile, created = AssistantProfile.objects.get_or_create(
            membership=membership,
            defaults={
                "agency": agency,
                "time_zone": agency.time_zone,
                "pay_currency": agency.default_currency,
                "working_hours": default_working_hours(),
                "capacity": DEFAULT_CAPACITY,
            },
        )
        if created:
            audit_record(
                agency=agency, actor=actor, action="assistant_profile.created", target=profile
            )
    return profile


def assistant_profile_update(*, agency, actor, profile: AssistantProfile, **fields):
    """Staff change an assistant's profile: any of STAFF_FIELDS.

    Every skill must be one of this agency's service categories; working hours must pass
    the rules in assistants.schedule; capacity is at least 1 and the pay rate (minor
    units) at least 0. Nothing is saved unless everything is valid; a real change writes
    one audit row listing each field's old and new value, and no change writes nothing.
    """
    unknown = set(fields) - STAFF_FIELDS
    if unknown:
        raise TypeError(f"assistant_profile_update() cannot change {sorted(unknown)}")
    return _apply(agency=agency, actor=actor, profile=profile, fields=fields)


def assistant_profile_update_own(*, agency, actor, profile: AssistantProfile, **fields):
    """An assistant changes their own time zone, working hours, bio, languages and
    specialisations, and nothing else.

    The profile must be the actor's own: skills, capacity, pay and the active flag are the
    agency's to set.
    """
    unknown = set(fields) - SELF_SERVICE_FIELDS
    if unknown:
        raise TypeError(f"assistant_profile_update_own() cannot change {sorted(unknown)}")
    if profile.membership.user_id != getattr(actor, "pk", None):
        raise ApplicationError(
            "You can only change your own profile.", code="assistant_profile_not_yours"
        )
    return _apply(agency=agency, actor=actor, profile=profile, fields=fields, self_service=True)


def _apply(*, agency, actor, profile, fields, self_service=False) -> AssistantProfile:
    if profile.agency_id != agency.pk:
        raise ApplicationError("Unknown assistant.", code="assistant_profile_invalid")
    fields = dict(fields)
    changes = {}

    skills = None
    if "skills" in fields:
        skills = list(fields.pop("skills") or [])
        if any(category.agency_id != agency.pk for category in skills):
            raise ApplicationError(
                "Choose skills from this agency's service categories.",
                code="assistant_skill_invalid",
                extra={"field": "skills"},
            )
        before = sorted(profile.skills.values_list("pk", flat=True))
        after = sorted({category.pk for category in skills})
        if before != after:
            changes["skills"] = [before, after]

    if "pay_currency" in fields:
        fields["pay_currency"] = str(fields["pay_currency"] or "").strip().upper()
    if "time_zone" in fields:
        fields["time_zone"] = str(fields["time_zone"] or "").strip()
    if "bio" in fields:
        fields["bio"] = str(fields["bio"] or "").strip()
    for name in ("languages", "specialisations"):
        if name in fields and isinstance(fields[name], (list, tuple)):
            fields[name] = list(dict.fromkeys(fields[name]))
    if "working_hours" in fields and not working_hours_errors(fields["working_hours"]):
        fields["working_hours"] = normalize_working_hours(fields["working_hours"])

    previous = {name: getattr(profile, name) for name in fields}
    for name, value in fields.items():
        setattr(profile, name, value)
    try:
        # Field rules live on the model (zone, currency, hours, capacity >= 1, pay >= 0).
        clean_or_error(profile, exclude=("agency", "membership"))
    except ApplicationError:
        for name, value in previous.items():
            setattr(profile, name, value)
        raise
    changes.update(
        {name: [previous[name], value] for name, value in fields.items() if previous[name] != value}
    )
    if not changes:
        return profile

    with transaction.atomic():
        profile.save(update_fields=[*(name for name in changes if name != "skills"), "updated_at"])
        if "skills" in changes:
            _set_skills(agency=agency, profile=profile, categories=skills)
        audit_record(
            agency=agency,
            actor=actor,
            action="assistant_profile.updated",
            target=profile,
            changes=changes,
            self_service=self_service,
        )
    return profile


def _set_skills(*, agency, profile, categories) -> None:
    wanted = {c.pk for c in categories}
    AssistantSkill.objects.filter(agency=agency, profile=profile).exclude(
        category_id__in=wanted
    ).delete()
    have = set(
        AssistantSkill.objects.filter(agency=agency, profile=profile).values_list(
            "category_id", flat=True
        )
    )
    AssistantSkill.objects.bulk_create(
        AssistantSkill(agency=agency, profile=profile, category_id=pk)
        for pk in sorted(wanted - have)
    )
    # A prefetched `skills` list on this instance would now be stale.
    getattr(profile, "_prefetched_objects_cache", {}).pop("skills", None)


def assistant_joined(*, agency, membership, actor) -> None:
    """An assistant who joins an agency has a profile from the start (accounts' hook)."""
    if membership.role == Role.ASSISTANT:
        assistant_profile_ensure(agency=agency, membership=membership, actor=actor)
