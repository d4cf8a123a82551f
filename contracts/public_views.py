"""The agency's public page at /p/<slug>/ (no sign-in), and its settings for staff.

Public views take the slug under `agency`, not `agency_slug`: no membership guards them.
They look the agency up, then read everything inside its scope, so the tenant tables are
fenced (django-scopes, and row-level security on PostgreSQL) as a member's request is. An
unknown slug and an unpublished page are the same 404 a stranger gets inside the app.
They never touch the session or the signed-in user, so their answers are the same for
everyone and a shared cache may keep them (sign-up, mounted here from
contracts.signup_views, is the exception: it answers per person and is never cached).
"""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views import View
from django.views.decorators.http import require_safe

from accounts.access import StaffViewMixin
from contracts import public_page, signup_views
from contracts.models import Service
from contracts.plan_forms import ListedServiceFormSet, PublicPageForm
from contracts.plans import PlanStatus, plan_list, plan_monthly_fee
from core.errors import ApplicationError
from core.forms import add_application_error
from core.rich_text import render_markdown
from core.tenancy import agency_scope
from core.views import ServiceFormView

# How long browsers and shared caches may keep the page before asking again (with its
# ETag, so an unchanged page costs a 304).
PAGE_MAX_AGE = 300
LOGO_MAX_AGE = 7 * 24 * 3600  # the logo's URL changes with the logo


def _published(slug: str):
    agency = public_page.agency_for_slug(slug)
    if agency is None:
        raise Http404("No such page.")
    return agency


def _cacheable(response, max_age: int):
    patch_cache_control(response, public=True, max_age=max_age)
    return response


@require_safe
def public_page_view(request, agency):
    found = _published(agency)
    with agency_scope(found):
        page = public_page.published_page(agency=found)
        if page is None:
            raise Http404("No such page.")
        offer = public_page.public_offer(agency=found, page=page)
        etag = public_page.offer_fingerprint(agency=found, page=page, offer=offer)
        unchanged = get_conditional_response(request, etag=etag)
        if unchanged is not None:
            unchanged["ETag"] = etag
            return _cacheable(unchanged, PAGE_MAX_AGE)
        for plan in offer["plans"]:
            plan.monthly_fee = plan_monthly_fee(plan)
        colour = page.brand_colour
        response = TemplateResponse(
            request,
            "public/agency_page.html",
            {
                "agency": found,
                "page": page,
                "pitch": render_markdown(page.pitch),
                "groups": offer["groups"],
                "plans": offer["plans"],
                "brand": colour,
                "on_brand": public_page.text_colour_on(colour),
                "accent": public_page.accent_on_white(colour),
                "logo_version": public_page.logo_version(page) if page.logo else "",
            },
        )
        response.render()
    response["ETag"] = etag
    return _cacheable(response, PAGE_MAX_AGE)


@require_safe
def public_plan_view(request, agency, plan_id):
    """One plan on its own page: its terms, the way to sign up for it, and the agency's
    address for questions."""
    found = _published(agency)
    with agency_scope(found):
        page = public_page.published_page(agency=found)
        if page is None:
            raise Http404("No such page.")
        plan = plan_list(agency=found, status=PlanStatus.PUBLISHED).filter(pk=plan_id).first()
        if plan is None:
            raise Http404("No such plan.")
        plan.monthly_fee = plan_monthly_fee(plan)
        colour = page.brand_colour
        response = TemplateResponse(
            request,
            "public/choose_plan.html",
            {
                "agency": found,
                "page": page,
                "plan": plan,
                "brand": colour,
                "on_brand": public_page.text_colour_on(colour),
                "accent": public_page.accent_on_white(colour),
                "logo_version": public_page.logo_version(page) if page.logo else "",
            },
        )
        response.render()
    return _cacheable(response, PAGE_MAX_AGE)


@require_safe
def public_logo_view(request, agency, version):
    """The logo of a published page, from the app's storage (never a public bucket)."""
    found = _published(agency)
    with agency_scope(found):
        page = public_page.published_page(agency=found)
    if page is None or not page.logo or version != public_page.logo_version(page):
        raise Http404("No such logo.")
    try:
        handle = page.logo.open("rb")
    except FileNotFoundError:
        raise Http404("The logo is missing.") from None
    response = FileResponse(handle, content_type=page.logo_content_type or "image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return _cacheable(response, LOGO_MAX_AGE)


urlpatterns = [
    path("p/<slug:agency>/", public_page_view, name="public_page"),
    path("p/<slug:agency>/plans/<int:plan_id>/", public_plan_view, name="public_plan"),
    path("p/<slug:agency>/logo/<str:version>/", public_logo_view, name="public_logo"),
    path(
        "p/<slug:agency>/plans/<int:plan_id>/sign-up/",
        signup_views.PlanSignupView.as_view(),
        name="public_signup",
    ),
    path(
        "p/<slug:agency>/sign-up/<uuid:key>/",
        signup_views.PlanSignupDoneView.as_view(),
        name="public_signup_done",
    ),
]


# -- settings (staff) ---------------------------------------------------------------------


class PublicPageSettingsView(StaffViewMixin, ServiceFormView):
    form_class = PublicPageForm
    template_name = "public/settings.html"
    title = "Public page"
    submit_label = "Save"

    def get_page(self):
        if not hasattr(self, "_page"):
            self._page = public_page.public_page_get(agency=self.agency)
        return self._page

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "has_logo": bool(self.get_page().logo)}

    def get_initial(self):
        page = self.get_page()
        return {name: getattr(page, name) for name in public_page.PAGE_FIELDS}

    def get_context_data(self, **kwargs):
        page = self.get_page()
        return super().get_context_data(
            page=page,
            public_url=self.request.build_absolute_uri(f"/p/{self.agency.slug}/"),
            logo_version=public_page.logo_version(page) if page.logo else "",
            **kwargs,
        )

    def perform(self, data):
        return public_page.public_page_update(
            agency=self.agency,
            actor=self.request.user,
            logo=data.pop("logo", None) or None,
            remove_logo=data.pop("remove_logo", False),
            **data,
        )

    def succeeded(self, page):
        state = "published" if page.is_published else "not published"
        messages.success(self.request, f"Public page saved; it is {state}.")
        return redirect("public_page_settings", agency_slug=self.agency.slug)


class PublicServicesView(StaffViewMixin, View):
    """Which catalogue services the public page lists, with the price and turnaround shown."""

    template_name = "public/services_form.html"

    def services(self):
        return list(
            Service.objects.filter(agency=self.agency, is_active=True)
            .select_related("category")
            .order_by("category__name", "name")
        )

    def get(self, request, **kwargs):
        services = self.services()
        listed = {
            item.service_id: item
            for item in public_page.ListedService.objects.filter(agency=self.agency)
        }
        initial = []
        for service in services:
            item = listed.get(service.pk)
            initial.append(
                {
                    "service_id": service.pk,
                    "listed": item is not None,
                    "price_kind": item.price_kind
                    if item
                    else public_page.PublicPrice.FLAT
                    if service.default_pricing_model == "flat"
                    else public_page.PublicPrice.HOURLY,
                    "price": item.price if item else service.default_price,
                    "plan_id": item.plan_id if item else None,
                    "turnaround": item.turnaround if item else "",
                }
            )
        formset = ListedServiceFormSet(initial=initial, agency=self.agency, prefix="services")
        return self.render(services, formset)

    def post(self, request, **kwargs):
        services = self.services()
        formset = ListedServiceFormSet(request.POST, agency=self.agency, prefix="services")
        if formset.is_valid():
            rows = [form.cleaned_data for form in formset.forms if form.cleaned_data]
            try:
                public_page.listed_services_set(agency=self.agency, actor=request.user, rows=rows)
            except ApplicationError as error:
                index = error.extra.get("row")
                if index is not None and index < len(formset.forms):
                    add_application_error(formset.forms[index], error)
                else:
                    messages.error(request, error.message)
            else:
                messages.success(request, "The public page's services are saved.")
                return redirect("public_page_services", agency_slug=self.agency.slug)
        return self.render(services, formset)

    def render(self, services, formset):
        by_id = {service.pk: service for service in services}
        rows = []
        for form in formset.forms:
            raw = form["service_id"].value()
            service = by_id.get(int(raw)) if str(raw or "").isdigit() else None
            rows.append((service, form))
        return render(
            self.request,
            self.template_name,
            self.get_context_data(rows=rows, formset=formset),
        )


# Pages inside one agency, mounted under /a/<agency_slug>/ (contracts.urls).
agency_urlpatterns = [
    path("settings/public-page/", PublicPageSettingsView.as_view(), name="public_page_settings"),
    path(
        "settings/public-page/services/",
        PublicServicesView.as_view(),
        name="public_page_services",
    ),
]
