"""Clock offset estimation: synthetic exchanges and a real loopback exchange with the relay."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from sqlalchemy import select

from devices.clock import ClockEstimator, sample
from devices.models import Device
from ecg_relay.client import RelayClient
from tests.conftest import Cart, LiveServer


def test_offset_from_jittery_exchanges() -> None:
    """With queueing jitter both ways, the minimum-delay sample gives the offset within 10 ms."""
    rng = np.random.default_rng(1)
    est = ClockEstimator()
    true_offset = 4321.0
    for i in range(16):
        t1 = 1e12 + i * 60_000
        up, down = 5 + rng.exponential(10), 5 + rng.exponential(10)
        t2 = t1 + up + true_offset
        t3 = t2 + 1.0
        t4 = t3 - true_offset + down
        est.add(sample(t1, t2, t3, t4))
    assert abs((est.offset_ms() or 0) - true_offset) < 10
    assert est.delay_ms() is not None and est.delay_ms() < 20


def test_drift_needs_an_hour_of_samples() -> None:
    """Drift in ppm from samples spread over hours; None before that."""
    est = ClockEstimator()
    for i in range(8):
        at = i * 900_000.0  # every 15 min
        off = 100 + 50e-6 * at  # 50 ppm fast
        est.add(sample(at - off - 1, at, at, at - off + 1))
    assert est.drift_ppm() is not None and abs(est.drift_ppm() - 50) < 1  # type: ignore[operator]


def test_offset_over_loopback_within_50_ms(live_server: LiveServer, cart: Cart) -> None:
    """A cart whose clock runs 90 s fast: the server's estimate is within 50 ms of it."""
    skew_s = 90.0
    live_server.app.state.relay_parts = None  # fresh parts built with a fast probe below

    from ecg_relay.server import Limits
    from xinlian.relay_router import relay_parts

    backend, storage, _limits, rate = relay_parts(live_server.app.state)
    live_server.app.state.relay_parts = (backend, storage, Limits(clock_probe_s=0.2), rate)

    async def go() -> None:
        client = RelayClient(
            live_server.ws_url, cart.credential, clock=lambda: time.time() + skew_s
        )
        await client.connect()
        await asyncio.sleep(2.0)  # several probes
        await client.close()

    asyncio.run(go())
    with live_server.sessions() as s:
        offset = s.scalar(select(Device.clock_offset_ms).where(Device.id == cart.device_id))
    assert offset is not None
    assert abs(offset - skew_s * 1000) < 50
