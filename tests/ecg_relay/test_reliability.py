"""Reliability with a real server process killed with SIGKILL while carts upload."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from devices.simulator import SCENARIOS, simulate, write_record
from ecg_relay.client import RelayClient
from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from tests import factories
from xinlian.db import make_engine, make_session_factory

pytestmark = pytest.mark.slow

CARTS = 10
PER_CART = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "xinlian.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "critical",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def test_kill_9_during_200_uploads_from_10_carts(tmp_path: Path, database_url: str) -> None:
    """SIGKILL the server repeatedly mid-run: every record stored once, intact, analysed."""
    var = tmp_path / "var"
    sessions = make_session_factory(make_engine(database_url))
    with sessions() as s:
        _central, (town, _) = factories.county(s)
        creds = [factories.device(s, org=town)[1] for _ in range(CARTS)]
        s.commit()
    records = [
        [
            write_record(
                simulate(
                    SCENARIOS[(c * PER_CART + k) % len(SCENARIOS)], seed=1000 + c * PER_CART + k
                ),
                tmp_path / "src" / f"c{c}",
                f"r{k}",
            )
            for k in range(PER_CART)
        ]
        for c in range(CARTS)
    ]
    env = {
        **os.environ,
        "XINLIAN_VAR_DIR": str(var),
        "XINLIAN_DATABASE_URL": database_url,
        "XINLIAN_SECRET_KEY": "test",
        "XINLIAN_MAX_OFFERS_PER_MINUTE": "100000",
    }
    port = _free_port()
    state = {"proc": _start(port, env), "kills": 0}
    done = threading.Event()

    def killer() -> None:
        rng = random.Random(7)
        while not done.wait(rng.uniform(0.8, 2.0)):
            state["proc"].send_signal(signal.SIGKILL)
            state["proc"].wait()
            state["kills"] += 1
            time.sleep(rng.uniform(0.1, 0.5))
            state["proc"] = _start(port, env)

    async def cart(c: int) -> list[str]:
        client = RelayClient(f"ws://127.0.0.1:{port}/relay/v1", creds[c], max_backoff_s=1.0)
        ids = []
        for k, files in enumerate(records[c]):
            stored = await client.upload(files, metadata={}, upload_id=f"c{c}-r{k}", attempts=60)
            ids.append(stored.record_id)
        await client.close()
        return ids

    async def all_carts() -> list[list[str]]:
        return await asyncio.gather(*(cart(c) for c in range(CARTS)))

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        ids = asyncio.run(all_carts())
    finally:
        done.set()
        thread.join()
    try:
        assert state["kills"] >= 2
        flat = [i for per in ids for i in per]
        assert len(flat) == CARTS * PER_CART and len(set(flat)) == CARTS * PER_CART
        deadline = time.monotonic() + 120
        with sessions() as s:
            while time.monotonic() < deadline:
                pending = s.scalars(select(AnalysisJob).where(AnalysisJob.state != "done")).all()
                if not pending:
                    break
                s.rollback()
                time.sleep(0.5)
            rows = s.scalars(select(EcgRecord)).all()
            assert len(rows) == CARTS * PER_CART  # no orphan rows, no second copies
            analysed = set(s.scalars(select(Analysis.record_id)))
            assert analysed == {r.id for r in rows}
            for r in rows:
                for name, spec in r.files.items():
                    data = (Path(r.stored_path) / name).read_bytes()
                    assert hashlib.sha256(data).hexdigest() == spec["sha256"]  # type: ignore[index]
            on_disk = {p.name for p in (var / "ecg" / "records").glob("*/*")}
            assert on_disk == {r.content_sha256 for r in rows}  # no orphan files
    finally:
        state["proc"].send_signal(signal.SIGTERM)
        state["proc"].wait(timeout=30)
