"""Device alerts: a cart whose clock is off, or that fell silent during opening hours.

`wanted_alerts` is pure (state + clock in, alert kinds out); `evaluate_alerts` applies it to
the database, raising each alert once and clearing it when the condition ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Device, DeviceAlert

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CLOCK_OFFSET = "clock_offset"
SILENT = "silent"


@dataclass(frozen=True)
class AlertPolicy:
    clock_offset_ms: float = 60_000.0  # a cart clock a minute off corrupts first-contact times
    silent_after: timedelta = timedelta(minutes=30)
    opening: time = time(8, 0)  # township centres' clinic hours, local time
    closing: time = time(18, 0)
    tz: ZoneInfo = LOCAL_TZ


def in_opening_hours(now: datetime, policy: AlertPolicy) -> bool:
    local = now.astimezone(policy.tz).time()
    return policy.opening <= local < policy.closing


def wanted_alerts(device: Device, *, now: datetime, policy: AlertPolicy) -> dict[str, str]:
    """Alert kinds this cart should have open now, each with a short detail (no patient data)."""
    out: dict[str, str] = {}
    if device.status != "active" or device.revoked_at is not None or device.credential_hash is None:
        return out
    if device.clock_offset_ms is not None and abs(device.clock_offset_ms) > policy.clock_offset_ms:
        out[CLOCK_OFFSET] = f"offset {device.clock_offset_ms / 1000:+.1f} s"
    last = device.last_seen_at or device.credential_issued_at
    if last is not None and now - last > policy.silent_after and in_opening_hours(now, policy):
        out[SILENT] = f"silent {int((now - last).total_seconds() // 60)} min"
    return out


def evaluate_alerts(session: Session, *, now: datetime, policy: AlertPolicy) -> tuple[int, int]:
    """Raise and clear alerts for every cart; (raised, cleared). The caller commits."""
    open_alerts: dict[tuple[str, str], DeviceAlert] = {
        (a.device_id, a.kind): a
        for a in session.scalars(select(DeviceAlert).where(DeviceAlert.cleared_at.is_(None)))
    }
    raised = cleared = 0
    for device in session.scalars(select(Device)):
        wanted = wanted_alerts(device, now=now, policy=policy)
        for kind, detail in wanted.items():
            alert = open_alerts.get((device.id, kind))
            if alert is None:
                session.add(
                    DeviceAlert(device_id=device.id, kind=kind, raised_at=now, detail=detail)
                )
                raised += 1
            else:
                alert.detail = detail
        for (device_id, kind), alert in open_alerts.items():
            if device_id != device.id or kind in wanted:
                continue
            # Silence is only judged in opening hours: a quiet night does not clear or raise it,
            # but a cart that is seen again clears it at once.
            if (
                kind == SILENT
                and not in_opening_hours(now, policy)
                and not (device.last_seen_at and now - device.last_seen_at <= policy.silent_after)
            ):
                continue
            alert.cleared_at = now
            cleared += 1
    session.flush()
    return raised, cleared
