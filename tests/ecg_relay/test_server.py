"""The relay loop over real sockets: cuts mid-frame, restarts, per-cart limits, HTTP, janitor."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from devices.models import Device
from ecg_relay.client import RelayClient, file_sha256
from ecg_relay.models import AnalysisJob, EcgRecord
from ecg_relay.protocol import encode_chunk
from ecg_relay.server import WebsocketsTransport, serve_connection
from tests.conftest import LiveServer, make_settings, start_server, stop_server
from tests.ecg_relay.conftest import Cart, enrol_cart, next_frame, raw, record_files
from xinlian.relay_router import HTTP_UPLOAD_PATH, relay_parts


def _offer(files: list[Path], upload_id: str) -> str:
    return json.dumps(
        {
            "type": "offer",
            "upload_id": upload_id,
            "record_name": next(p.stem for p in files if p.suffix == ".hea"),
            "files": [
                {"name": p.name, "size": p.stat().st_size, "sha256": file_sha256(p)} for p in files
            ],
            "metadata": {"patient": {"name": "测试", "sex": "F"}},
        }
    )


def _counts(live: LiveServer) -> tuple[int, int]:
    with live.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(EcgRecord)) or 0,
            s.scalar(select(func.count()).select_from(AnalysisJob)) or 0,
        )


def _stored_matches(live: LiveServer, record_id: str, files: list[Path]) -> bool:
    with live.sessions() as s:
        rec = s.get(EcgRecord, record_id)
        assert rec is not None
        return all(file_sha256(Path(rec.stored_path) / p.name) == file_sha256(p) for p in files)


def test_cut_in_the_middle_of_a_frame_resumes_from_the_acked_offset(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Half a chunk frame on the wire, then the TCP socket dies: the server keeps the acked bytes."""
    hea, dat = record_files(tmp_path, seed=7)
    data = dat.read_bytes()

    async def go() -> tuple[int, str]:
        async with raw(live_server, cart.credential) as ws:
            await ws.send(_offer([hea, dat], "mid-1"))
            await next_frame(ws, "offer_reply")
            await ws.send(encode_chunk("mid-1", dat.name, 0, data[:30_000]))
            assert (await next_frame(ws, "ack"))["offset"] == 30_000
            frame = Frame(
                Opcode.BINARY, encode_chunk("mid-1", dat.name, 30_000, data[30_000:60_000])
            )
            wire = frame.serialize(mask=True)
            ws.transport.write(wire[: len(wire) // 2])  # type: ignore[attr-defined]
            await asyncio.sleep(0.2)
            ws.transport.abort()  # type: ignore[attr-defined]
        async with raw(live_server, cart.credential) as ws:
            await ws.send(_offer([hea, dat], "mid-1"))
            held = (await next_frame(ws, "offer_reply"))["offsets"][dat.name]
        client = RelayClient(live_server.ws_url, cart.credential)
        stored = await client.upload([hea, dat], metadata={}, upload_id="mid-1")
        await client.close()
        return held, stored.record_id

    held, record_id = asyncio.run(go())
    assert held == 30_000
    assert _stored_matches(live_server, record_id, [hea, dat])


def test_staged_bytes_survive_a_server_restart(tmp_path: Path, database_url: str) -> None:
    """Stop the server mid-upload, start a new one on the same disk: the upload resumes."""
    from xinlian.app import create_app

    settings = make_settings(tmp_path, database_url)
    live = start_server(create_app(settings, migrate=False), settings)
    cart = enrol_cart(live)
    hea, dat = record_files(tmp_path, seed=8)

    async def first() -> None:
        async with raw(live, cart.credential) as ws:
            await ws.send(_offer([hea, dat], "restart-1"))
            await next_frame(ws, "offer_reply")
            await ws.send(encode_chunk("restart-1", hea.name, 0, hea.read_bytes()))
            await next_frame(ws, "ack")
            await ws.send(encode_chunk("restart-1", dat.name, 0, dat.read_bytes()[:50_000]))
            await next_frame(ws, "ack")

    asyncio.run(first())
    stop_server(live)
    live.app.state.engine.dispose()
    live = start_server(create_app(settings, migrate=False), settings)

    async def second() -> tuple[dict[str, int], str]:
        async with raw(live, cart.credential) as ws:
            await ws.send(_offer([hea, dat], "restart-1"))
            offsets = (await next_frame(ws, "offer_reply"))["offsets"]
        client = RelayClient(live.ws_url, cart.credential)
        stored = await client.upload([hea, dat], metadata={}, upload_id="restart-1")
        await client.close()
        return offsets, stored.record_id

    try:
        offsets, record_id = asyncio.run(second())
        assert offsets == {hea.name: hea.stat().st_size, dat.name: 50_000}
        assert _stored_matches(live, record_id, [hea, dat])
    finally:
        stop_server(live)
        live.app.state.engine.dispose()


def test_uploads_in_flight_are_limited_per_cart_not_per_connection(
    tight_server: LiveServer, tmp_path: Path
) -> None:
    """Two connections of one cart share max_uploads_in_flight (2); closing one frees its slot."""
    cart = enrol_cart(tight_server)
    files = [record_files(tmp_path, seed=20 + i, name=f"f{i}") for i in range(3)]

    async def go() -> list[str]:
        seen = []
        async with raw(tight_server, cart.credential) as a:
            async with raw(tight_server, cart.credential) as b:
                await a.send(_offer(files[0], "a"))
                seen.append((await next_frame(a))["type"])
                await b.send(_offer(files[1], "b"))
                seen.append((await next_frame(b))["type"])
                await b.send(_offer(files[2], "c"))
                seen.append((await next_frame(b))["code"])
            await asyncio.sleep(0.3)  # b's close reaches the server
            await a.send(_offer(files[2], "c"))
            seen.append((await next_frame(a))["type"])
        return seen

    assert asyncio.run(go()) == ["offer_reply", "offer_reply", "TOO_MANY_UPLOADS", "offer_reply"]


def test_http_upload_takes_the_same_path_and_shares_deduplication(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """POST /api/v1/records stores a record; the websocket then sees it as a duplicate."""
    hea, dat = record_files(tmp_path, seed=9)
    url = live_server.url + HTTP_UPLOAD_PATH
    meta = json.dumps({"patient": {"name": "测试", "sex": "M"}, "chest_pain": True})

    def post(files: list[tuple[str, bytes]], credential: str = cart.credential) -> httpx.Response:
        return httpx.post(
            url,
            data={"metadata": meta},
            files=[("files", (n, b, "application/octet-stream")) for n, b in files],
            headers={"Authorization": f"Bearer {credential}"},
            timeout=30,
        )

    good = [(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes())]
    refused = post(good, credential="wrong")
    assert (refused.status_code, refused.json()["code"]) == (401, "AUTH_FAILED")
    short = post([good[0], (dat.name, dat.read_bytes()[:-10])])
    assert (short.status_code, short.json()["code"]) == (422, "DAT_SIZE_MISMATCH")
    unsafe = post([good[0], ("../x.dat", dat.read_bytes())])
    assert unsafe.status_code == 400 and unsafe.json()["code"] == "BAD_FILENAME"
    assert _counts(live_server) == (0, 0)
    assert list((live_server.settings.ecg_dir / "staging").rglob("*.dat")) == []
    ok = post(good)
    assert ok.status_code == 201 and ok.json()["duplicate"] is False
    record_id = ok.json()["record_id"]
    assert _stored_matches(live_server, record_id, [hea, dat])
    with live_server.sessions() as s:
        rec = s.get(EcgRecord, record_id)
        assert rec is not None and rec.chest_pain is True

    async def over_websocket() -> dict[str, Any]:
        async with raw(live_server, cart.credential) as ws:
            await ws.send(_offer([hea, dat], "w1"))
            return await next_frame(ws, "offer_reply")

    reply = asyncio.run(over_websocket())
    assert (reply["status"], reply["record_id"], reply["duplicate"]) == ("stored", record_id, True)
    again = post(good)
    assert again.status_code == 200 and again.json() == {"record_id": record_id, "duplicate": True}
    assert _counts(live_server) == (1, 1)


def test_serve_connection_runs_on_the_websockets_library_too(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """The same loop behind a websockets server (handshake auth in process_request) stores a record."""
    backend, storage, limits, quotas = relay_parts(live_server.app.state)
    files = record_files(tmp_path, seed=10)

    async def go() -> tuple[int, str]:
        async def check(conn: ServerConnection, request: Request) -> Response | None:
            value = request.headers.get("Authorization", "")
            device = await backend.authenticate(value.removeprefix("Bearer "))
            if device is None:
                return Response(403, "Forbidden", Headers(), b"AUTH_FAILED")
            conn.device = device  # type: ignore[attr-defined]
            return None

        async def handler(conn: ServerConnection) -> None:
            await serve_connection(
                WebsocketsTransport(conn),
                backend,
                conn.device,  # type: ignore[attr-defined]
                storage=storage,
                limits=limits,
                quotas=quotas,
            )

        async with serve(handler, "127.0.0.1", 0, process_request=check) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            url = f"ws://127.0.0.1:{port}/relay/v1"
            try:
                await connect(url, additional_headers={"Authorization": "Bearer nope"})
                status = 101
            except Exception as exc:
                status = exc.response.status_code  # type: ignore[attr-defined]
            client = RelayClient(url, cart.credential)
            stored = await client.upload(files, metadata={}, upload_id="wsl-1")
            await client.close()
            return status, stored.record_id

    status, record_id = asyncio.run(go())
    assert status == 403
    assert _stored_matches(live_server, record_id, files)


def test_heartbeat_updates_the_fleet_view(live_server: LiveServer, cart: Cart) -> None:
    """Agent version, outbox depth and free disk from a heartbeat land on the device row."""

    async def go() -> None:
        async with raw(live_server, cart.credential) as ws:
            body = {
                "type": "heartbeat",
                "agent_version": "0.3.1",
                "outbox_depth": 4,
                "disk_free_bytes": 123,
            }
            await ws.send(json.dumps(body))
            await next_frame(ws, "heartbeat_ack")
            await asyncio.sleep(0.3)  # saved after the ack

    asyncio.run(go())
    with live_server.sessions() as s:
        dev = s.get(Device, cart.device_id)
        assert dev is not None
        assert (dev.agent_version, dev.outbox_depth, dev.disk_free_bytes) == ("0.3.1", 4, 123)
        assert dev.last_seen_at is not None


def test_janitor_removes_orphan_folders_but_never_stored_records(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """A record folder left by a crash before commit goes; a committed record's folder stays."""
    backend, storage, _limits, _quotas = relay_parts(live_server.app.state)
    files = record_files(tmp_path, seed=11)

    async def go() -> tuple[str, Any]:
        client = RelayClient(live_server.ws_url, cart.credential)
        stored = await client.upload(files, metadata={}, upload_id="jan-1")
        await client.close()
        orphan = storage.record_dir(hashlib.sha256(b"crashed").hexdigest())
        orphan.mkdir(parents=True)
        (orphan / "x.dat").write_bytes(b"\0" * 10)
        report = await backend.janitor(storage, orphan_grace_s=-1.0)
        return stored.record_id, (orphan, report)

    record_id, (orphan, report) = asyncio.run(go())
    assert report.orphan_records == (orphan,) and not orphan.exists()
    assert _stored_matches(live_server, record_id, files)
