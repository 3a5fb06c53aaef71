"""Tables of the green channel: one referral per triggering ECG, and its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xinlian.db import Base, new_id, utcnow


class Referral(Base):
    __tablename__ = "referral"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Unique: a record delivered five times still opens one green channel.
    record_id: Mapped[str] = mapped_column(ForeignKey("ecg_record.id"), unique=True)
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patient.id"), index=True)
    from_organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"), index=True)
    to_organization_id: Mapped[str | None] = mapped_column(ForeignKey("organization.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    trigger_codes: Mapped[list[str]] = mapped_column(JSON)
    door_at: Mapped[datetime | None] = mapped_column(default=None)  # first medical contact
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    is_demo: Mapped[bool] = mapped_column(default=False)


class ReferralEvent(Base):
    """Append-only timeline: each step stamped once, with who stamped it."""

    __tablename__ = "referral_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
