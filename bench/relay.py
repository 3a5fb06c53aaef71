"""Relay throughput: N concurrent simulated carts push real-size 12-lead records over loopback.

Reports records/s, MB/s, p50/p99 offer-to-stored latency (client side), p99 stored-to-analysed
latency and the server's peak RSS. The server is a separate `uvicorn` process on the
embedded default (SQLite) in a temporary folder.
Run: `make bench` or `.venv/bin/python bench/relay.py [--carts 50] [--per-cart 4]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.factories

from devices.simulator import SCENARIOS, simulate, write_record
from ecg_relay.client import RelayClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_carts(var: Path, n: int) -> list[str]:
    os.environ["XINLIAN_VAR_DIR"] = str(var)
    from tests import factories  # reuse the test factories for the county and carts
    from xinlian.app import create_app
    from xinlian.settings import Settings

    app = create_app(Settings(var_dir=var), start_workers=False)
    creds = []
    with app.state.sessions() as s:
        _central, (town, _) = factories.county(s)
        for _ in range(n):
            creds.append(factories.device(s, org=town)[1])
        s.commit()
    app.state.engine.dispose()
    return creds


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(url: str, creds: list[str], files: list[list[Path]], per_cart: int) -> list[float]:
    latencies: list[float] = []

    async def cart(i: int) -> None:
        client = RelayClient(url, creds[i])
        for k in range(per_cart):
            rec = files[(i * per_cart + k) % len(files)]
            t = time.perf_counter()
            await client.upload(rec, metadata={"patient": {"name": "bench"}}, upload_id=f"b{i}-{k}")
            latencies.append((time.perf_counter() - t) * 1000)
        await client.close()

    await asyncio.gather(*(cart(i) for i in range(len(creds))))
    return latencies


async def run_http(
    base: str, creds: list[str], files: list[list[Path]], per_cart: int
) -> list[float]:
    """The same records as plain HTTP multipart POSTs: the baseline a user would otherwise pick."""
    import httpx

    latencies: list[float] = []

    async def cart(i: int, client: httpx.AsyncClient) -> None:
        for k in range(per_cart):
            rec = files[(i * per_cart + k) % len(files)]
            t = time.perf_counter()
            r = await client.post(
                f"{base}/api/v1/records",
                headers={"Authorization": f"Bearer {creds[i]}"},
                files=[("files", (p.name, p.read_bytes())) for p in rec],
            )
            r.raise_for_status()
            latencies.append((time.perf_counter() - t) * 1000)

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(cart(i, client) for i in range(len(creds))))
    return latencies


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--carts", type=int, default=50)
    p.add_argument("--per-cart", type=int, default=4)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        creds = seed_carts(var, args.carts)
        total = args.carts * args.per_cart
        files = [
            write_record(
                simulate(SCENARIOS[i % len(SCENARIOS)], seed=i), Path(tmp) / "rec", f"r{i}"
            )
            for i in range(total)
        ]
        # Distinct records for the HTTP run, so neither run is answered as a duplicate.
        http_files = [
            write_record(
                simulate(SCENARIOS[i % len(SCENARIOS)], seed=10_000 + i),
                Path(tmp) / "rec-http",
                f"h{i}",
            )
            for i in range(total)
        ]
        size = sum(f.stat().st_size for rec in files for f in rec)
        port = free_port()
        env = {**os.environ, "XINLIAN_VAR_DIR": str(var), "XINLIAN_MAX_OFFERS_PER_MINUTE": "100000"}
        server = subprocess.Popen(
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
                "warning",
            ],
            env=env,
        )
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            t0 = time.perf_counter()
            lat = asyncio.run(run(f"ws://127.0.0.1:{port}/relay/v1", creds, files, args.per_cart))
            elapsed = time.perf_counter() - t0
            # Wait for the analysis queue to drain, then read stored→analysed from the DB.
            from sqlalchemy import create_engine, text

            eng = create_engine(f"sqlite:///{var / 'xinlian.sqlite3'}")
            deadline = time.time() + 300
            while time.time() < deadline:
                with eng.connect() as c:
                    left = c.execute(
                        text("SELECT COUNT(*) FROM analysis_job WHERE state != 'done'")
                    ).scalar()
                if not left:
                    break
                time.sleep(0.5)
            with eng.connect() as c:
                rows = c.execute(
                    text(
                        "SELECT r.received_at, a.created_at FROM ecg_record r JOIN analysis a ON a.record_id = r.id"
                    )
                ).all()
            from datetime import datetime

            def ts(v: object) -> float:
                return datetime.fromisoformat(str(v)).timestamp()

            s2a = np.array([(ts(b) - ts(a)) * 1000 for a, b in rows])
            lat_a = np.asarray(lat)
            print(f"carts {args.carts}, records {total}, {size / 1e6:.1f} MB in {elapsed:.1f} s")
            print(f"throughput: {total / elapsed:.1f} records/s, {size / 1e6 / elapsed:.2f} MB/s")
            print(
                f"offer→stored: p50 {np.percentile(lat_a, 50):.0f} ms, p99 {np.percentile(lat_a, 99):.0f} ms"
            )
            print(
                f"stored→analysed: p50 {np.percentile(s2a, 50):.0f} ms, p99 {np.percentile(s2a, 99):.0f} ms "
                f"({len(s2a)} analysed, 1 analysis thread)"
            )
            print(f"server peak RSS: {peak_rss_mb(server.pid):.0f} MB")
            t1 = time.perf_counter()
            hlat = np.asarray(
                asyncio.run(run_http(f"http://127.0.0.1:{port}", creds, http_files, args.per_cart))
            )
            h_elapsed = time.perf_counter() - t1
            print(
                f"HTTP multipart baseline: {total / h_elapsed:.1f} records/s, "
                f"p50 {np.percentile(hlat, 50):.0f} ms, p99 {np.percentile(hlat, 99):.0f} ms"
            )
            print(f"websocket/HTTP throughput ratio: {h_elapsed / elapsed:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
