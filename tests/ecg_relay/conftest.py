"""Fixtures for relay tests: the real platform server and an enrolled cart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from devices.simulator import simulate, write_record
from tests.conftest import Cart, LiveServer, enrol_cart, make_settings, start_server, stop_server

__all__ = ["Cart", "enrol_cart"]


@pytest.fixture()
def tight_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A server with small limits, to test that each limit is enforced."""
    from xinlian.app import create_app

    settings = make_settings(
        tmp_path,
        database_url,
        max_record_bytes=200_000,
        max_frame_bytes=70_000,
        max_uploads_in_flight=2,
        max_offers_per_minute=5,
        relay_idle_timeout_s=1.5,
    )
    live = start_server(create_app(settings, migrate=False), settings)
    yield live
    stop_server(live)
    live.app.state.engine.dispose()


def record_files(
    tmp_path: Path, scenario: str = "normal", seed: int = 1, name: str = "r1"
) -> list[Path]:
    return write_record(simulate(scenario, seed=seed), tmp_path / f"{name}-{seed}", name)


@asynccontextmanager
async def raw(live: LiveServer, credential: str) -> AsyncIterator[ClientConnection]:
    ws = await connect(
        live.ws_url, additional_headers={"Authorization": f"Bearer {credential}"}, max_size=None
    )
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    yield ws
    await ws.close()


async def next_frame(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next JSON frame (of ``kind``), skipping clock probes and results."""
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] in ("clock_probe", "result", "heartbeat_ack") and kind != frame["type"]:
            continue
        if kind is None or frame["type"] == kind or frame["type"] == "error":
            return frame


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 that cuts connections the way a flaky rural line does.

    The first ``refuse`` connections are dropped on accept; the next ``cuts`` connections
    are aborted (no close handshake, like a pulled cable) once ``cut_after`` bytes went
    upstream, usually in the middle of a websocket frame; later ones pass untouched.
    """

    def __init__(self, target_port: int, *, cut_after: int, cuts: int, refuse: int = 0) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = cuts
        self.refuse = refuse
        self.connections = 0
        self.cut = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def url(self, path: str = "/relay/v1") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.refuse:
            writer.transport.abort()
            return
        cut = self.cut < self.cuts
        if cut:
            self.cut += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        budget = self.cut_after if cut else None

        async def upstream() -> None:
            nonlocal budget
            while data := await reader.read(4096):
                if budget is not None:
                    if len(data) >= budget:
                        up_writer.write(data[:budget])
                        await up_writer.drain()
                        up_writer.transport.abort()
                        writer.transport.abort()
                        return
                    budget -= len(data)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)
        writer.transport.abort()
        up_writer.transport.abort()


@pytest.fixture()
def burst_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """The platform with the per-cart offer rate out of the way, for bursts from one cart.

    Fifty concurrent copies from one cart retry offers while four are in flight; on a slow
    machine their retries passed the 120 offers a minute, and a client whose backoff ran out
    inside that minute failed the test. The rate limit has its own tests (``tight_server``
    in test_relay.py, and test_protocol.py); every other limit stays at its default.
    """
    from xinlian.app import create_app

    settings = make_settings(tmp_path, database_url, max_offers_per_minute=100_000)
    live = start_server(create_app(settings, migrate=False), settings)
    yield live
    stop_server(live)
    live.app.state.engine.dispose()
