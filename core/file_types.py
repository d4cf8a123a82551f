"""What a file is, by its content rather than its name (the `filetype` library reads the
signature bytes), so that a file renamed to an allowed extension is refused."""

import codecs
import os

import filetype

# How much of a file is read: the library's own window for every signature it knows.
SAMPLE_BYTES = 8192
# Kinds with no signature: they must read as text.
TEXT_EXTENSIONS = frozenset({"txt", "csv", "md", "eml"})
# What the content may be found to be, for each extension. Office Open XML and OpenDocument
# files are zip archives whose members the library reads only when they come in the usual
# order, so a plain zip is accepted for them; the 97-2003 Office formats share one
# container (OLE2), whose inner kind the library tells only for some writers.
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CONTENT_FOR_EXTENSION = {
    "pdf": {"pdf"},
    "png": {"png", "apng"},
    "jpg": {"jpg"},
    "jpeg": {"jpg"},
    "gif": {"gif"},
    "webp": {"webp"},
    "zip": {"zip"},
    "docx": {"docx", "zip"},
    "xlsx": {"xlsx", "zip"},
    "pptx": {"pptx", "zip"},
    "odt": {"odt", "zip"},
    "ods": {"ods", "zip"},
    "doc": {"doc", "xls", "ppt", "ole2"},
    "xls": {"doc", "xls", "ppt", "ole2"},
    "ppt": {"doc", "xls", "ppt", "ole2"},
}
# A byte-order mark says the text is in UTF-16 or UTF-32, whose ASCII letters hold zeros.
WIDE_TEXT_BOMS = (
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)


def read_sample(upload) -> bytes:
    upload.seek(0)
    sample = upload.read(SAMPLE_BYTES)
    upload.seek(0)
    return bytes(sample)


def binary_kind(sample: bytes) -> str | None:
    """The kind a signature shows ("pdf", "zip", "ole2"...), or None if none is known."""
    found = filetype.guess(sample)
    if found is not None:
        return found.extension
    return "ole2" if sample.startswith(OLE2_SIGNATURE) else None


def looks_like_text(sample: bytes) -> bool:
    """Text in any common encoding: no NUL bytes (unless a UTF-16/32 mark says why) and
    hardly any other control bytes. Binary formats are full of both."""
    if sample.startswith(WIDE_TEXT_BOMS):
        return True
    if b"\x00" in sample:
        return False
    controls = sum(1 for byte in sample if byte < 32 and byte not in b"\t\n\r\f\x1b")
    return controls * 100 <= len(sample)


def content_matches_extension(upload, extension: str) -> bool:
    """Whether the file's content is what its extension says (an unknown extension never
    matches). Text kinds are read as text: a few signatures are printable letters ("BM"
    opens a bitmap), which a text file may well begin with."""
    sample = read_sample(upload)
    if extension in TEXT_EXTENSIONS:
        return looks_like_text(sample)
    return binary_kind(sample) in CONTENT_FOR_EXTENSION.get(extension, ())


def upload_check(upload, *, verb: str = "attached") -> None:
    """Refuse a file that is not of a kind the agency works with, by its name and by its
    content (a file renamed to an allowed extension is refused), or is larger than
    ATTACHMENT_MAX_BYTES: the one rule for every file people upload (task files, work
    samples). `verb` is what the refusal says is done with it ("attached", "added")."""
    from django.conf import settings

    from core.errors import ApplicationError

    extension = os.path.splitext(upload.name)[1].lower().lstrip(".")
    if extension not in settings.ATTACHMENT_EXTENSIONS:
        raise ApplicationError(
            f"Files of type .{extension or '?'} cannot be {verb}. Allowed: "
            + ", ".join(sorted(settings.ATTACHMENT_EXTENSIONS))
            + ".",
            code="attachment_type_refused",
            extra={"field": "file"},
        )
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        limit = settings.ATTACHMENT_MAX_BYTES / (1024 * 1024)
        raise ApplicationError(
            f"Files may be at most {limit:g} MB.",
            code="attachment_too_large",
            extra={"field": "file"},
        )
    if not content_matches_extension(upload, extension):
        raise ApplicationError(
            f"This file's content is not that of a .{extension} file. Give it the name of "
            "its real type.",
            code="attachment_content_mismatch",
            extra={"field": "file"},
        )
