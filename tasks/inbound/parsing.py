"""Reading a raw e-mail (RFC 5322 / MIME) into what the routing needs: who sent it, to which
of our addresses, its subject, its text (the text part, or the HTML part read as text),
and its attachments. Replies lose the history they quote."""

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MESSAGE_ID_MAX = 255


class MalformedMessage(Exception):
    """The bytes are not an e-mail we can read (no sender, not MIME at all)."""


@dataclass
class InboundFile:
    name: str
    content: bytes
    content_type: str


@dataclass
class ParsedMessage:
    message_id: str
    sender: str  # the From address, lower-cased
    sender_name: str
    recipients: list[str]  # every address the message was delivered or written to
    subject: str
    text: str
    files: list[InboundFile] = field(default_factory=list)
    # An auto-reply, bounce or list mail: never answered, so two robots cannot loop.
    automatic: bool = False


def parse_message(raw: bytes) -> ParsedMessage:
    if not raw or not raw.strip():
        raise MalformedMessage("The message is empty.")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        from_header = str(message.get("From", "") or "")
    except Exception:  # a header the parser cannot decode
        raise MalformedMessage("The From header cannot be read.") from None
    name, address = parseaddr(from_header)
    if "@" not in address:
        raise MalformedMessage("The message has no sender address (From).")
    return ParsedMessage(
        message_id=_message_id(message, raw),
        sender=address.strip().lower(),
        sender_name=name.strip(),
        recipients=_recipients(message),
        subject=" ".join(_header(message, "Subject").split()),
        text=_body_text(message),
        files=_files(message),
        automatic=_is_automatic(message, address),
    )


def _header(message, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:
        return ""


def _message_id(message, raw: bytes) -> str:
    """The Message-ID, or (none, or absurdly long) a digest of the whole message: the same
    bytes delivered twice still count once."""
    found = _header(message, "Message-ID").strip()
    if found and len(found) <= MESSAGE_ID_MAX:
        return found
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# Where the delivering server says whom the message was for, before what the sender wrote.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def _recipients(message) -> list[str]:
    values = []
    for name in RECIPIENT_HEADERS:
        try:
            values.extend(str(value) for value in message.get_all(name, []))
        except Exception:
            continue
    seen = []
    for _, address in getaddresses(values):
        address = address.strip().lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return seen


def _is_automatic(message, address: str) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    local = address.partition("@")[0].lower()
    return (
        (auto not in ("", "no"))
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or bool(_header(message, "List-Id"))
        or local in ("mailer-daemon", "postmaster")
        or local.startswith(("no-reply", "noreply"))
    )


def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _body_text(message) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _normalise(_part_text(plain))
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return _normalise(html_to_text(_part_text(html)))
    return ""


def _files(message) -> list[InboundFile]:
    files = []
    for part in message.iter_attachments() if message.is_multipart() else []:
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue
        name = part.get_filename()
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            content = payload[0].as_bytes() if isinstance(payload, list) and payload else b""
            name = name or "forwarded.eml"
        else:
            content = part.get_payload(decode=True) or b""
        if not name:
            # An inline image with no name (a signature logo) is not a file anyone sent.
            if part.get_content_disposition() != "attachment":
                continue
            name = "attachment"
        files.append(
            InboundFile(
                name=_safe_name(name), content=content, content_type=part.get_content_type()
            )
        )
    return files


def _safe_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "attachment"
    return name[:200]


def _normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- HTML as text ------------------------------------------------------------------------

_BLOCKS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "ul", "ol", "hr", "section", "article",
}  # fmt: skip
_SKIPPED = {"script", "style", "head", "title"}


class _TextOfHtml(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.quote_depth = 0
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag == "blockquote":
            self.quote_depth = max(self.quote_depth - 1, 0)
            self.parts.append("\n")
        elif tag in _BLOCKS and tag != "li":  # an item's end is the next one's start
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href.startswith(("http://", "https://")):
                self.parts.append(f" ({href})")

    def handle_data(self, data):
        if self.skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self.quote_depth and text.strip():
            # Quoted history in HTML mail is a blockquote: marked as a plain-text quote is.
            text = "\n" + "> " * self.quote_depth + text.strip() + "\n"
        self.parts.append(text)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- a reply without its history ---------------------------------------------------------

# "On Tue, 3 Dec 2026 at 10:00, Ana <ana@x.com> wrote:" (possibly wrapped on two lines),
# and the headers Outlook puts above the message it answers.
_WROTE = re.compile(
    r"^\s*(On\s.{0,300}?wrote:|Le\s.{0,300}?a écrit\s?:|Am\s.{0,300}?schrieb.{0,80}:)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_OUTLOOK = re.compile(r"^\s*(-{2,}\s*Original Message\s*-{2,}|_{8,})\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*From:\s.+$", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(-- ?|Sent from my \w+.*)$")


def strip_quoted(text: str) -> str:
    """The new part of a reply: everything above the first line that opens the quoted
    history ("On ... wrote:", a line of "> " quotes, Outlook's "-----Original Message-----"
    or "From: ..." block), and above the signature marker "-- ". What was written inline
    between quoted lines is kept."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        two = line + " " + lines[index + 1] if index + 1 < len(lines) else line
        if _WROTE.match(line) or (not line.lstrip().startswith(">") and _WROTE.match(two)):
            break
        if _OUTLOOK.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(k.strip() for k in kept):
            break
        if _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            # A quote: dropped. If nothing of the reader's own follows it, the rest is history.
            rest = lines[index + 1 :]
            if not any(r.strip() and not r.lstrip().startswith(">") for r in rest):
                break
            index += 1
            continue
        kept.append(line)
        index += 1
    return _normalise("\n".join(kept))
