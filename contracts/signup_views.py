"""Sign-up from the agency's public page: /p/<slug>/plans/<id>/sign-up/ and the page the
confirmation link leads back to.

Unlike the rest of the public page these answer per person (a signed-in user signs their
company up without a new account), so they are never cached. They read the agency's rows
inside its scope, as the public page does; an unknown slug, an unpublished page and
another agency's or an unpublished plan are the same 404.
"""

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import SignupForm
from allauth.account.internal.flows.email_verification import send_verification_email_for_user
from allauth.account.internal.flows.signup import complete_signup
from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from contracts import public_page
from contracts.plans import PlanStatus, plan_list, plan_monthly_fee
from contracts.signup import PlanSignup, plan_signup_complete, plan_signup_create
from contracts.signup_forms import SignupCompanyForm
from core.errors import ApplicationError
from core.forms import add_application_error
from core.tenancy import agency_scope


def _brand(agency, page) -> dict:
    colour = page.brand_colour
    return {
        "agency": agency,
        "page": page,
        "brand": colour,
        "on_brand": public_page.text_colour_on(colour),
        "accent": public_page.accent_on_white(colour),
        "logo_version": public_page.logo_version(page) if page.logo else "",
    }


def _verified(user) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def _landing(request, signup: PlanSignup):
    """Where a completed sign-up's person starts: the card page when the plan charges a
    card on file (their contract cannot collect without one), else their dashboard."""
    agency = signup.agency
    request.session["agency_slug"] = agency.slug
    if signup.needs_card:
        messages.success(
            request, f"Welcome to {agency.name}. Add a card: this plan charges the card on file."
        )
        return redirect("our_invoices", agency_slug=agency.slug)
    messages.success(request, f"Welcome to {agency.name}.")
    return redirect("dashboard", agency_slug=agency.slug)


@method_decorator(never_cache, name="dispatch")
class PlanSignupView(View):
    template_name = "public/signup.html"
    http_method_names = ["get", "post"]

    def dispatch(self, request, agency, plan_id):
        found = public_page.agency_for_slug(agency)
        if found is None:
            raise Http404("No such page.")
        with agency_scope(found):
            page = public_page.published_page(agency=found)
            if page is None:
                raise Http404("No such page.")
            plan = plan_list(agency=found, status=PlanStatus.PUBLISHED).filter(pk=plan_id).first()
            if plan is None:
                raise Http404("No such plan.")
            plan.monthly_fee = plan_monthly_fee(plan)
            self.agency, self.page, self.plan = found, page, plan
            return super().dispatch(request)

    def signed_in(self) -> bool:
        return self.request.user.is_authenticated

    def get(self, request):
        company = SignupCompanyForm(plan=self.plan, prefix="company")
        account = None if self.signed_in() else SignupForm(prefix="account")
        return self.render(company, account)

    def post(self, request):
        company = SignupCompanyForm(request.POST, plan=self.plan, prefix="company")
        if self.signed_in():
            if not company.is_valid():
                return self.render(company, None, status=400)
            return self.for_signed_in(company)
        account = SignupForm(request.POST, prefix="account")
        if not get_adapter(request).is_open_for_signup(request):
            company.add_error(None, "Sign-up is closed. Write to the agency instead.")
            return self.render(company, account, status=400)
        valid = company.is_valid()
        if not (account.is_valid() and valid):
            return self.render(company, account, status=400)
        try:
            with transaction.atomic():
                user, response = account.try_save(request)
                if response is not None:
                    # the address has an account already: allauth tells its owner by
                    # e-mail and answers as for a new one, so nobody learns who signs up
                    return response
                signup = self.record(user, company.cleaned_data)
        except ApplicationError as error:
            add_application_error(company, error)
            return self.render(company, account, status=400)
        done = reverse("public_signup_done", kwargs={"agency": self.agency.slug, "key": signup.key})
        return complete_signup(
            request,
            user=user,
            email_verification=allauth_settings.EMAIL_VERIFICATION,
            redirect_url=done,
        )

    def for_signed_in(self, company):
        user = self.request.user
        try:
            signup = self.record(user, company.cleaned_data)
            if not _verified(user):
                send_verification_email_for_user(self.request, user)
                return render(
                    self.request,
                    "public/signup_pending.html",
                    {**_brand(self.agency, self.page), "signup": signup, "email": user.email},
                )
            signup = plan_signup_complete(signup=signup)
        except ApplicationError as error:
            add_application_error(company, error)
            return self.render(company, None, status=400)
        return _landing(self.request, signup)

    def record(self, user, data) -> PlanSignup:
        return plan_signup_create(
            agency=self.agency,
            user=user,
            plan=self.plan,
            key=data["key"],
            company_name=data["name"],
            time_zone=data["time_zone"],
            currency=data["currency"],
        )

    def render(self, company, account, status=200):
        context = {
            **_brand(self.agency, self.page),
            "plan": self.plan,
            "company_form": company,
            "account_form": account,
            "login_url": reverse("account_login") + f"?next={self.request.path}",
        }
        return render(self.request, self.template_name, context, status=status)


@method_decorator(never_cache, name="dispatch")
class PlanSignupDoneView(View):
    """Where the confirmation link leads back to: the sign-up carried out (if confirming
    did not already), then the person's first page in the agency."""

    http_method_names = ["get"]

    def get(self, request, agency, key):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        found = public_page.agency_for_slug(agency)
        if found is None:
            raise Http404("No such sign-up.")
        with agency_scope(found):
            signup = (
                PlanSignup.objects.filter(agency=found, key=key, user=request.user)
                .select_related("agency", "plan", "user")
                .first()
            )
            if signup is None:
                raise Http404("No such sign-up.")
            try:
                signup = plan_signup_complete(signup=signup)
            except ApplicationError as error:
                page = public_page.public_page_get(agency=found)
                return render(
                    request,
                    "public/signup_pending.html",
                    {**_brand(found, page), "signup": signup, "error": error.message},
                    status=400 if error.code != "signup_email_unconfirmed" else 200,
                )
            return _landing(request, signup)
