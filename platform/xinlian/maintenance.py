"""Housekeeping in the server process: device alerts, and orphan files after a crash."""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices.alerts import AlertPolicy, evaluate_alerts
from ecg_relay.models import EcgRecord
from ecg_relay.storage import Storage
from xinlian.db import session_scope, utcnow
from xinlian.settings import Settings

log = logging.getLogger(__name__)
ORPHAN_GRACE_S = 600.0  # a record directory younger than this may belong to a commit in flight
STALE_STAGING_S = 7 * 86400.0  # a cart may resume within a week


def policy_from(settings: Settings) -> AlertPolicy:
    start, end = settings.opening_hours.split("-")
    return AlertPolicy(
        clock_offset_ms=settings.clock_offset_alert_ms,
        silent_after=timedelta(minutes=settings.device_silent_minutes),
        opening=time.fromisoformat(start),
        closing=time.fromisoformat(end),
    )


def sweep_files(sessions: sessionmaker[Session], storage: Storage) -> int:
    """Delete record directories with no database row and week-old staging; the count removed."""
    with sessions() as s:
        known = set(s.scalars(select(EcgRecord.content_sha256)))
    removed = 0
    for d in [
        *storage.orphan_record_dirs(known, older_than_s=ORPHAN_GRACE_S),
        *storage.stale_staging_dirs(older_than_s=STALE_STAGING_S),
    ]:
        shutil.rmtree(d, ignore_errors=True)
        removed += 1
    return removed


class MaintenanceThread(threading.Thread):
    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, interval_s: float = 30.0
    ) -> None:
        super().__init__(daemon=True, name="xinlian-maintenance")
        self.sessions = sessions
        self.settings = settings
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        policy = policy_from(self.settings)
        storage = Storage(self.settings.ecg_dir)
        ticks = 0
        while not self._stop_event.is_set():
            try:
                with session_scope(self.sessions) as s:
                    evaluate_alerts(s, now=utcnow(), policy=policy)
                if ticks % 120 == 0:  # at start, then hourly
                    removed = sweep_files(self.sessions, storage)
                    if removed:
                        log.info("removed %d orphan or stale ECG folders", removed)
            except Exception:
                log.exception("maintenance pass failed")
            ticks += 1
            self._stop_event.wait(self.interval_s)
