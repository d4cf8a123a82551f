"""The addresses inbound mail arrives at, and what each one names.

- `<intake token>[+<service>]@<inbound domain>`: a client's requests; the token is random
  and unique across the deployment, so it alone names the client and its agency.
- `reply+<signed token>@<inbound domain>`: replies to a notification about a task; the
  token binds the task, the member it was sent to and the agency, signed with the site's
  secret key (django.core.signing), so it can be neither guessed nor altered.

Both tokens are lower-case letters and digits only: some mail systems fold the case of an
address's local part, and an address must fit in 64 characters before the "@".
"""

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

INTAKE_TOKEN_BYTES = 12  # 96 random bits, 24 hex digits
REPLY_PREFIX = "reply"
_INTAKE_LOCAL = re.compile(r"^(?P<token>[0-9a-f]{24})(?:\+(?P<tag>[^@]{1,64}))?$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_intake_token() -> str:
    return secrets.token_hex(INTAKE_TOKEN_BYTES)


def inbound_domain() -> str:
    return settings.INBOUND_EMAIL_DOMAIN.strip().lower()


def intake_address(token: str) -> str:
    return f"{token}@{inbound_domain()}"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if not number:
            return digits


class _ReplySigner(signing.Signer):
    """django.core.signing's Signer (its key, fallback keys and constant-time check) with a
    signature of 128 bits in lower-case hex, which survives case folding and fits in an
    address."""

    def signature(self, value, key=None):
        key = key or self.key
        return salted_hmac(self.salt + "signer", value, key, algorithm="sha256").hexdigest()[:32]


def _signer() -> _ReplySigner:
    return _ReplySigner(sep=".", salt="tasks.inbound.reply")


def reply_address(*, agency_id: int, task_id: int, membership_id: int) -> str:
    value = "-".join(_base36(n) for n in (agency_id, task_id, membership_id))
    return f"{REPLY_PREFIX}+{_signer().sign(value)}@{inbound_domain()}"


@dataclass(frozen=True)
class ReplyTarget:
    agency_id: int
    task_id: int
    membership_id: int


@dataclass(frozen=True)
class IntakeTarget:
    token: str
    tag: str


class ForgedToken(Exception):
    """A reply address whose signature does not hold."""


def parse_local_part(local: str) -> IntakeTarget | ReplyTarget | None:
    """What an address at the inbound domain names (None: nothing we know); a reply
    address that fails its signature raises ForgedToken."""
    local = local.strip().lower()
    if local.startswith(REPLY_PREFIX + "+"):
        signed = local[len(REPLY_PREFIX) + 1 :]
        try:
            value = _signer().unsign(signed)
            numbers = [int(part, 36) for part in value.split("-")]
        except (signing.BadSignature, ValueError):
            raise ForgedToken(signed) from None
        if len(numbers) != 3:
            raise ForgedToken(signed)
        return ReplyTarget(*numbers)
    match = _INTAKE_LOCAL.match(local)
    if match:
        return IntakeTarget(token=match["token"], tag=(match["tag"] or "").strip())
    return None


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().rpartition("@")
    return local, domain.lower()
