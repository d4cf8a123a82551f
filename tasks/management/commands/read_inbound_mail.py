"""Read inbound mail from a Maildir (where a mail server such as Postfix or Dovecot
delivers it) or an IMAP mailbox, and act on each message as the provider's webhook would.

Each message read is moved into the mailbox's `processed` folder, one that cannot be read
as e-mail into `failed`; a message whose handling broke (the database away) stays where it
is for the next run. A message moved twice, or read again after a crash, is still acted on
once: inbound messages are kept by Message-ID."""

import contextlib
import imaplib
import logging
import mailbox
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tasks.inbound.parsing import MalformedMessage
from tasks.inbound.services import inbound_mail_receive

logger = logging.getLogger(__name__)

PROCESSED, FAILED, KEPT = "processed", "failed", "kept"


def _act_on(raw: bytes, name: str) -> tuple[str, str | None]:
    """(what became of it, the folder it moves to: None to leave it for the next run)."""
    try:
        received = inbound_mail_receive(raw)
    except MalformedMessage as error:
        logger.warning("inbound mail %s cannot be read: %s", name, error)
        return "unreadable", FAILED
    except Exception:
        logger.exception("inbound mail %s: not handled, kept for the next run", name)
        return KEPT, None
    return received.outcome, PROCESSED


class Command(BaseCommand):
    help = "Turn inbound messages into task requests and comments, then move them."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--maildir", help="Path of the Maildir to read.")
        source.add_argument(
            "--imap",
            action="store_true",
            help="Read the IMAP mailbox of INBOUND_IMAP_HOST / _USER / _PASSWORD.",
        )
        parser.add_argument("--folder", default="INBOX", help="The IMAP folder to read.")

    def handle(self, *args, maildir=None, imap=False, folder="INBOX", **options):
        counts = self._imap(folder) if imap else self._maildir(Path(maildir))
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        self.stdout.write(summary or "No messages.")

    def _maildir(self, path: Path) -> Counter:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise CommandError(f"{path} is not a Maildir (it needs new/ and cur/).")
        inbox = mailbox.Maildir(path, factory=None, create=False)
        folders = {PROCESSED: inbox.add_folder(PROCESSED), FAILED: inbox.add_folder(FAILED)}
        counts = Counter()
        for key in sorted(inbox.keys()):
            raw = inbox.get_bytes(key)
            outcome, destination = _act_on(raw, key)
            counts[outcome] += 1
            if destination is not None:
                # Copied before it is removed: a crash in between reads it again, which
                # the Message-ID makes harmless.
                folders[destination].add(raw)
                inbox.discard(key)
        return counts

    def _imap(self, folder: str) -> Counter:
        host = settings.INBOUND_IMAP_HOST
        if not host:
            raise CommandError("Set INBOUND_IMAP_HOST (and _USER, _PASSWORD) to read IMAP.")
        try:
            connection = imaplib.IMAP4_SSL(host, settings.INBOUND_IMAP_PORT)
            connection.login(settings.INBOUND_IMAP_USER, settings.INBOUND_IMAP_PASSWORD)
        except (OSError, imaplib.IMAP4.error) as error:
            raise CommandError(f"Cannot sign in to {host}: {error}") from None
        counts = Counter()
        try:
            status, _ = connection.select(folder)
            if status != "OK":
                raise CommandError(f"There is no folder {folder} on {host}.")
            for name in (PROCESSED, FAILED):
                connection.create(name)  # refused harmlessly when it exists
            _, found = connection.uid("SEARCH", None, "UNDELETED")
            for uid in (found[0] or b"").split():
                status, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
                parts = [item for item in data or [] if isinstance(item, tuple)]
                if status != "OK" or not parts:
                    counts[KEPT] += 1
                    continue
                outcome, destination = _act_on(parts[0][1], uid.decode())
                counts[outcome] += 1
                if destination is not None:
                    status, _ = connection.uid("COPY", uid, destination)
                    if status == "OK":
                        connection.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
            connection.expunge()
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                connection.logout()
        return counts
