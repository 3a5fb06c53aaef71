"""Cart enrollment and credentials: one-time codes, device credentials, revoke and rotate.

Only hashes are stored. A code is single use and expires; issuing a new code voids the
older unused ones. Every function takes ``now`` so tests control the clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from devices.models import Device, EnrollmentCode
from devices.service import hash_credential

# Readable over the phone: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


class EnrollmentError(Exception):
    """A refused enrollment, with a stable code and messages in zh-CN and English."""

    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "CODE_UNKNOWN": ("注册码无效", "Unknown enrollment code"),
        "CODE_USED": ("注册码已使用", "Enrollment code already used"),
        "CODE_EXPIRED": ("注册码已过期", "Enrollment code expired"),
        "DEVICE_RETIRED": ("设备已停用或已吊销", "Device retired or revoked"),
        "DEVICE_UNKNOWN": ("设备不存在", "Unknown device"),
        "SERIAL_EXISTS": ("序列号已登记", "Serial number already registered"),
        "BAD_STATUS": ("设备状态无效", "Invalid device status"),
    }

    def __init__(self, code: str) -> None:
        self.code = code
        self.message_zh, self.message_en = self.MESSAGES[code]
        super().__init__(f"{code}: {self.message_en}")


@dataclass(frozen=True)
class Enrolled:
    device: Device
    credential: str  # shown once


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def register(
    session: Session,
    *,
    serial_number: str,
    vendor: str,
    model: str,
    organization_id: str,
    now: datetime,
    is_demo: bool = False,
) -> Device:
    if session.scalar(select(Device.id).where(Device.serial_number == serial_number.strip())):
        raise EnrollmentError("SERIAL_EXISTS")
    device = Device(
        serial_number=serial_number.strip(),
        vendor=vendor.strip(),
        model=model.strip(),
        organization_id=organization_id,
        created_at=now,
        is_demo=is_demo,
    )
    session.add(device)
    session.flush()
    return device


def create_code(
    session: Session, *, device_id: str, now: datetime, valid_for: timedelta, created_by: str | None
) -> tuple[str, datetime]:
    """A new one-time code for the cart (plain text returned once) and its expiry."""
    device = session.get(Device, device_id)
    if device is None:
        raise EnrollmentError("DEVICE_UNKNOWN")
    if device.revoked_at is not None or device.status == "retired":
        raise EnrollmentError("DEVICE_RETIRED")
    session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.device_id == device_id, EnrollmentCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + valid_for
    session.add(
        EnrollmentCode(
            device_id=device_id,
            code_hash=hash_credential(code),
            created_at=now,
            expires_at=expires,
            created_by=created_by,
        )
    )
    session.flush()
    return code, expires


def redeem(session: Session, *, code: str, now: datetime) -> Enrolled:
    """Exchange a code for a new device credential; the code cannot be used again."""
    row = session.scalar(
        select(EnrollmentCode).where(
            EnrollmentCode.code_hash == hash_credential(normalise_code(code))
        )
    )
    if row is None:
        raise EnrollmentError("CODE_UNKNOWN")
    if row.used_at is not None:
        raise EnrollmentError("CODE_USED")
    if row.expires_at <= now:
        raise EnrollmentError("CODE_EXPIRED")
    device = session.get(Device, row.device_id)
    if device is None or device.revoked_at is not None or device.status == "retired":
        raise EnrollmentError("DEVICE_RETIRED")
    # Single use even under concurrency: only one UPDATE can flip used_at from NULL.
    result = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == row.id, EnrollmentCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise EnrollmentError("CODE_USED")
    return Enrolled(device=device, credential=issue_credential(device, now=now))


def issue_credential(device: Device, *, now: datetime) -> str:
    """A new credential; the old one stops working at once (open connections are closed)."""
    credential = secrets.token_urlsafe(32)
    device.credential_hash = hash_credential(credential)
    device.credential_issued_at = now
    return credential


def revoke(session: Session, *, device_id: str, now: datetime) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise EnrollmentError("DEVICE_UNKNOWN")
    device.revoked_at = now
    device.credential_hash = None
    return device


def set_status(session: Session, *, device_id: str, status: str) -> Device:
    if status not in ("active", "maintenance", "retired"):
        raise EnrollmentError("BAD_STATUS")
    device = session.get(Device, device_id)
    if device is None:
        raise EnrollmentError("DEVICE_UNKNOWN")
    device.status = status
    return device


def move(session: Session, *, device_id: str, organization_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise EnrollmentError("DEVICE_UNKNOWN")
    device.organization_id = organization_id
    return device
