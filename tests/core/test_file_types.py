"""Attachments are checked by their content, not only their name (core.file_types, used by
tasks.services.attachment_check): a file renamed to an allowed extension is refused."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tasks.models import Attachment
from tasks.services import attachment_check
from tests.factories import MembershipFactory
from tests.tasks.factories import TaskFactory

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
GIF = b"GIF89a" + b"\x00" * 32
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64
LINUX_EXE = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


DOCX = zipped("[Content_Types].xml", "_rels/.rels", "word/document.xml")
XLSX = zipped("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")


def check(name: str, content: bytes) -> str | None:
    try:
        attachment_check(SimpleUploadedFile(name, content))
    except ApplicationError as error:
        return error.code
    return None


@pytest.mark.parametrize(
    "name, content",
    [
        ("scan.png", PNG),
        ("passport.jpg", JPEG),
        ("passport.jpeg", JPEG),
        ("itinerary.pdf", PDF),
        ("logo.gif", GIF),
        ("contract.docx", DOCX),
        ("budget.xlsx", XLSX),
        ("bundle.zip", zipped("a.txt")),
        ("old.doc", OLE2),
        ("old.xls", OLE2),
        ("notes.txt", b"Call the dentist at 9."),
        ("notes.txt", "Café à l'heure".encode("cp1252")),  # text, not UTF-8
        ("notes.txt", "\ufeffHi".encode("utf-16")),  # UTF-16 with its mark
        ("notes.txt", b"BM: the letters a bitmap starts with"),
        ("guests.csv", b"name,email\nAna,ana@example.test\n"),
        ("readme.md", b"# Heading\n\n- item\n"),
        ("message.eml", b"From: a@example.test\r\nSubject: Hi\r\n\r\nBody\r\n"),
        ("empty.txt", b""),
    ],
)
def test_files_whose_content_is_what_their_name_says_are_accepted(name, content):
    assert check(name, content) is None


@pytest.mark.parametrize(
    "name, content",
    [
        ("invoice.pdf", WINDOWS_EXE),
        ("photo.png", LINUX_EXE),
        ("photo.jpg", PNG),
        ("photo.png", HTML),
        ("report.pdf", HTML),
        ("contract.docx", PDF),
        ("contract.docx", XLSX),
        ("bundle.zip", PDF),
        ("old.doc", DOCX),
        ("notes.txt", WINDOWS_EXE),
        ("notes.txt", PNG),
        ("guests.csv", b"\x00\x01\x02\x03" * 100),
        ("empty.pdf", b""),
    ],
)
def test_a_file_renamed_to_an_allowed_extension_is_refused(name, content):
    assert check(name, content) == "attachment_content_mismatch"


def test_the_extension_and_size_rules_still_come_first():
    assert check("setup.exe", WINDOWS_EXE) == "attachment_type_refused"


def test_the_api_and_the_page_refuse_a_disguised_file(agency, api, signed_in, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    task = TaskFactory(agency=agency)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=task.client)
    response = api(person.user).post(
        reverse("api:task-files", args=[agency.slug, task.pk]),
        {"file": SimpleUploadedFile("invoice.pdf", WINDOWS_EXE)},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "attachment_content_mismatch"
    assert response.json()["extra"] == {"field": "file"}

    http = signed_in(person.user)
    http.post(
        reverse("task_attach", args=[agency.slug, task.pk]),
        {"file": SimpleUploadedFile("photo.png", HTML)},
    )
    (told,) = http.get(reverse("task_detail", args=[agency.slug, task.pk])).context["messages"]
    assert str(told).startswith("photo.png: This file's content is not that of a .png file.")
    with agency_scope(agency):
        assert not Attachment.objects.exists()
    assert list(tmp_path.iterdir()) == []
