"""Cart registry service: credentials, lookups. Plain functions over a session."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Device


def hash_credential(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def authenticate(session: Session, *, credential: str) -> Device | None:
    """The active, unrevoked cart holding this credential, or None."""
    if not credential:
        return None
    device = session.scalar(
        select(Device).where(Device.credential_hash == hash_credential(credential))
    )
    if device is None or device.revoked_at is not None or device.status == "retired":
        return None
    return device


def is_connection_allowed(
    session: Session, *, device_id: str, credential_issued_at: datetime | None
) -> bool:
    """False once the cart was revoked, retired, or its credential rotated since connecting."""
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None or device.status == "retired":
        return False
    return credential_issued_at is None or device.credential_issued_at == credential_issued_at
