"""The cart client against the real server: resume through cuts, backoff, progress, results."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from ecg_relay.client import AuthRefused, RelayClient, RelayRefused, file_sha256
from ecg_relay.models import EcgRecord
from tests.conftest import LiveServer
from tests.ecg_relay.conftest import Cart, CuttingProxy, enrol_cart, record_files
from xinlian.db import utcnow


def test_upload_completes_through_repeated_cuts_mid_chunk(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Five connections cut after 15 kB each: the client resumes from the server's offsets."""
    files = record_files(tmp_path, seed=12)

    async def go() -> tuple[str, int, list[int]]:
        progress: list[int] = []
        async with CuttingProxy(live_server.port, cut_after=15_000, cuts=5) as proxy:
            client = RelayClient(
                proxy.url(),
                cart.credential,
                chunk_size=16 * 1024,
                max_backoff_s=0.1,
                on_progress=lambda uid, done, total: progress.append(done),
            )
            stored = await client.upload(files, metadata={}, upload_id="cuts-1", attempts=12)
            await client.close()
            assert proxy.cut == 5
            return stored.record_id, proxy.connections, progress

    record_id, connections, progress = asyncio.run(go())
    assert connections == 6  # every cut forced a reconnect, the sixth link held
    total = sum(p.stat().st_size for p in files)
    assert progress[-1] == total
    with live_server.sessions() as s:
        rec = s.get(EcgRecord, record_id)
        assert rec is not None
        assert all(file_sha256(Path(rec.stored_path) / p.name) == file_sha256(p) for p in files)
    staged = list((live_server.settings.ecg_dir / "staging").rglob("*.dat"))
    assert staged == []


def test_client_backs_off_while_the_line_is_down(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Two refused connections, then the link works: stored, after growing pauses."""
    files = record_files(tmp_path, seed=13)

    async def go() -> tuple[bool, float, int]:
        async with CuttingProxy(live_server.port, cut_after=0, cuts=0, refuse=2) as proxy:
            client = RelayClient(proxy.url(), cart.credential, max_backoff_s=2.0)
            started = time.monotonic()
            stored = await client.upload(files, metadata={}, upload_id="down-1")
            await client.close()
            return stored.duplicate, time.monotonic() - started, proxy.connections

    duplicate, elapsed, connections = asyncio.run(go())
    assert not duplicate and connections == 3
    # Pauses of 0.5 then 1 s, each jittered by ±50 %: at least 0.75 s in all.
    assert 0.75 <= elapsed < 5


def test_progress_counts_every_byte_once_and_a_duplicate_sends_none(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Progress rises to the record's size; the same record again is 'stored' at the offer."""
    files = record_files(tmp_path, seed=14)
    total = sum(p.stat().st_size for p in files)

    async def go() -> tuple[list[tuple[int, int]], Any, Any]:
        seen: list[tuple[int, int]] = []
        client = RelayClient(
            live_server.ws_url,
            cart.credential,
            chunk_size=8192,
            on_progress=lambda uid, done, tot: seen.append((done, tot)),
        )
        first = await client.upload(files, metadata={}, upload_id="p-1")
        n = len(seen)
        second = await client.upload(files, metadata={}, upload_id="p-2")
        assert len(seen) == n
        await client.close()
        return seen, first, second

    seen, first, second = asyncio.run(go())
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and dones[-1] == total and {t for _, t in seen} == {total}
    assert len(seen) >= total // 8192
    assert (first.duplicate, second.duplicate, second.record_id) == (False, True, first.record_id)


def test_permanent_refusal_is_raised_without_retrying(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """A header wfdb cannot parse: RelayRefused at once, with both messages."""
    hea, dat = record_files(tmp_path, seed=15)
    hea.write_text("garbage\n")

    async def go() -> float:
        client = RelayClient(live_server.ws_url, cart.credential)
        started = time.monotonic()
        try:
            with pytest.raises(RelayRefused) as info:
                await client.upload([hea, dat], metadata={}, upload_id="bad-1")
        finally:
            await client.close()
        assert info.value.code == "BAD_HEADER" and info.value.permanent
        assert info.value.message_zh == "WFDB 头文件无法解析"
        return time.monotonic() - started

    assert asyncio.run(go()) < 2.0


def test_wrong_credential_raises_auth_refused(live_server: LiveServer) -> None:
    """A credential the server does not know is refused in the handshake."""

    async def go() -> None:
        await RelayClient(live_server.ws_url, "not-a-credential").connect()

    with pytest.raises(AuthRefused):
        asyncio.run(go())


def test_results_stream_back_with_the_green_channel_state(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """An inferior STEMI comes back analysed as acute with an opened referral."""
    files = record_files(tmp_path, scenario="inferior_stemi", seed=3)

    async def go() -> dict[str, Any]:
        client = RelayClient(live_server.ws_url, cart.credential)
        results = client.iter_results()
        meta = {"chest_pain": True, "first_medical_contact_at": utcnow().isoformat()}
        stored = await client.upload(files, metadata=meta, upload_id="stemi-1")
        async with asyncio.timeout(30):
            async for result in results:
                if result["record_id"] == stored.record_id and result["referral"]:
                    break
        await client.close()
        return result

    result = asyncio.run(go())
    assert result["analysis"]["acute"] is True and result["analysis"]["readable"] is True
    assert result["referral"]["state"] == "opened"


def test_a_listening_cart_is_kept_alive_past_the_idle_timeout(
    tight_server: LiveServer, tmp_path: Path
) -> None:
    """With a 1.5 s idle timeout, the client's own heartbeats keep a waiting connection open."""
    cart = enrol_cart(tight_server)

    async def go() -> bool:
        client = RelayClient(tight_server.ws_url, cart.credential)
        await client.connect()
        first = client._ws
        await asyncio.sleep(2.5)
        alive = client._ws is first and first is not None
        await client.close()
        return alive

    assert asyncio.run(go())
