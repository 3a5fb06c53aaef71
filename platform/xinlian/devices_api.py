"""Cart fleet API: enrollment (the cart's one-time code is its auth) and admin operations."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from devices import enrollment
from devices.models import Device, DeviceAlert
from xinlian import audit
from xinlian.admin import org_by_code
from xinlian.auth import Principal
from xinlian.db import utcnow
from xinlian.deps import Admin, AppSettings, DbSession, client_ip
from xinlian.errors import DomainError

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

# Failed enrollment attempts per address: a code is short, so guessing must be slow.
MAX_FAILURES_PER_10_MIN = 20
_failures: dict[str, deque[float]] = {}


def as_domain_error(exc: enrollment.EnrollmentError) -> DomainError:
    status = {
        "CODE_UNKNOWN": 404,
        "CODE_USED": 409,
        "CODE_EXPIRED": 410,
        "DEVICE_UNKNOWN": 404,
        "SERIAL_EXISTS": 409,
    }.get(exc.code, 422)
    return DomainError(
        exc.code, status_code=status, message_zh=exc.message_zh, message_en=exc.message_en
    )


@contextmanager
def enrollment_errors() -> Iterator[None]:
    """Enrollment refusals become domain errors (stable code, zh/en message, HTTP status)."""
    try:
        yield
    except enrollment.EnrollmentError as exc:
        raise as_domain_error(exc) from None


def _audit(
    db: Session,
    user: Principal,
    request: Request,
    action: str,
    device_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """An administrator's change to a cart, in the audit log."""
    audit.record(
        db,
        actor_type="user",
        actor_id=user.user_id,
        action=action,
        target_type="device",
        target_id=device_id,
        source_ip=client_ip(request),
        detail=detail,
    )


class EnrollRequest(BaseModel):
    code: str = Field(min_length=4, max_length=32)


@router.post("/enroll")
def enroll(body: EnrollRequest, request: Request, db: DbSession) -> dict[str, Any]:
    """Exchange a one-time enrollment code for the cart's credential (shown once)."""
    ip = client_ip(request) or "?"
    now_s = time.monotonic()
    window = _failures.setdefault(ip, deque())
    while window and now_s - window[0] > 600:
        window.popleft()
    if len(window) >= MAX_FAILURES_PER_10_MIN:
        raise DomainError(
            "RATE_LIMITED",
            status_code=429,
            message_zh="尝试次数过多，请稍后再试",
            message_en="Too many attempts; try again later",
        )
    try:
        enrolled = enrollment.redeem(db, code=body.code, now=utcnow())
    except enrollment.EnrollmentError as exc:
        window.append(now_s)
        raise as_domain_error(exc) from None
    audit.record(
        db,
        actor_type="device",
        actor_id=enrolled.device.id,
        action="device.enroll",
        target_type="device",
        target_id=enrolled.device.id,
        source_ip=ip,
    )
    return {
        "device_id": enrolled.device.id,
        "serial_number": enrolled.device.serial_number,
        "organization_id": enrolled.device.organization_id,
        "credential": enrolled.credential,
    }


def device_json(d: Device, alerts: list[DeviceAlert]) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return v.isoformat() if v is not None else None

    return {
        "id": d.id,
        "serial_number": d.serial_number,
        "vendor": d.vendor,
        "model": d.model,
        "organization_id": d.organization_id,
        "status": d.status,
        "enrolled": d.credential_hash is not None,
        "revoked_at": iso(d.revoked_at),
        "agent_version": d.agent_version,
        "first_seen_at": iso(d.first_seen_at),
        "last_seen_at": iso(d.last_seen_at),
        "last_upload_at": iso(d.last_upload_at),
        "outbox_depth": d.outbox_depth,
        "disk_free_bytes": d.disk_free_bytes,
        "clock_offset_ms": d.clock_offset_ms,
        "clock_drift_ppm": d.clock_drift_ppm,
        "alerts": [
            {"kind": a.kind, "raised_at": a.raised_at.isoformat(), "detail": a.detail}
            for a in alerts
        ],
    }


def open_alerts(db: DbSession) -> dict[str, list[DeviceAlert]]:
    out: dict[str, list[DeviceAlert]] = {}
    for a in db.scalars(select(DeviceAlert).where(DeviceAlert.cleared_at.is_(None))):
        out.setdefault(a.device_id, []).append(a)
    return out


@router.get("")
def fleet(db: DbSession, user: Admin) -> list[dict[str, Any]]:
    """Every cart with its status, last contact, clock offset and open alerts."""
    alerts = open_alerts(db)
    return [
        device_json(d, alerts.get(d.id, []))
        for d in db.scalars(select(Device).order_by(Device.serial_number))
    ]


class RegisterRequest(BaseModel):
    serial_number: str = Field(min_length=1, max_length=64)
    vendor: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=64)
    organization_code: str = Field(min_length=1, max_length=64)


@router.post("", status_code=201)
def register(body: RegisterRequest, request: Request, db: DbSession, user: Admin) -> dict[str, Any]:
    org = org_by_code(db, body.organization_code)
    with enrollment_errors():
        d = enrollment.register(
            db,
            serial_number=body.serial_number,
            vendor=body.vendor,
            model=body.model,
            organization_id=org.id,
            now=utcnow(),
        )
    _audit(db, user, request, "device.register", d.id)
    return device_json(d, [])


@router.post("/{device_id}/enrollment-code", status_code=201)
def new_code(
    device_id: str, request: Request, db: DbSession, user: Admin, settings: AppSettings
) -> dict[str, Any]:
    """A one-time enrollment code for the cart (shown once; older unused codes are voided)."""
    with enrollment_errors():
        code, expires = enrollment.create_code(
            db,
            device_id=device_id,
            now=utcnow(),
            valid_for=timedelta(hours=settings.enrollment_code_hours),
            created_by=user.user_id,
        )
    _audit(db, user, request, "device.enrollment_code", device_id)
    return {"code": code, "expires_at": expires.isoformat()}


@router.post("/{device_id}/revoke")
def revoke(device_id: str, request: Request, db: DbSession, user: Admin) -> dict[str, Any]:
    """Cut the cart off at once: its credential stops working and open connections close."""
    with enrollment_errors():
        d = enrollment.revoke(db, device_id=device_id, now=utcnow())
    _audit(db, user, request, "device.revoke", device_id)
    return device_json(d, [])


class StatusRequest(BaseModel):
    status: str = Field(pattern="^(active|maintenance|retired)$")


@router.post("/{device_id}/status")
def set_status(
    device_id: str, body: StatusRequest, request: Request, db: DbSession, user: Admin
) -> dict[str, Any]:
    with enrollment_errors():
        d = enrollment.set_status(db, device_id=device_id, status=body.status)
    _audit(db, user, request, "device.status", device_id, detail={"status": body.status})
    return device_json(d, [])


class MoveRequest(BaseModel):
    organization_code: str = Field(min_length=1, max_length=64)


@router.post("/{device_id}/move")
def move(
    device_id: str, body: MoveRequest, request: Request, db: DbSession, user: Admin
) -> dict[str, Any]:
    """Give the cart to another organization (its future ECGs belong there)."""
    org = org_by_code(db, body.organization_code)
    with enrollment_errors():
        d = enrollment.move(db, device_id=device_id, organization_id=org.id)
    _audit(db, user, request, "device.move", device_id, detail={"organization_id": org.id})
    return device_json(d, [])


@router.post("/{device_id}/rotate", status_code=201)
def rotate(
    device_id: str, request: Request, db: DbSession, user: Admin, settings: AppSettings
) -> dict[str, Any]:
    """End the current credential now (open connections close) and issue an enrollment code
    with which the cart obtains a new one."""
    now = utcnow()
    device = db.get(Device, device_id)
    if device is None:
        raise as_domain_error(enrollment.EnrollmentError("DEVICE_UNKNOWN"))
    device.credential_hash = None
    device.credential_issued_at = now
    with enrollment_errors():
        code, expires = enrollment.create_code(
            db,
            device_id=device_id,
            now=now,
            valid_for=timedelta(hours=settings.enrollment_code_hours),
            created_by=user.user_id,
        )
    _audit(db, user, request, "device.rotate", device_id)
    return {"code": code, "expires_at": expires.isoformat()}
