"""Attachments in a private S3 bucket (FILE_STORAGE=s3), so that every web host sees the
same files: uploaded through the real pages and API, downloaded through the real URLs,
against a local S3-compatible server (moto's), with the same checks as on the disk."""

import re
import urllib.error
import urllib.request
import uuid

import boto3
import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from moto.server import ThreadedMotoServer

from core.roles import Role
from core.storage import file_storage
from core.tenancy import agency_scope
from tasks import services
from tasks.models import Attachment, Task
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

REGION = "eu-west-1"
# What a stored key may look like: the agency's folder and a random name, nothing else.
KEY = re.compile(r"attachments/(\d+)/[0-9a-f]{32}")
# Requests to the local server must not go through a proxy from the environment.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="session")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch, tmp_path):
    """A fresh private bucket, made the default storage through the same variables a
    deployment sets. MEDIA_ROOT points at an empty folder, to show nothing lands there."""
    name = f"va-attachments-{uuid.uuid4().hex[:12]}"
    variables = {
        "FILE_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": name,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": file_storage(environ.Env())}

    class Bucket:
        endpoint = s3_endpoint
        client = s3

        def stored_keys(self):
            listed = s3.list_objects_v2(Bucket=name).get("Contents", [])
            return sorted(item["Key"] for item in listed)

        def read(self, key):
            return s3.get_object(Bucket=name, Key=key)["Body"].read()

        def public_url(self, key):
            return f"{s3_endpoint}/{name}/{key}"

    Bucket.name = name
    yield Bucket()
    for key in Bucket().stored_keys():
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def desk(agency, member):
    """A client with an active contract, one of its people, another client of the same
    agency with theirs, and an admin."""
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=category, name="Travel arrangements")
    client = ClientFactory(agency=agency)
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=client, status="active"),
        service=service,
    )
    neighbour = ClientFactory(agency=agency, name="Neighbour Inc")
    return {
        "service": service,
        "line": line,
        "person": MembershipFactory(agency=agency, role=Role.CLIENT, client=client),
        "neighbour": MembershipFactory(agency=agency, role=Role.CLIENT, client=neighbour),
        "admin": member(Role.ADMIN),
    }


def page(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def api_url(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def pdf(name="itinerary.pdf", content=b"%PDF-1.4 flights to Lisbon"):
    return SimpleUploadedFile(name, content, "application/pdf")


def unsigned_get(url):
    try:
        with _direct.open(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def files_on_disk(settings):
    return [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]


# -- through the task page -----------------------------------------------------------------


def test_a_file_attached_on_the_task_page_is_kept_in_the_bucket(
    agency, other_agency, desk, bucket, signed_in, member, settings
):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    http = signed_in(desk["person"].user)
    content = b"%PDF-1.4 flights to Lisbon"
    response = http.post(
        page(agency, "task_attach", pk=task.pk), {"file": pdf("Acme secret plans.pdf", content)}
    )
    assert response.status_code == 302

    with agency_scope(agency):
        attachment = Attachment.objects.get(task=task)
    [key] = bucket.stored_keys()
    # The key names the agency's folder and a random name: not the file's name, nor anything
    # else the uploader chose.
    assert attachment.file.name == key and KEY.fullmatch(key)
    assert KEY.fullmatch(key).group(1) == str(agency.pk)
    assert "Acme" not in key and "plans" not in key
    assert bucket.read(key) == content
    assert files_on_disk(settings) == []

    download_url = page(agency, "task_file", pk=task.pk, attachment_pk=attachment.pk)
    for viewer in (desk["person"], desk["admin"]):
        download = signed_in(viewer.user).get(download_url)
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == content
        assert download["Content-Type"] == "application/pdf"
        assert 'filename="Acme secret plans.pdf"' in download["Content-Disposition"]
    assert b"Acme secret plans.pdf" in http.get(page(agency, "task_detail", pk=task.pk)).content

    # Another agency's admin and the agency's other client see nothing there at all.
    stranger = member(Role.ADMIN, agency=other_agency)
    assert signed_in(stranger.user).get(download_url).status_code == 404
    assert signed_in(desk["neighbour"].user).get(download_url).status_code == 404


def test_the_bucket_is_private(agency, desk, bucket, signed_in):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    signed_in(desk["person"].user).post(page(agency, "task_attach", pk=task.pk), {"file": pdf()})
    [key] = bucket.stored_keys()
    assert unsigned_get(bucket.public_url(key)) == 403
    grants = bucket.client.get_object_acl(Bucket=bucket.name, Key=key)["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]
    # Only the app, signed with its own credentials, reads it back.
    assert bucket.read(key).startswith(b"%PDF")


def test_two_files_of_one_name_never_share_a_key(agency, other_agency, desk, bucket):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    their_task = TaskFactory(agency=other_agency)
    with agency_scope(agency):
        first = services.attachment_add(
            agency=agency, actor=None, task=task, upload=pdf(content=b"%PDF-1.4 first")
        )
        second = services.attachment_add(
            agency=agency, actor=None, task=task, upload=pdf(content=b"%PDF-1.4 second")
        )
    with agency_scope(other_agency):
        theirs = services.attachment_add(
            agency=other_agency, actor=None, task=their_task, upload=pdf(content=b"%PDF-1.4 3")
        )
    keys = {first.file.name, second.file.name, theirs.file.name}
    assert len(keys) == 3 and set(bucket.stored_keys()) == keys
    assert [bucket.read(a.file.name) for a in (first, second, theirs)] == [
        b"%PDF-1.4 first",
        b"%PDF-1.4 second",
        b"%PDF-1.4 3",
    ]
    assert theirs.file.name.startswith(f"attachments/{other_agency.pk}/")


# -- through the API -----------------------------------------------------------------------


def test_the_api_uploads_to_the_bucket_and_streams_it_back(
    agency, other_agency, desk, bucket, api, member
):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    person = api(desk["person"].user)
    response = person.post(
        api_url(agency, "task-files", pk=task.pk), {"file": pdf()}, format="multipart"
    )
    assert response.status_code == 201, response.content
    stored = response.json()
    [key] = bucket.stored_keys()
    assert KEY.fullmatch(key) and bucket.read(key) == b"%PDF-1.4 flights to Lisbon"

    download = api(desk["admin"].user).get(stored["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 flights to Lisbon"
    # The app answers with the file itself: the bucket's address is never handed out.
    assert bucket.endpoint not in download.get("Location", "")

    stranger = api(member(Role.ADMIN, agency=other_agency).user)
    assert stranger.get(stored["download"]).status_code == 404
    assert api(desk["neighbour"].user).get(stored["download"]).status_code == 404


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (("setup.exe", b"MZ\x90\x00"), "attachment_type_refused"),
        (("invoice.pdf", b"MZ\x90\x00\x03 a program"), "attachment_content_mismatch"),
        (("scan.png", b"\x89PNG\r\n\x1a\n" + b"x" * 2048), "attachment_too_large"),
    ],
    ids=["type", "content", "size"],
)
def test_refused_files_never_reach_the_bucket(agency, desk, bucket, api, settings, upload, code):
    settings.ATTACHMENT_MAX_BYTES = 1024
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    response = api(desk["person"].user).post(
        api_url(agency, "task-files", pk=task.pk),
        {"file": SimpleUploadedFile(*upload)},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["code"] == code
    assert bucket.stored_keys() == []


def test_a_file_gone_from_the_bucket_is_a_404(agency, desk, bucket, api):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    with agency_scope(agency):
        attachment = services.attachment_add(agency=agency, actor=None, task=task, upload=pdf())
    bucket.client.delete_object(Bucket=bucket.name, Key=attachment.file.name)
    download = api_url(agency, "task-file-download", pk=task.pk, file_pk=attachment.pk)
    assert api(desk["admin"].user).get(download).status_code == 404


# -- what fails leaves nothing behind ------------------------------------------------------


def fail_on_file_audit(monkeypatch, after=0):
    """Make the audit entry of the file attached after `after` others fail."""
    real = services.audit_record
    seen = []

    def audit_record(**kwargs):
        if kwargs.get("action") == "task.file_attached":
            seen.append(kwargs)
            if len(seen) > after:
                raise RuntimeError("the audit log is unavailable")
        return real(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_record)


def test_a_file_whose_row_is_not_written_is_removed_from_the_bucket(
    agency, desk, bucket, monkeypatch
):
    task = TaskFactory(agency=agency, contract_line=desk["line"])
    fail_on_file_audit(monkeypatch)
    with agency_scope(agency), pytest.raises(RuntimeError):
        services.attachment_add(agency=agency, actor=None, task=task, upload=pdf())
    with agency_scope(agency):
        assert not Attachment.objects.exists()
    assert bucket.stored_keys() == []


def test_a_request_that_fails_midway_leaves_no_file_in_the_bucket(
    agency, desk, bucket, signed_in, monkeypatch
):
    """The client's new request stores its files one by one; when the second one's row
    fails, the whole request rolls back and the first file goes too."""
    fail_on_file_audit(monkeypatch, after=1)
    form = {
        "service": desk["service"].pk,
        "title": "Book flights to Lisbon",
        "details": "Two adults.",
        "priority": "1",
        "due_date": "2099-03-10",
        "due_time": "09:00",
        "max_budget": "",
        "attachments": [pdf("one.pdf"), pdf("two.pdf")],
    }
    with pytest.raises(RuntimeError):
        signed_in(desk["person"].user).post(page(agency, "client_task_create"), form)
    with agency_scope(agency):
        assert not Task.objects.exists() and not Attachment.objects.exists()
    assert bucket.stored_keys() == []


# -- configuration -------------------------------------------------------------------------


def _env(variables):
    """The settings' reader, over these variables only."""

    class Env(environ.Env):
        ENVIRON = variables

    return Env()


def test_no_variables_keep_files_on_the_local_disk():
    assert file_storage(_env({})) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert file_storage(_env({"FILE_STORAGE": "filesystem"}))["BACKEND"].endswith(
        "FileSystemStorage"
    )


def test_s3_is_configured_from_the_environment():
    storage = file_storage(
        _env(
            {
                "FILE_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "agency-files",
                "AWS_S3_REGION_NAME": "eu-central-1",
                "AWS_QUERYSTRING_EXPIRE": "30",
            }
        )
    )
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert (options["bucket_name"], options["region_name"]) == ("agency-files", "eu-central-1")
    assert options["endpoint_url"] is None and options["access_key"] is None
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["querystring_expire"] == 30 and options["file_overwrite"] is False


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"FILE_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME must be set"),
        ({"FILE_STORAGE": "ftp"}, "FILE_STORAGE must be one of filesystem, s3"),
    ],
)
def test_a_half_set_storage_refuses_to_start(variables, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        file_storage(_env(variables))


def test_production_runs_on_a_bucket_and_refuses_one_without_a_name():
    from tests.test_settings import PRODUCTION, manage

    on_s3 = {**PRODUCTION, "FILE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "agency-files"}
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.STORAGES['default'])",
        **on_s3,
    )
    assert result.returncode == 0, result.stderr
    assert "storages.backends.s3.S3Storage" in result.stdout and "agency-files" in result.stdout
    result = manage("check", **{**on_s3, "AWS_STORAGE_BUCKET_NAME": ""})
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME must be set" in result.stderr
