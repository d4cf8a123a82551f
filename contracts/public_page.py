"""The agency's public page: who it is (name, logo, colour, pitch), the services it chooses
to show with a public price and turnaround, and its published plans.

Everything here is what the agency decided to show strangers: nothing is read from
clients, assistants, contracts or internal rates. The page is stored in its own table (one
row per agency), so turning it off hides the page and its logo at once.
"""

import hashlib
import os
import re
import uuid

from django.core.validators import RegexValidator
from django.db import models, transaction

from accounts.models import Agency
from contracts.models import Service
from contracts.plans import LARGEST_VALUE, Plan, PlanStatus, plan_list
from core.audit import audit_record
from core.errors import ApplicationError, clean_or_error, text_within
from core.file_types import content_matches_extension
from core.models import TenantModel

PITCH_MAX = 2000
TURNAROUND_MAX = 80
LOGO_MAX_BYTES = 1024 * 1024
# Raster images only: an SVG can carry scripts, and the logo is shown to anyone.
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#1f4e79"


def logo_path(page, filename: str) -> str:
    # Never the uploader's name: a random key in the agency's public folder.
    return f"public/{page.agency_id}/{uuid.uuid4().hex}"


class AgencyPublicPage(TenantModel):
    """What one agency shows at /p/<slug>/, and whether it shows it at all."""

    is_published = models.BooleanField(default=False)
    logo = models.FileField(upload_to=logo_path, max_length=200, blank=True)
    logo_content_type = models.CharField(max_length=40, blank=True)
    brand_colour = models.CharField(
        max_length=7,
        default=DEFAULT_COLOUR,
        validators=[RegexValidator(HEX_COLOUR, "Use a colour like #1f4e79.")],
    )
    pitch = models.TextField(blank=True, max_length=PITCH_MAX)
    contact_email = models.EmailField(blank=True)
    # A business that signs up online gets its contract at once, or as a draft that staff
    # activate after a look (the safer default for a page that has only taken e-mails).
    signups_need_approval = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "contracts"
        constraints = [
            models.UniqueConstraint(fields=["agency"], name="public_page_one_per_agency"),
        ]

    def __str__(self) -> str:
        return f"public page of {self.agency_id}"


class PublicPrice(models.TextChoices):
    FLAT = "flat", "Per task"
    HOURLY = "hourly", "Per hour"
    PLAN = "plan", "As in a plan"
    ON_REQUEST = "on_request", "On request"


class ListedService(TenantModel):
    """A catalogue service shown on the public page, with the price strangers see: a fee
    per task, an hourly price, one of the agency's plans, or "on request"."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    price_kind = models.CharField(
        max_length=16, choices=PublicPrice.choices, default=PublicPrice.ON_REQUEST
    )
    price = models.PositiveIntegerField(null=True, blank=True)
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    turnaround = models.CharField(max_length=TURNAROUND_MAX, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "contracts"
        constraints = [
            models.UniqueConstraint(fields=["agency", "service"], name="listed_service_once"),
        ]

    def __str__(self) -> str:
        return f"listed {self.service_id}"


# -- colour -------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = []
    for index in (1, 3, 5):
        value = int(colour[index : index + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(colour: str) -> str:
    """White or black, whichever reads better on the brand colour: any colour has
    one of them at 4.5:1 or more, so the header's text is always readable."""
    light, dark = "#ffffff", "#000000"
    return light if contrast_ratio(colour, light) >= contrast_ratio(colour, dark) else dark


def accent_on_white(colour: str) -> str:
    """The brand colour for links and headings on the white page, or the house colour when
    it is too pale to read there (under 4.5:1)."""
    return colour if contrast_ratio(colour, "#ffffff") >= 4.5 else DEFAULT_COLOUR


# -- logo ---------------------------------------------------------------------------------


def logo_check(upload) -> str:
    """Refuse a logo that is not a PNG, JPEG or WebP image by its name and its content, or
    is over LOGO_MAX_BYTES. Returns its content type."""
    extension = os.path.splitext(upload.name or "")[1].lower().lstrip(".")
    if extension not in LOGO_TYPES:
        raise ApplicationError(
            "The logo must be a PNG, JPEG or WebP image.",
            code="logo_type_refused",
            extra={"field": "logo"},
        )
    if upload.size > LOGO_MAX_BYTES:
        raise ApplicationError(
            f"The logo may be at most {LOGO_MAX_BYTES // 1024} KB.",
            code="logo_too_large",
            extra={"field": "logo"},
        )
    if not content_matches_extension(upload, extension):
        raise ApplicationError(
            f"This file's content is not that of a .{extension} image.",
            code="logo_content_mismatch",
            extra={"field": "logo"},
        )
    return LOGO_TYPES[extension]


# -- services -----------------------------------------------------------------------------

PAGE_FIELDS = ("is_published", "brand_colour", "pitch", "contact_email", "signups_need_approval")


def public_page_get(*, agency) -> AgencyPublicPage:
    """The agency's page settings, unsaved defaults if it never had any."""
    page = AgencyPublicPage.objects.filter(agency=agency).first()
    return page or AgencyPublicPage(agency=agency)


def public_page_update(
    *, agency, actor, logo=None, remove_logo: bool = False, **fields
) -> AgencyPublicPage:
    """Change the page. The colour is a #rrggbb hex colour, the pitch Markdown of at most
    PITCH_MAX characters (sanitised when shown), the logo a checked image (logo_check).
    Publishing needs a contact e-mail, since visitors who choose a plan are sent to it.
    A replaced or removed logo's file is deleted once the change is saved."""
    unknown = set(fields) - set(PAGE_FIELDS)
    if unknown:
        raise TypeError(f"unknown public page fields: {sorted(unknown)}")
    content_type = logo_check(logo) if logo is not None else None
    page = public_page_get(agency=agency)
    old_logo = page.logo.name if page.logo else ""
    for name, value in fields.items():
        setattr(page, name, value)
    page.brand_colour = (page.brand_colour or "").strip().lower()
    if not HEX_COLOUR.match(page.brand_colour):
        raise ApplicationError(
            "Use a colour like #1f4e79.", code="colour_invalid", extra={"field": "brand_colour"}
        )
    page.pitch = text_within(page.pitch, limit=PITCH_MAX, field="pitch", label="The pitch")
    page.contact_email = (page.contact_email or "").strip()
    if page.is_published and not page.contact_email:
        raise ApplicationError(
            "Give a contact e-mail before publishing: visitors who choose a plan write to it.",
            code="public_page_contact_required",
            extra={"field": "contact_email"},
        )
    clean_or_error(page, exclude=("logo",))
    stored = None
    if logo is not None:
        page.logo_content_type = content_type
        page.logo.save(logo.name, logo, save=False)
        stored = page.logo.name
    elif remove_logo:
        page.logo = ""
        page.logo_content_type = ""
    try:
        with transaction.atomic():
            page.save()
            audit_record(
                agency=agency,
                actor=actor,
                action="public_page.updated",
                target=page,
                fields=sorted(fields),
                logo="replaced" if stored else "removed" if remove_logo else "kept",
            )
    except BaseException:
        if stored:
            page.logo.storage.delete(stored)
        raise
    if old_logo and old_logo != (page.logo.name or ""):
        transaction.on_commit(lambda: page.logo.storage.delete(old_logo))
    return page


def listed_services_set(*, agency, actor, rows: list[dict]) -> list[ListedService]:
    """Say which services the page lists and at what price. Each row names a catalogue
    service by `service_id` (active, of this agency), whether it is `listed`, and its price:
    a fee per task or an hourly price needs an amount; "as in a plan" needs a `plan_id` of
    one of the agency's plans that is not archived. Services not listed are taken off."""
    service_ids = [row["service_id"] for row in rows]
    known = {
        s.pk: s for s in Service.objects.filter(agency=agency, pk__in=service_ids, is_active=True)
    }
    plan_ids = {row["plan_id"] for row in rows if row.get("plan_id") is not None}
    plans = {
        p.pk: p
        for p in Plan.objects.filter(agency=agency, pk__in=plan_ids).exclude(
            status=PlanStatus.ARCHIVED
        )
    }
    wanted, seen = [], set()
    for index, row in enumerate(rows):
        if not row.get("listed"):
            continue
        service = known.get(row["service_id"])
        if service is None or service.pk in seen:
            raise ApplicationError(
                "Choose services from the catalogue.",
                code="listed_service_invalid",
                extra={"field": "service_id", "row": index},
            )
        kind = row.get("price_kind") or PublicPrice.ON_REQUEST
        price, plan = row.get("price"), plans.get(row.get("plan_id"))
        if kind not in PublicPrice.values:
            raise ApplicationError(
                "Choose how the price is shown.",
                code="listed_price_invalid",
                extra={"field": "price_kind", "row": index},
            )
        if price is not None and not 0 <= price <= LARGEST_VALUE:
            raise ApplicationError(
                "Enter a smaller price.",
                code="listed_price_out_of_range",
                extra={"field": "price", "row": index},
            )
        if kind in (PublicPrice.FLAT, PublicPrice.HOURLY) and price is None:
            raise ApplicationError(
                f"Enter the public price of {service.name}.",
                code="listed_price_required",
                extra={"field": "price", "row": index},
            )
        if kind == PublicPrice.PLAN and plan is None:
            raise ApplicationError(
                f"Choose the plan {service.name} is sold in.",
                code="listed_plan_required",
                extra={"field": "plan_id", "row": index},
            )
        seen.add(service.pk)
        listed = ListedService(
            agency=agency,
            service=service,
            price_kind=kind,
            price=price if kind in (PublicPrice.FLAT, PublicPrice.HOURLY) else None,
            plan=plan if kind == PublicPrice.PLAN else None,
        )
        try:
            listed.turnaround = text_within(
                row.get("turnaround"),
                limit=TURNAROUND_MAX,
                field="turnaround",
                label="A turnaround",
            )
            clean_or_error(listed, exclude=("service", "plan"))
        except ApplicationError as error:
            error.extra["row"] = index
            raise
        wanted.append(listed)
    with transaction.atomic():
        ListedService.objects.filter(agency=agency).delete()
        ListedService.objects.bulk_create(wanted)
        page = public_page_get(agency=agency)
        if page.pk is None:
            page.save()
        else:
            page.save(update_fields=["updated_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="public_page.services_listed",
            target=page,
            services=[listed.service_id for listed in wanted],
        )
    return wanted


# -- what strangers see -------------------------------------------------------------------


def agency_for_slug(slug: str) -> Agency | None:
    """The agency a public URL names, or None. The agency row is not a tenant row; its page
    and offer are read afterwards inside its scope, so row-level security holds there."""
    return Agency.objects.filter(slug=slug).first()


def published_page(*, agency) -> AgencyPublicPage | None:
    """The agency's page if it is published: an unpublished page is no page at all."""
    return AgencyPublicPage.objects.filter(agency=agency, is_published=True).first()


def turnaround_text(listed: ListedService) -> str:
    if listed.turnaround:
        return listed.turnaround
    hours = listed.service.default_turnaround_hours
    if hours % 24 == 0:
        days = hours // 24
        return f"Within {days} day{'s' if days != 1 else ''}"
    return f"Within {hours} hour{'s' if hours != 1 else ''}"


def public_offer(*, agency, page: AgencyPublicPage) -> dict:
    """What the page shows, read in a constant number of queries: listed services grouped
    by category (active ones only), and published plans with their lines. Call inside the
    agency's scope."""
    listed = list(
        ListedService.objects.filter(agency=agency, service__is_active=True)
        .select_related("service__category", "plan")
        .order_by("service__category__name", "service__name")
    )
    groups: list[dict] = []
    for item in listed:
        if item.price_kind == PublicPrice.PLAN and (
            item.plan is None or item.plan.status != PlanStatus.PUBLISHED
        ):
            # a plan taken off the page no longer prices anything there
            item.price_kind = PublicPrice.ON_REQUEST
        item.turnaround_shown = turnaround_text(item)
        category = item.service.category
        if not groups or groups[-1]["category"].pk != category.pk:
            groups.append({"category": category, "services": []})
        groups[-1]["services"].append(item)
    plans = list(plan_list(agency=agency, status=PlanStatus.PUBLISHED))
    return {"groups": groups, "plans": plans}


def offer_fingerprint(*, agency, page: AgencyPublicPage, offer: dict) -> str:
    """An ETag for exactly what the page shows: it changes with the page's settings, a
    listing, a plan, and also with an edit in the catalogue (a renamed service), which
    does not touch the page's own row."""
    parts = [
        agency.name,
        agency.default_currency,
        page.updated_at.isoformat(),
        page.logo.name or "",
    ]
    for group in offer["groups"]:
        parts.append(group["category"].name)
        for item in group["services"]:
            service = item.service
            parts += [
                service.pk,
                service.name,
                service.description,
                item.price_kind,
                item.price,
                item.plan.name if item.plan else "",
                item.turnaround_shown,
            ]
    for plan in offer["plans"]:
        parts += [plan.pk, plan.updated_at.isoformat()]
        for line in plan.lines.all():
            parts += [line.pk, line.service.name]
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def logo_version(page: AgencyPublicPage) -> str:
    """Part of the logo's URL, so a new logo is a new URL and browsers may keep the old
    one for long."""
    return hashlib.sha256((page.logo.name or "").encode()).hexdigest()[:12]
