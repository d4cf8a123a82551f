"""What clients weigh about an assistant: bio, languages, specialisations and work samples
(assistants.samples), edited by the assistant and by staff, on the pages and the API; who
may open a sample's file; the rating summary on the staff list and the profile page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from assistants.models import AssistantProfile, WorkSample
from contracts.models import ContractAssistant
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.assistants.test_pages import hours_post
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def pdf(name="sample.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def page(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def api_url(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def fresh(profile):
    with scopes_disabled():
        return AssistantProfile.objects.get(pk=profile.pk)


def samples_of(profile):
    with scopes_disabled():
        return list(WorkSample.objects.filter(profile=profile).order_by("pk"))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def w(agency, member):
    """Dee, dedicated to Acme's active contract and named on Bolt's draft (a proposal);
    Cody, another assistant; a member of Acme, of Bolt and of an unrelated client; staff."""
    category = CategoryFactory(agency=agency)
    dee = AssistantProfileFactory(agency=agency)
    acme, bolt, other = (ClientFactory(agency=agency) for _ in range(3))
    active = ContractFactory(agency=agency, client=acme, status="active")
    LineFactory(
        agency=agency, contract=active, service=ServiceFactory(agency=agency, category=category)
    )
    draft = ContractFactory(agency=agency, client=bolt, status="draft")
    with agency_scope(agency):
        for contract in (active, draft):
            ContractAssistant.objects.create(
                agency=agency, contract=contract, membership=dee.membership
            )
    return {
        "dee": dee,
        "cody": AssistantProfileFactory(agency=agency),
        "acme_person": MembershipFactory(agency=agency, role=Role.CLIENT, client=acme),
        "bolt_person": MembershipFactory(agency=agency, role=Role.CLIENT, client=bolt),
        "other_person": MembershipFactory(agency=agency, role=Role.CLIENT, client=other),
        "admin": member(Role.ADMIN),
    }


def own_post(**overrides):
    data = {"time_zone": "Europe/Lisbon", **hours_post(mon=[("09:00", "17:00")])}
    data.update(overrides)
    return data


# -- the profile fields ----------------------------------------------------------------------


def test_the_assistant_edits_their_own_public_profile(agency, w, signed_in):
    http = signed_in(w["dee"].membership.user)
    url = page(agency, "my_assistant_profile")
    html = http.get(url).content.decode()
    assert 'name="bio"' in html and 'name="languages"' in html and "Real estate" in html
    response = http.post(
        url,
        own_post(
            bio="  Ten years in property admin. ",
            languages=["en", "tl"],
            specialisations=["real_estate", "bookkeeping"],
        ),
    )
    assert response.status_code == 302
    profile = fresh(w["dee"])
    assert profile.bio == "Ten years in property admin."
    assert profile.languages == ["en", "tl"]
    assert profile.specialisations == ["real_estate", "bookkeeping"]
    assert profile.language_names == ["English", "Tagalog"]
    with scopes_disabled():
        audited = AuditEvent.objects.filter(action="assistant_profile.updated").last()
    assert "bio" in audited.details["changes"] and audited.details["self_service"] is True


def test_staff_edit_an_assistants_public_profile(agency, w, signed_in):
    from tests.assistants.test_pages import profile_post

    http = signed_in(w["admin"].user)
    url = page(agency, "assistant_edit", pk=w["dee"].pk)
    assert 'data-testid="public-profile"' in http.get(url).content.decode()
    response = http.post(
        url, profile_post(bio="Careful.", languages=["es"], specialisations=["legal"])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    profile = fresh(w["dee"])
    assert (profile.bio, profile.languages, profile.specialisations) == (
        "Careful.",
        ["es"],
        ["legal"],
    )


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("languages", ["xx"], "Select a valid choice"),
        ("specialisations", ["plumbing"], "Select a valid choice"),
        ("bio", "x" * 1001, "at most 1000 characters"),
    ],
)
def test_bad_profile_input_is_a_form_error(agency, w, signed_in, field, value, says):
    http = signed_in(w["dee"].membership.user)
    response = http.post(page(agency, "my_assistant_profile"), own_post(**{field: value}))
    assert response.status_code == 200 and says in response.content.decode()
    assert fresh(w["dee"]).bio == ""


def test_the_model_refuses_unknown_codes_too(agency, w):
    from assistants import services
    from core.errors import ApplicationError

    with agency_scope(agency), pytest.raises(ApplicationError):
        services.assistant_profile_update(
            agency=agency, actor=w["admin"].user, profile=w["dee"], languages=["english"]
        )


def test_the_api_reads_and_writes_the_profile_fields(agency, w, api):
    mine = api(w["dee"].membership.user)
    response = mine.patch(
        api_url(agency, "me-assistant-profile"),
        {"bio": "Hi", "languages": ["fr"], "specialisations": ["medical"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["bio"], body["languages"], body["specialisations"]) == ("Hi", ["fr"], ["medical"])
    assert body["rating_count"] == 0 and body["rating_average"] is None
    staff = api(w["admin"].user)
    response = staff.patch(
        api_url(agency, "assistant-detail", pk=w["dee"].pk), {"bio": "Edited"}, format="json"
    )
    assert response.status_code == 200 and response.json()["bio"] == "Edited"


@pytest.mark.parametrize(
    "body",
    [{"languages": ["zz"]}, {"specialisations": ["astrology"]}, {"bio": "x" * 1001}],
)
def test_bad_profile_input_on_the_api_is_a_400(agency, w, api, body):
    response = api(w["dee"].membership.user).patch(
        api_url(agency, "me-assistant-profile"), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"message", "code", "extra"}


# -- work samples ----------------------------------------------------------------------------


def test_the_assistant_adds_a_file_and_a_link_and_removes_one(
    agency, w, signed_in, media, django_capture_on_commit_callbacks
):
    http = signed_in(w["dee"].membership.user)
    add = page(agency, "assistant_sample_add", pk=w["dee"].pk)
    assert http.post(add, {"title": "A report", "file": pdf()}).status_code == 302
    assert http.post(add, {"title": "Site", "url": "https://example.com/work"}).status_code == 302
    file_sample, link = samples_of(w["dee"])
    assert file_sample.name == "sample.pdf" and "sample.pdf" not in file_sample.file.name
    assert link.url == "https://example.com/work"
    html = http.get(page(agency, "my_assistant_profile")).content.decode()
    assert "A report" in html and "https://example.com/work" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(page(agency, "work_sample_delete", pk=file_sample.pk))
    assert response.status_code == 302
    assert [s.pk for s in samples_of(w["dee"])] == [link.pk]
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_staff_add_a_sample_from_the_assistant_page(agency, w, signed_in):
    http = signed_in(w["admin"].user)
    add = page(agency, "assistant_sample_add", pk=w["dee"].pk)
    response = http.post(add, {"title": "Deck", "url": "http://example.org/deck"})
    assert response.status_code == 302 and response["Location"].endswith(
        page(agency, "assistant_edit", pk=w["dee"].pk)
    )
    assert [s.title for s in samples_of(w["dee"])] == ["Deck"]


@pytest.mark.parametrize(
    "data, says",
    [
        ({"title": "Bad", "url": "ftp://example.com/x"}, "http:// or https://"),
        ({"title": "Bad", "url": "javascript:alert(1)"}, "http:// or https://"),
        ({"title": "Bad", "file": ("run.exe", b"MZ\x90\x00")}, "cannot be added"),
        ({"title": "Bad", "file": ("fake.pdf", b"just text")}, "content is not that of"),
        ({"title": "Bad"}, "either a file or a link"),
    ],
)
def test_bad_samples_are_refused_with_a_reason(agency, w, signed_in, data, says):
    if "file" in data:
        name, content = data["file"]
        data = {**data, "file": SimpleUploadedFile(name, content)}
    http = signed_in(w["dee"].membership.user)
    response = http.post(page(agency, "assistant_sample_add", pk=w["dee"].pk), data, follow=True)
    assert response.status_code == 200 and says in response.content.decode()
    assert samples_of(w["dee"]) == []


def test_an_oversized_sample_is_refused(agency, w, signed_in, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    http = signed_in(w["dee"].membership.user)
    response = http.post(
        page(agency, "assistant_sample_add", pk=w["dee"].pk),
        {"title": "Big", "file": pdf()},
        follow=True,
    )
    assert "Files may be at most" in response.content.decode()
    assert samples_of(w["dee"]) == []


def test_another_assistant_may_not_touch_someone_elses_samples(agency, w, signed_in):
    http = signed_in(w["cody"].membership.user)
    add = http.post(
        page(agency, "assistant_sample_add", pk=w["dee"].pk), {"title": "x", "url": "https://a.b"}
    )
    assert add.status_code == 404
    with agency_scope(agency):
        from assistants import samples

        sample = samples.work_sample_add(
            agency=agency,
            actor=w["admin"].user,
            membership=w["admin"],
            profile=w["dee"],
            title="Mine",
            url="https://example.com",
        )
    assert http.post(page(agency, "work_sample_delete", pk=sample.pk)).status_code == 404
    assert len(samples_of(w["dee"])) == 1


def test_a_sample_file_is_served_only_to_those_who_may_see_the_assistant(
    agency, other_agency, w, signed_in, client
):
    signed_in(w["dee"].membership.user).post(
        page(agency, "assistant_sample_add", pk=w["dee"].pk), {"title": "Report", "file": pdf()}
    )
    (sample,) = samples_of(w["dee"])
    url = page(agency, "work_sample_file", pk=sample.pk)
    for who in ("admin", "acme_person", "bolt_person"):
        response = signed_in(w[who].user).get(url)
        assert response.status_code == 200, who
        assert b"".join(response.streaming_content) == PDF
    assert signed_in(w["dee"].membership.user).get(url).status_code == 200
    assert signed_in(w["cody"].membership.user).get(url).status_code == 404
    assert signed_in(w["other_person"].user).get(url).status_code == 404
    stranger = MembershipFactory(agency=other_agency, role=Role.ADMIN)
    assert signed_in(stranger.user).get(url).status_code == 404
    assert client.get(url).status_code == 302  # to sign in: never public


def test_samples_on_the_api_need_an_idempotency_key_and_delete(agency, w, api):
    http = api(w["dee"].membership.user)
    url = api_url(agency, "assistant-samples", pk=w["dee"].pk)
    response = http.post(
        url,
        {"title": "Site", "url": "https://example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert response.status_code == 201, response.content
    again = http.post(
        url,
        {"title": "Site", "url": "https://example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    uploaded = http.post(url, {"title": "Report", "file": pdf()}, format="multipart")
    assert uploaded.status_code == 201 and uploaded.json()["kind"] == "file"
    listed = http.get(url).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["title"] for row in rows] == ["Site", "Report"]
    bad = http.post(url, {"title": "x", "url": "ftp://x.y"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "work_sample_link_invalid"
    other = api(w["cody"].membership.user)
    assert other.get(url).status_code == 404
    sample_id = rows[0]["id"]
    assert other.delete(api_url(agency, "work-sample", pk=sample_id)).status_code == 404
    assert http.delete(api_url(agency, "work-sample", pk=sample_id)).status_code == 204
    assert [s.title for s in samples_of(w["dee"])] == ["Report"]


# -- the rating summary ----------------------------------------------------------------------


def test_the_rating_summary_shows_on_the_list_and_the_profile(agency, w, signed_in):
    with scopes_disabled():
        AssistantProfile.objects.filter(pk=w["dee"].pk).update(rating_count=3, rating_sum=13)
    http = signed_in(w["admin"].user)
    listed = http.get(page(agency, "assistant_list")).content.decode()
    assert "★ 4.3" in listed and "not rated yet" in listed
    edit = http.get(page(agency, "assistant_edit", pk=w["dee"].pk)).content.decode()
    assert "★ 4.3" in edit
    mine = signed_in(w["dee"].membership.user).get(page(agency, "my_assistant_profile"))
    assert "★ 4.3" in mine.content.decode()


def test_the_staff_list_costs_the_same_for_one_assistant_or_many(
    agency, member, signed_in, count_queries
):
    http = signed_in(member(Role.ADMIN).user)
    url = page(agency, "assistant_list")

    def with_rated(n):
        for _ in range(n):
            profile = AssistantProfileFactory(agency=agency)
            with scopes_disabled():
                AssistantProfile.objects.filter(pk=profile.pk).update(rating_count=2, rating_sum=9)

    with_rated(1)
    http.get(url)
    one = count_queries(lambda: http.get(url))
    with_rated(12)
    many = count_queries(lambda: http.get(url))
    assert one == many


def test_the_public_profile_page_shows_to_those_who_may_see_the_assistant(
    agency, other_agency, w, signed_in
):
    with agency_scope(agency):
        from assistants import samples

        samples.work_sample_add(
            agency=agency,
            actor=w["admin"].user,
            membership=w["admin"],
            profile=w["dee"],
            title="Portfolio",
            url="https://example.com/p",
        )
    url = page(agency, "assistant_profile_view", pk=w["dee"].pk)
    for who in ("admin", "acme_person", "bolt_person"):
        response = signed_in(w[who].user).get(url)
        assert response.status_code == 200, who
        assert "Portfolio" in response.content.decode() and "sample-remove" not in (
            response.content.decode()
        )
    assert signed_in(w["dee"].membership.user).get(url).status_code == 200
    assert signed_in(w["cody"].membership.user).get(url).status_code == 404
    assert signed_in(w["other_person"].user).get(url).status_code == 404
    stranger = MembershipFactory(agency=other_agency, role=Role.ADMIN)
    assert signed_in(stranger.user).get(url).status_code == 404
