"""Device alerts with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.alerts import CLOCK_OFFSET, SILENT, AlertPolicy, evaluate_alerts
from devices.models import DeviceAlert
from tests import factories

# 10:00 in Asia/Shanghai (UTC+8): opening hours.
MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 local
POLICY = AlertPolicy()


def _open(session: Session) -> set[str]:
    return {
        a.kind for a in session.scalars(select(DeviceAlert).where(DeviceAlert.cleared_at.is_(None)))
    }


def test_clock_offset_alert_raised_once_and_cleared(session: Session) -> None:
    """Offset beyond 60 s raises one alert; repeated checks do not duplicate; fixing clears it."""
    _central, (town, _) = factories.county(session)
    device, _cred = factories.device(session, org=town)
    device.last_seen_at = MORNING
    device.clock_offset_ms = 95_000.0
    assert evaluate_alerts(session, now=MORNING, policy=POLICY) == (1, 0)
    assert evaluate_alerts(session, now=MORNING + timedelta(minutes=1), policy=POLICY) == (0, 0)
    assert _open(session) == {CLOCK_OFFSET}
    device.clock_offset_ms = 300.0
    assert evaluate_alerts(session, now=MORNING + timedelta(minutes=2), policy=POLICY) == (0, 1)
    assert _open(session) == set()


def test_silence_counts_only_in_opening_hours(session: Session) -> None:
    """Silent 40 min at 10:00 raises an alert; silent at 23:00 does not; seen again clears."""
    _central, (town, _) = factories.county(session)
    device, _cred = factories.device(session, org=town)
    device.last_seen_at = NIGHT - timedelta(hours=2)
    assert evaluate_alerts(session, now=NIGHT, policy=POLICY) == (0, 0)
    device.last_seen_at = MORNING - timedelta(minutes=40)
    assert evaluate_alerts(session, now=MORNING, policy=POLICY) == (1, 0)
    assert _open(session) == {SILENT}
    device.last_seen_at = MORNING + timedelta(minutes=5)
    assert evaluate_alerts(session, now=MORNING + timedelta(minutes=6), policy=POLICY) == (0, 1)


def test_revoked_or_retired_carts_raise_nothing(session: Session) -> None:
    """A revoked cart's silence is expected, not an alert."""
    _central, (town, _) = factories.county(session)
    device, _cred = factories.device(session, org=town)
    device.last_seen_at = MORNING - timedelta(hours=3)
    device.revoked_at = MORNING - timedelta(hours=2)
    assert evaluate_alerts(session, now=MORNING, policy=POLICY) == (0, 0)
