"""Password hashing, opaque token and secret hashing, keyed national-ID hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret for tokens, device credentials and enrollment codes."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for random tokens, fast for lookups by hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_national_id(key: str, national_id: str) -> str:
    """Keyed hash so ID numbers (a small, guessable space) cannot be recovered from the DB."""
    normalised = national_id.strip().upper()
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()
