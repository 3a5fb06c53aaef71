"""Fixtures for relay tests: the real platform server and an enrolled cart."""

from __future__ import annotations

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
