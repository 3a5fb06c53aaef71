"""Relay benchmark: N simulated carts push 12-lead 10 s 500 Hz WFDB records over loopback.

The server is a separate `uvicorn xinlian.asgi:app` process on the embedded default
(SQLite) in a temporary folder. Three runs against the same server, each with records
the server has not seen:

1. websocket, closed loop: every cart uploads its records back to back (saturation);
2. the same through `POST /relay/v1/records` (multipart), the baseline a user would
   otherwise pick;
3. websocket, open loop: the carts together offer ``--rate`` records/s for ``--seconds``;
   latency is measured from the scheduled send time (no coordinated omission).

Reported: records/s, MB/s, offer→stored p50/p99 (client side), stored→analysed p50/p99
(from the database: receipt to analysis row) and the server's peak RSS. Figures only;
this is not a timed test. Run: `make bench` or `.venv/bin/python bench/relay.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.factories

from devices.simulator import SCENARIOS, simulate, write_record
from ecg_relay.client import RelayClient

BASE_RECORDS = 40


@dataclass
class Run:
    name: str
    latencies_ms: list[float]
    elapsed_s: float
    bytes_sent: int
    record_ids: list[str]

    def line(self) -> str:
        lat = np.asarray(self.latencies_ms)
        n = len(lat)
        return (
            f"| {self.name} | {n} | {n / self.elapsed_s:.1f} | "
            f"{self.bytes_sent / 1e6 / self.elapsed_s:.2f} | "
            f"{np.percentile(lat, 50):.0f} | {np.percentile(lat, 99):.0f} |"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_carts(var: Path, n: int) -> list[str]:
    """A county with one township and ``n`` enrolled carts; their credentials."""
    from tests import factories
    from xinlian.app import create_app
    from xinlian.settings import Settings

    app = create_app(Settings(var_dir=var, secret_key="bench"), start_workers=False)
    creds = []
    with app.state.sessions() as s:
        _central, (town, _) = factories.county(s)
        for _ in range(n):
            creds.append(factories.device(s, org=town)[1])
        s.commit()
    app.state.engine.dispose()
    return creds


class Records:
    """Distinct records: simulated base records, made unique by a header comment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = [
            write_record(simulate(SCENARIOS[i % len(SCENARIOS)], seed=i), folder / "base", f"b{i}")
            for i in range(BASE_RECORDS)
        ]
        self.count = 0

    def take(self) -> list[Path]:
        self.count += 1
        hea, dat = self.base[self.count % len(self.base)]
        name = f"c{self.count}"
        out = self.folder / "copies" / name
        out.mkdir(parents=True)
        lines = hea.read_text().splitlines()
        lines[0] = lines[0].replace(hea.stem, name, 1)
        lines = [ln.replace(dat.name, f"{name}.dat") for ln in lines]
        (out / f"{name}.hea").write_text("\n".join([*lines, f"# bench copy {self.count}"]) + "\n")
        os.link(dat, out / f"{name}.dat")
        return [out / f"{name}.hea", out / f"{name}.dat"]


def size_of(files: list[Path]) -> int:
    return sum(p.stat().st_size for p in files)


async def ws_closed(url: str, creds: list[str], recs: list[list[list[Path]]]) -> Run:
    lat: list[float] = []
    ids: list[str] = []

    async def cart(i: int) -> None:
        client = RelayClient(url, creds[i])
        for k, files in enumerate(recs[i]):
            t = time.perf_counter()
            stored = await client.upload(
                files, metadata={"patient": {"name": "bench"}}, upload_id=f"w{i}-{k}"
            )
            lat.append((time.perf_counter() - t) * 1000)
            ids.append(stored.record_id)
        await client.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(cart(i) for i in range(len(creds))))
    total = sum(size_of(f) for cart_recs in recs for f in cart_recs)
    return Run("websocket, back to back", lat, time.perf_counter() - t0, total, ids)


async def ws_open(url: str, creds: list[str], records: Records, rate: float, seconds: float) -> Run:
    lat: list[float] = []
    ids: list[str] = []
    per_cart = max(1, round(rate * seconds / len(creds)))
    interval = len(creds) / rate
    plans = [[records.take() for _ in range(per_cart)] for _ in creds]
    clients = [RelayClient(url, c) for c in creds]
    await asyncio.gather(*(c.connect() for c in clients))  # connected carts, as in the field

    async def cart(i: int, start: float) -> None:
        for k, files in enumerate(plans[i]):
            due = start + k * interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            stored = await clients[i].upload(files, metadata={}, upload_id=f"o{i}-{k}")
            lat.append((time.perf_counter() - due) * 1000)
            ids.append(stored.record_id)

    t0 = time.perf_counter()
    await asyncio.gather(*(cart(i, t0 + random.uniform(0, interval)) for i in range(len(creds))))
    elapsed = time.perf_counter() - t0
    await asyncio.gather(*(c.close() for c in clients))
    total = sum(size_of(f) for plan in plans for f in plan)
    return Run(f"websocket, {rate:g} records/s offered", lat, elapsed, total, ids)


async def http_closed(base: str, creds: list[str], recs: list[list[list[Path]]]) -> Run:
    lat: list[float] = []
    ids: list[str] = []

    async def cart(i: int) -> None:
        headers = {"Authorization": f"Bearer {creds[i]}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for files in recs[i]:
                t = time.perf_counter()
                r = await http.post(
                    "/api/v1/records",
                    data={"metadata": json.dumps({"patient": {"name": "bench"}})},
                    files=[
                        ("files", (p.name, p.read_bytes(), "application/octet-stream"))
                        for p in files
                    ],
                )
                r.raise_for_status()
                lat.append((time.perf_counter() - t) * 1000)
                ids.append(r.json()["record_id"])

    t0 = time.perf_counter()
    await asyncio.gather(*(cart(i) for i in range(len(creds))))
    total = sum(size_of(f) for cart_recs in recs for f in cart_recs)
    return Run("HTTP multipart POST, back to back", lat, time.perf_counter() - t0, total, ids)


def analysed_ms(db: Path, record_ids: list[str], timeout_s: float = 600) -> np.ndarray:
    """Receipt to analysis row, ms, once every record has its analysis."""
    eng = create_engine(f"sqlite:///{db}")
    ids = ",".join(f"'{r}'" for r in record_ids)
    query = text(
        "SELECT r.received_at, a.created_at FROM ecg_record r "
        f"JOIN analysis a ON a.record_id = r.id WHERE r.id IN ({ids})"
    )
    deadline = time.time() + timeout_s
    while True:
        with eng.connect() as c:
            rows = c.execute(query).all()
        if len(rows) >= len(record_ids) or time.time() > deadline:
            break
        time.sleep(0.5)
    eng.dispose()

    def ts(v: object) -> float:
        return datetime.fromisoformat(str(v)).timestamp()

    return np.array([(ts(b) - ts(a)) * 1000 for a, b in rows])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(
    args: list[str], env: dict[str, str], port: int | None = None, nice: int = 0
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, *args], env=env, preexec_fn=(lambda: os.nice(nice)) if nice else None
    )
    deadline = time.time() + 30
    while port is not None and time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    return proc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--carts", type=int, default=50)
    p.add_argument("--per-cart", type=int, default=6, help="records per cart, back to back")
    p.add_argument("--rate", type=float, default=100.0, help="records/s offered (open loop)")
    p.add_argument("--seconds", type=float, default=6.0, help="open-loop duration")
    p.add_argument(
        "--analysis",
        choices=["process", "thread", "off"],
        default="process",
        help="analysis worker: its own process (xinlian worker), a thread in the server, or none",
    )
    p.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="niceness of the analysis process (e.g. 10: the relay first, analysis catches up)",
    )
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xinlian-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        var = tmp / "var"
        creds = seed_carts(var, args.carts)
        records = Records(tmp / "records")
        port = free_port()
        env = {
            **os.environ,
            "XINLIAN_VAR_DIR": str(var),
            "XINLIAN_SECRET_KEY": "bench",
            # A cart sends a few records an hour; the benchmark sends them back to back.
            "XINLIAN_MAX_OFFERS_PER_MINUTE": "1000000",
            "XINLIAN_ANALYSIS_WORKERS": "1" if args.analysis == "thread" else "0",
        }
        server_args = ["-m", "uvicorn", "xinlian.asgi:app", "--host", "127.0.0.1"]
        server = start([*server_args, "--port", str(port), "--log-level", "warning"], env, port)
        procs.append(server)
        if args.analysis == "process":
            # `xinlian worker`, with every table's model loaded first: the command alone does
            # not import the device table the analysis rows refer to.
            worker = "import sys, xinlian.tables; from xinlian.cli import main; sys.argv[1:] = ['worker']; main()"
            procs.append(start(["-c", worker], env, nice=args.worker_nice))
        url, base = f"ws://127.0.0.1:{port}/relay/v1", f"http://127.0.0.1:{port}"

        def batch() -> list[list[list[Path]]]:
            return [[records.take() for _ in range(args.per_cart)] for _ in range(args.carts)]

        runs = [asyncio.run(ws_closed(url, creds, batch()))]
        s2a = (
            analysed_ms(var / "xinlian.sqlite3", runs[0].record_ids)
            if args.analysis != "off"
            else None
        )
        runs.append(asyncio.run(http_closed(base, creds, batch())))
        runs.append(asyncio.run(ws_open(url, creds, records, args.rate, args.seconds)))
        rss = peak_rss_mb(server.pid)

        print(
            f"\n{args.carts} carts, records of {size_of(records.base[0]) / 1e3:.0f} kB "
            f"(12 leads, 10 s, 500 Hz, format 16), analysis: {args.analysis}, {os.cpu_count()} CPUs"
        )
        print("| run | records | records/s | MB/s | offer→stored p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        for run in runs:
            print(run.line())
        if s2a is not None and len(s2a):
            print(
                f"stored→analysed (first run, {len(s2a)} records): "
                f"p50 {np.percentile(s2a, 50):.0f} ms, p99 {np.percentile(s2a, 99):.0f} ms"
            )
        print(f"server peak RSS: {rss:.0f} MB")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
