"""The analysis queue: leases, at-least-once after a killed worker, idempotent results."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from devices.simulator import simulate, write_record
from ecg_relay.client import RelayClient
from ecg_relay.models import Analysis, AnalysisJob
from referral_engine.models import Referral
from tests.conftest import Cart, LiveServer, enrol_cart, make_settings, start_server, stop_server
from xinlian.worker import WorkerThread, claim_job

CLAIM_AND_HANG = """
import sys, time
from xinlian.db import make_engine, make_session_factory, utcnow
from xinlian.worker import claim_job
sessions = make_session_factory(make_engine(sys.argv[1]))
with sessions() as s:
    job = claim_job(s, owner="doomed-worker", now=utcnow(), lease_s=2.0)
print(job, flush=True)
time.sleep(600)
"""


def _upload(live: LiveServer, cart: Cart, tmp_path: Path, scenario: str, seed: int) -> str:
    files = write_record(simulate(scenario, seed=seed), tmp_path / f"{scenario}{seed}", "rec")

    async def go() -> str:
        client = RelayClient(live.ws_url, cart.credential)
        stored = await client.upload(files, metadata={}, upload_id=f"{scenario}-{seed}")
        await client.close()
        return stored.record_id

    return asyncio.run(go())


def test_killed_worker_job_is_analysed_after_restart(tmp_path: Path, database_url: str) -> None:
    """A worker process SIGKILLed holding a critical record's job: after restart, one referral."""
    from xinlian.app import create_app

    settings = make_settings(tmp_path, database_url, analysis_workers=0)
    live = start_server(create_app(settings, migrate=False), settings)
    try:
        cart = enrol_cart(live)
        record_id = _upload(live, cart, tmp_path, "anterior_stemi", 4)
        doomed = subprocess.Popen(
            [sys.executable, "-c", CLAIM_AND_HANG, database_url], stdout=subprocess.PIPE, text=True
        )
        assert doomed.stdout is not None
        assert doomed.stdout.readline().strip() not in ("", "None")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        with live.sessions() as s:
            job = s.scalar(select(AnalysisJob).where(AnalysisJob.record_id == record_id))
            assert job is not None and job.state == "running" and job.lease_owner == "doomed-worker"
        # The restarted worker: it waits for the dead worker's lease to expire, then runs the job.
        worker = WorkerThread(live.sessions, lease_s=30, mains_hz=50.0, idle_s=0.2)
        worker.start()
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                with live.sessions() as s:
                    if s.scalar(select(func.count()).select_from(Referral)):
                        break
                time.sleep(0.2)
        finally:
            worker.stop()
            worker.join(timeout=10)
        with live.sessions() as s:
            job = s.scalar(select(AnalysisJob).where(AnalysisJob.record_id == record_id))
            assert job is not None and job.state == "done" and job.attempts == 2
            assert s.scalar(select(func.count()).select_from(Analysis)) == 1
            referral = s.scalar(select(Referral))
            assert referral is not None and referral.record_id == record_id
            assert "STEMI_ANTERIOR" in referral.trigger_codes
    finally:
        stop_server(live)
        live.app.state.engine.dispose()


def test_record_received_while_worker_down_is_analysed_later(
    tmp_path: Path, database_url: str
) -> None:
    """No worker running: the record waits in the queue; a worker started later analyses it."""
    from xinlian.app import create_app

    settings = make_settings(tmp_path, database_url, analysis_workers=0)
    live = start_server(create_app(settings, migrate=False), settings)
    try:
        cart = enrol_cart(live)
        record_id = _upload(live, cart, tmp_path, "normal", 2)
        time.sleep(1.0)
        with live.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Analysis)) == 0
            # Two workers claiming at once: only one gets the job.
            from xinlian.db import utcnow

            first = claim_job(s, owner="a", now=utcnow(), lease_s=0.5)
            second = claim_job(s, owner="b", now=utcnow(), lease_s=0.5)
            assert first is not None and second is None
        worker = WorkerThread(live.sessions, lease_s=30, mains_hz=50.0, idle_s=0.2)
        worker.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with live.sessions() as s:
                    if s.scalar(select(func.count()).select_from(Analysis)):
                        break
                time.sleep(0.2)
        finally:
            worker.stop()
            worker.join(timeout=10)
        with live.sessions() as s:
            analysis = s.scalar(select(Analysis))
            assert analysis is not None and analysis.record_id == record_id and not analysis.acute
    finally:
        stop_server(live)
        live.app.state.engine.dispose()


def test_sweep_removes_orphan_record_folders_only(tmp_path: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    """A record folder without a row (crash between rename and commit) is removed; others stay."""
    from ecg_relay.storage import Storage
    from xinlian.maintenance import sweep_files

    storage = Storage(tmp_path / "ecg")
    orphan = storage.record_dir("ab" + "0" * 62)
    orphan.mkdir(parents=True)
    (orphan / "x.dat").write_bytes(b"1")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    fresh = storage.record_dir("cd" + "0" * 62)
    fresh.mkdir(parents=True)
    assert sweep_files(sessions, storage) == 1
    assert not orphan.exists() and fresh.exists()
