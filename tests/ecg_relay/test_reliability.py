"""Kill -9 the real server process during 200 uploads from 10 carts: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from devices.simulator import SCENARIOS, simulate, write_record
from ecg_relay.client import RelayClient, Stored, file_sha256
from ecg_relay.models import Analysis, AnalysisJob, EcgRecord
from ecg_relay.storage import Storage
from tests import factories
from xinlian.db import make_engine, make_session_factory

CARTS = 10
PER_CART = 20
KILLS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`uvicorn xinlian.asgi:app` in its own process, killed with SIGKILL and restarted."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["-m", "uvicorn", "xinlian.asgi:app", "--host", "127.0.0.1"]
        args += ["--port", str(self.port), "--log-level", "warning", "--ws-max-size", "1100000"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *args], env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start; see {self.log}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def _records(folder: Path) -> list[list[list[Path]]]:
    """CARTS × PER_CART distinct records: simulated ones, made unique by a header comment."""
    base = [
        write_record(simulate(SCENARIOS[i % len(SCENARIOS)], seed=i), folder / "base", f"b{i}")
        for i in range(8)
    ]
    out = []
    for c in range(CARTS):
        cart = []
        for k in range(PER_CART):
            hea, dat = base[(c * PER_CART + k) % len(base)]
            name = f"c{c}r{k}"
            d = folder / name
            d.mkdir()
            lines = hea.read_text().splitlines()
            lines = [ln.replace(hea.stem, name).replace(dat.name, f"{name}.dat") for ln in lines]
            (d / f"{name}.hea").write_text("\n".join([*lines, f"# cart {c} record {k}"]) + "\n")
            os.link(dat, d / f"{name}.dat")
            cart.append([d / f"{name}.hea", d / f"{name}.dat"])
        out.append(cart)
    return out


@pytest.mark.slow
def test_kill_9_during_uploads_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, database_url: str
) -> None:
    """SIGKILL five times at random moments; afterwards every record is stored once, intact, analysed."""
    var = tmp_path / "var"
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with sessions() as s:
        _central, (town, _other) = factories.county(s)
        creds = [factories.device(s, org=town)[1] for _ in range(CARTS)]
        s.commit()
    records = _records(tmp_path / "records")
    env = {
        **os.environ,
        "XINLIAN_VAR_DIR": str(var),
        "XINLIAN_DATABASE_URL": database_url,
        "XINLIAN_SECRET_KEY": "reliability",
        "XINLIAN_MAX_OFFERS_PER_MINUTE": "100000",
        "XINLIAN_ANALYSIS_LEASE_S": "3",
    }
    server = ServerProcess(env, _free_port(), tmp_path / "server.log")
    server.start()
    url = f"ws://127.0.0.1:{server.port}/relay/v1"
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "7")))

    async def cart(c: int) -> list[tuple[list[Path], Stored]]:
        client = RelayClient(
            url, creds[c], chunk_size=16 * 1024, max_backoff_s=0.5, open_timeout_s=5
        )
        done = []
        for k, files in enumerate(records[c]):
            stored = await client.upload(files, metadata={}, upload_id=f"c{c}-r{k}", attempts=200)
            done.append((files, stored))
        await client.close()
        return done

    async def killer(carts: asyncio.Future[list[list[tuple[list[Path], Stored]]]]) -> int:
        kills = 0
        while kills < KILLS and not carts.done():
            await asyncio.sleep(rng.uniform(0.15, 0.7))
            if carts.done():
                break
            await asyncio.to_thread(server.kill)
            kills += 1
            await asyncio.sleep(rng.uniform(0.0, 0.5))  # the line stays dead for a moment
            await asyncio.to_thread(server.start)
        return kills

    async def run() -> tuple[list[list[tuple[list[Path], Stored]]], int]:
        carts = asyncio.ensure_future(asyncio.gather(*(cart(c) for c in range(CARTS))))
        kills = await killer(carts)
        return await asyncio.wait_for(carts, timeout=300), kills

    try:
        results, kills = asyncio.run(run())
        assert kills == KILLS, "uploads finished before every kill: make the run longer"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sessions() as s:
                if (s.scalar(select(func.count()).select_from(Analysis)) or 0) >= CARTS * PER_CART:
                    break
            time.sleep(0.5)
    finally:
        server.stop()

    uploads = [item for cart_results in results for item in cart_results]
    assert len(uploads) == CARTS * PER_CART
    by_id = {stored.record_id: files for files, stored in uploads}
    assert len(by_id) == CARTS * PER_CART  # distinct content, distinct record: none merged
    storage = Storage(var / "ecg")
    with sessions() as s:
        rows = s.scalars(select(EcgRecord)).all()
        assert len(rows) == CARTS * PER_CART  # stored exactly once
        assert {r.id for r in rows} == set(by_id)
        for rec in rows:
            files = by_id[rec.id]
            folder = Path(rec.stored_path)
            assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in files)
            assert all(file_sha256(folder / p.name) == file_sha256(p) for p in files)
        jobs = s.scalars(select(AnalysisJob)).all()
        assert sorted(j.record_id for j in jobs) == sorted(by_id)  # one job each, no strays
        analysed = s.scalars(select(Analysis.record_id)).all()
        assert sorted(analysed) == sorted(by_id)  # every record analysed, once
        hashes = {r.content_sha256 for r in rows}
    assert {d.name for d in storage.record_dirs()} == hashes  # no orphan record folders
    assert list(storage.staging_dirs()) == []  # nothing left half-staged
    engine.dispose()
