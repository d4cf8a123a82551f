"""Work samples on an assistant's profile: files and links clients may weigh.

Adding and removing them is the assistant's (their own) and staff's. Files are checked as
task attachments are (kind by name and by content, size) and stored privately; who may
open one is `work_sample_visible_to`.
"""

import mimetypes
import os

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q, QuerySet

from assistants.models import SAMPLE_TITLE_MAX_CHARS, AssistantProfile, WorkSample
from assistants.selectors import clients_workable_by
from clients.models import Client
from contracts.models import ContractAssistant
from core.audit import audit_record
from core.errors import ApplicationError, text_within
from core.file_types import upload_check
from core.roles import STAFF_ROLES, Role

# Most samples one profile may hold: a showcase, not a file store.
SAMPLES_PER_PROFILE = 20
LINK_MAX_CHARS = 500
link_validator = URLValidator(schemes=["http", "https"])


def may_edit_profile(*, membership, profile: AssistantProfile) -> bool:
    return membership.role in STAFF_ROLES or membership.pk == profile.membership_id


def _require_editor(*, agency, membership, profile) -> None:
    if profile.agency_id != agency.pk or membership.agency_id != agency.pk:
        raise ApplicationError("Unknown assistant.", code="assistant_profile_invalid")
    if not may_edit_profile(membership=membership, profile=profile):
        raise ApplicationError(
            "You can only change your own profile.", code="assistant_profile_not_yours"
        )


def sample_file_check(upload) -> None:
    """The same rules as a task's files (core.file_types.upload_check)."""
    upload_check(upload, verb="added")


def sample_link_clean(url: str) -> str:
    url = text_within(url, limit=LINK_MAX_CHARS, field="url", label="A link")
    try:
        link_validator(url)
    except ValidationError:
        raise ApplicationError(
            "Give a full web address starting with http:// or https://.",
            code="work_sample_link_invalid",
            extra={"field": "url"},
        ) from None
    return url


def work_sample_add(
    *, agency, actor, membership, profile: AssistantProfile, title: str, url: str = "", upload=None
) -> WorkSample:
    """Add a file or a link (exactly one) with a title to an assistant's profile. The file
    is stored under a random key before the transaction opens, and removed again if the
    row cannot be written."""
    _require_editor(agency=agency, membership=membership, profile=profile)
    title = text_within(title, limit=SAMPLE_TITLE_MAX_CHARS, field="title", label="A title")
    if not title:
        raise ApplicationError(
            "Give the sample a title.", code="work_sample_title_required", extra={"field": "title"}
        )
    url = (url or "").strip()
    if bool(url) == bool(upload):
        raise ApplicationError(
            "Add either a file or a link.", code="work_sample_file_or_link", extra={"field": "url"}
        )
    if WorkSample.objects.filter(agency=agency, profile=profile).count() >= SAMPLES_PER_PROFILE:
        raise ApplicationError(
            f"A profile holds at most {SAMPLES_PER_PROFILE} samples; remove one first.",
            code="work_sample_limit",
        )
    sample = WorkSample(agency=agency, profile=profile, title=title, added_by=actor)
    if url:
        sample.url = sample_link_clean(url)
    else:
        sample_file_check(upload)
        name = os.path.basename(upload.name)[:200]
        sample.name = name
        sample.size = upload.size
        sample.content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        sample.file.save(name, upload, save=False)
    try:
        with transaction.atomic():
            sample.save()
            audit_record(
                agency=agency,
                actor=actor,
                action="assistant_profile.sample_added",
                target=profile,
                sample=sample.pk,
                kind="file" if sample.file else "link",
            )
    except BaseException:
        if sample.file:
            sample.file.delete(save=False)
        raise
    return sample


def work_sample_delete(*, agency, actor, membership, sample: WorkSample) -> None:
    """Remove a sample; its stored file goes once the row is gone for good."""
    profile = sample.profile
    _require_editor(agency=agency, membership=membership, profile=profile)
    stored = sample.file.name if sample.file else ""
    storage = sample.file.storage
    with transaction.atomic():
        audit_record(
            agency=agency,
            actor=actor,
            action="assistant_profile.sample_removed",
            target=profile,
            sample=sample.pk,
        )
        sample.delete()
        if stored:
            transaction.on_commit(lambda: storage.delete(stored))


# -- reads -------------------------------------------------------------------------------


def clients_shown_to(*, agency, profile: AssistantProfile):
    """The clients whose members may see an assistant's samples: those the assistant works
    for (the manual rule), and those of contracts that name them, proposals included."""
    workable = clients_workable_by(agency=agency, membership=profile.membership).values("pk")
    named = ContractAssistant.objects.filter(
        agency=agency, membership_id=profile.membership_id
    ).values("contract__client")
    return Q(pk__in=workable) | Q(pk__in=named)


def profile_visible_to(*, agency, membership, profile: AssistantProfile) -> bool:
    if membership.role in STAFF_ROLES or membership.pk == profile.membership_id:
        return True
    if membership.role != Role.CLIENT or membership.client_id is None:
        return False
    return (
        Client.objects.filter(agency=agency, pk=membership.client_id)
        .filter(clients_shown_to(agency=agency, profile=profile))
        .exists()
    )


def work_samples_of(*, agency, profile: AssistantProfile) -> QuerySet[WorkSample]:
    return WorkSample.objects.filter(agency=agency, profile=profile).order_by("created_at", "pk")


def work_sample_get(*, agency, pk) -> WorkSample | None:
    return (
        WorkSample.objects.filter(agency=agency, pk=pk)
        .select_related("profile__membership")
        .first()
    )


def work_sample_download(sample: WorkSample):
    """The stored file under its original name; callers checked who may see it."""
    from django.http import FileResponse, Http404

    if not sample.file:
        raise Http404("This sample is a link.")
    try:
        handle = sample.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    return FileResponse(
        handle, as_attachment=True, filename=sample.name, content_type=sample.content_type
    )
