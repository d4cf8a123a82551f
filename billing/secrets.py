"""Stripe keys at rest: encrypted with Fernet under STRIPE_KEYS_ENCRYPTION_KEY (or a key
derived from SECRET_KEY), read back only to talk to Stripe (billing.stripe_access)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from core.errors import ApplicationError


def _fernet() -> Fernet:
    key = settings.STRIPE_KEYS_ENCRYPTION_KEY
    if not key:
        digest = hashlib.sha256(settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ApplicationError(
            "The stored Stripe key can no longer be read (the encryption key changed). "
            "Connect the Stripe account again.",
            code="stripe_key_unreadable",
        ) from None
