"""Tables of the cart fleet: carts, enrollment codes, device alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xinlian.db import Base, new_id, utcnow


class Device(Base):
    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Only a hash of the credential is kept; the cart shows the secret once at enrollment.
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    credential_issued_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_version: Mapped[str | None] = mapped_column(String(32), default=None)
    first_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    last_upload_at: Mapped[datetime | None] = mapped_column(default=None)
    outbox_depth: Mapped[int | None] = mapped_column(Integer, default=None)
    disk_free_bytes: Mapped[int | None] = mapped_column(default=None)
    clock_offset_ms: Mapped[float | None] = mapped_column(Float, default=None)
    clock_drift_ppm: Mapped[float | None] = mapped_column(Float, default=None)
    clock_rtt_ms: Mapped[float | None] = mapped_column(Float, default=None)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrollmentCode(Base):
    __tablename__ = "enrollment_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)


class DeviceAlert(Base):
    __tablename__ = "device_alert"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # clock_offset / silent
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
