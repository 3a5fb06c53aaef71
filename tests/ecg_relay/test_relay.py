"""The relay over real sockets: bad input refused cleanly, resume, dedup, revocation, limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from devices.models import Device
from ecg_relay.client import AuthRefused, RelayClient, RelayRefused, file_sha256
from ecg_relay.models import AnalysisJob, EcgRecord
from ecg_relay.protocol import encode_chunk
from tests.conftest import LiveServer
from tests.ecg_relay.conftest import Cart, enrol_cart, next_frame, raw, record_files
from xinlian.db import utcnow


def _offer(files: list[Path], upload_id: str, **overrides: Any) -> dict[str, Any]:
    offer = {
        "type": "offer",
        "upload_id": upload_id,
        "format": "wfdb",
        "record_name": next(p.stem for p in files if p.suffix == ".hea"),
        "files": [
            {"name": p.name, "size": p.stat().st_size, "sha256": file_sha256(p)} for p in files
        ],
        "metadata": {"patient": {"name": "测试"}},
    }
    offer.update(overrides)
    return offer


def _counts(live: LiveServer) -> tuple[int, int]:
    with live.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(EcgRecord)) or 0,
            s.scalar(select(func.count()).select_from(AnalysisJob)) or 0,
        )


def test_wrong_missing_or_revoked_credential_is_refused_before_data(
    live_server: LiveServer, cart: Cart
) -> None:
    """The handshake itself fails (HTTP 403) without a valid credential."""

    async def attempt(headers: dict[str, str]) -> int:
        with pytest.raises(InvalidStatus) as info:
            await connect(live_server.ws_url, additional_headers=headers)
        return info.value.response.status_code

    assert asyncio.run(attempt({})) == 403
    assert asyncio.run(attempt({"Authorization": "Bearer not-a-credential"})) == 403
    with live_server.sessions() as s:
        s.get(Device, cart.device_id).revoked_at = utcnow()  # type: ignore[union-attr]
        s.commit()
    assert asyncio.run(attempt({"Authorization": f"Bearer {cart.credential}"})) == 403


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "BAD_JSON"),
        ('["a list"]', "BAD_JSON"),
        ('{"type": "teleport"}', "UNKNOWN_FRAME"),
        ('{"type": "offer", "upload_id": "u1"}', "BAD_FRAME"),
        ('{"type": "commit", "upload_id": "nope"}', "UNKNOWN_UPLOAD"),
    ],
)
def test_malformed_frames_get_error_frames(
    live_server: LiveServer, cart: Cart, frame: str, code: str
) -> None:
    """Each malformed frame is answered with its stable code in both languages; the link stays up."""

    async def go() -> dict[str, Any]:
        async with raw(live_server, cart.credential) as ws:
            await ws.send(frame)
            reply = await next_frame(ws)
            await ws.send('{"type": "heartbeat", "outbox_depth": 0}')
            assert (await next_frame(ws, "heartbeat_ack"))["type"] == "heartbeat_ack"
            return reply

    reply = asyncio.run(go())
    assert reply["type"] == "error" and reply["code"] == code
    assert reply["message_zh"] and reply["message_en"]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda o: o["files"][0].update(name="../etc.hea"), "BAD_FILENAME"),
        (lambda o: o["files"][1].update(name="sub/dir.dat"), "BAD_FILENAME"),
        (lambda o: o["files"][0].update(sha256="xyz"), "BAD_MANIFEST"),
        (lambda o: o.update(files=o["files"][1:]), "BAD_MANIFEST"),
        (lambda o: o["files"][1].update(size=50_000_000), "RECORD_TOO_LARGE"),
    ],
)
def test_bad_offers_are_refused(
    live_server: LiveServer, cart: Cart, tmp_path: Path, mutate: Any, code: str
) -> None:
    """Unsafe names, missing files, bad hashes and oversize records are refused at the offer."""
    offer = _offer(record_files(tmp_path), "bad-offer")
    mutate(offer)

    async def go() -> dict[str, Any]:
        async with raw(live_server, cart.credential) as ws:
            await ws.send(json.dumps(offer))
            return await next_frame(ws)

    assert asyncio.run(go())["code"] == code
    assert _counts(live_server) == (0, 0)
    assert not list((live_server.settings.ecg_dir / "staging").rglob("*.dat"))


def _send_record(
    ws_url: str, credential: str, files: list[Path], upload_id: str, tamper: Any = None
) -> list[dict[str, Any]]:
    """Offer, send every chunk (optionally tampered), commit; all frames received."""

    async def go() -> list[dict[str, Any]]:
        seen = []
        ws = await connect(
            ws_url, additional_headers={"Authorization": f"Bearer {credential}"}, max_size=None
        )
        await ws.recv()
        await ws.send(json.dumps(_offer(files, upload_id)))
        seen.append(await next_frame(ws, "offer_reply"))
        for p in files:
            data = p.read_bytes()
            chunk = encode_chunk(upload_id, p.name, 0, data)
            await ws.send(tamper(p, chunk) if tamper else chunk)
            seen.append(await next_frame(ws, "ack"))
        await ws.send(json.dumps({"type": "commit", "upload_id": upload_id}))
        seen.append(await next_frame(ws, "stored"))
        await ws.close()
        return seen

    return asyncio.run(go())


def test_wrong_sha256_is_refused_and_nothing_stored(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Bytes that do not match the offered hash: SHA256_MISMATCH at commit, no record."""
    files = record_files(tmp_path)

    def flip(p: Path, chunk: bytes) -> bytes:
        return chunk[:-1] + bytes([chunk[-1] ^ 0xFF]) if p.suffix == ".dat" else chunk

    frames = _send_record(live_server.ws_url, cart.credential, files, "sha-1", tamper=flip)
    assert frames[-1]["code"] == "SHA256_MISMATCH"
    assert _counts(live_server) == (0, 0)


def test_chunk_beyond_size_and_wrong_offset_change_nothing(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """A chunk past the declared size or at the wrong offset is refused and writes nothing."""
    files = record_files(tmp_path)
    dat = files[1]

    async def go() -> list[dict[str, Any]]:
        async with raw(live_server, cart.credential) as ws:
            await ws.send(json.dumps(_offer(files, "off-1")))
            await next_frame(ws, "offer_reply")
            out = []
            await ws.send(encode_chunk("off-1", dat.name, 0, dat.read_bytes() + b"extra"))
            out.append(await next_frame(ws))
            await ws.send(encode_chunk("off-1", dat.name, 100, dat.read_bytes()[100:200]))
            out.append(await next_frame(ws))
            await ws.send(encode_chunk("off-1", dat.name, 0, dat.read_bytes()[:1000]))
            out.append(await next_frame(ws, "ack"))
            await ws.send(encode_chunk("off-1", dat.name, 0, dat.read_bytes()[:1000]))
            out.append(await next_frame(ws, "ack"))  # the same chunk again is harmless
            await ws.send(json.dumps({"type": "commit", "upload_id": "off-1"}))
            out.append(await next_frame(ws))
            return out

    beyond, wrong, ack, again, commit = asyncio.run(go())
    assert beyond["code"] == "CHUNK_BEYOND_SIZE" and wrong["code"] == "BAD_OFFSET"
    assert ack["offset"] == 1000 and again["offset"] == 1000
    assert commit["code"] == "INCOMPLETE"
    staged = next((live_server.settings.ecg_dir / "staging").rglob(dat.name))
    assert staged.stat().st_size == 1000
    assert _counts(live_server) == (0, 0)


@pytest.mark.parametrize(
    ("break_it", "code"),
    [
        (lambda hea, dat: hea.write_text("this is not a header\n"), "BAD_HEADER"),
        (lambda hea, dat: dat.write_bytes(dat.read_bytes()[:-24]), "DAT_SIZE_MISMATCH"),
        (lambda hea, dat: dat.write_bytes(dat.read_bytes() + b"\0" * 24), "DAT_SIZE_MISMATCH"),
        (
            lambda hea, dat: hea.write_text(hea.read_text().replace(" 12 500 ", " 12 50 ", 1)),
            "SAMPLING_RATE",
        ),
        (
            lambda hea, dat: hea.write_text(hea.read_text().replace(" 12 500 ", " 0 500 ", 1)),
            "LEAD_COUNT",
        ),
    ],
)
def test_invalid_wfdb_records_are_refused(
    live_server: LiveServer, cart: Cart, tmp_path: Path, break_it: Any, code: str
) -> None:
    """Headers wfdb cannot parse, short or long .dat, bad rates, bad lead counts: refused whole."""
    hea, dat = record_files(tmp_path)
    break_it(hea, dat)

    async def go() -> None:
        client = RelayClient(live_server.ws_url, cart.credential)
        try:
            await client.upload([hea, dat], metadata={}, upload_id="broken")
        finally:
            await client.close()

    with pytest.raises(RelayRefused) as info:
        asyncio.run(go())
    assert info.value.code == code
    assert _counts(live_server) == (0, 0)
    assert not list((live_server.settings.ecg_dir / "staging").rglob("*.dat"))


def test_flat_and_nan_signals_are_accepted_and_flagged_unreadable(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """A flat (lead-off) record is stored, then analysed as REPEAT_ECG."""
    import numpy as np
    import wfdb

    folder = tmp_path / "flat"
    folder.mkdir()
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    wfdb.wrsamp(
        "flat",
        fs=500,
        units=["mV"] * 12,
        sig_name=names,
        d_signal=np.zeros((5000, 12), dtype=np.int16),
        fmt=["16"] * 12,
        adc_gain=[1000.0] * 12,
        baseline=[0] * 12,
        write_dir=str(folder),
    )

    async def go() -> list[dict[str, Any]]:
        client = RelayClient(live_server.ws_url, cart.credential)
        stored = await client.upload(
            [folder / "flat.hea", folder / "flat.dat"], metadata={}, upload_id="flat"
        )
        results = await client.wait_results([stored.record_id], timeout=30)
        await client.close()
        return results

    (result,) = asyncio.run(go())
    assert result["analysis"]["readable"] is False
    assert result["analysis"]["flag_codes"] == ["REPEAT_ECG"]
    assert result["referral"] is None


def test_nan_samples_are_accepted_and_flagged(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Samples stored as WFDB's missing-value sentinel read back as NaN: stored, REPEAT_ECG."""
    import numpy as np
    import wfdb

    folder = tmp_path / "nan"
    folder.mkdir()
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    sig = np.full((5000, 12), np.nan)
    wfdb.wrsamp(
        "gap",
        fs=500,
        units=["mV"] * 12,
        sig_name=names,
        p_signal=sig,
        fmt=["16"] * 12,
        adc_gain=[1000.0] * 12,
        baseline=[0] * 12,
        write_dir=str(folder),
    )

    async def go() -> dict[str, Any]:
        client = RelayClient(live_server.ws_url, cart.credential)
        stored = await client.upload(
            [folder / "gap.hea", folder / "gap.dat"], metadata={}, upload_id="nan"
        )
        (result,) = await client.wait_results([stored.record_id], timeout=30)
        await client.close()
        return result

    result = asyncio.run(go())
    assert result["analysis"]["flag_codes"] == ["REPEAT_ECG"]
    assert result["analysis"]["readable"] is False


def test_resume_after_connection_cut_mid_chunk(
    live_server: LiveServer, cart: Cart, tmp_path: Path
) -> None:
    """Half the .dat, then the TCP socket dies; a new offer continues from the held offset."""
    hea, dat = record_files(tmp_path, seed=5)
    data = dat.read_bytes()

    async def go() -> tuple[dict[str, Any], str]:
        ws = await connect(
            live_server.ws_url, additional_headers={"Authorization": f"Bearer {cart.credential}"}
        )
        await ws.recv()
        await ws.send(json.dumps(_offer([hea, dat], "cut-1")))
        await next_frame(ws, "offer_reply")
        await ws.send(encode_chunk("cut-1", dat.name, 0, data[:40_000]))
        await next_frame(ws, "ack")
        ws.transport.abort()  # type: ignore[attr-defined]  # no close handshake
        client = RelayClient(live_server.ws_url, cart.credential)
        await client.connect()
        await client._send(_offer([hea, dat], "cut-1"))
        reply = await client._expect({"offer_reply"}, "cut-1")
        await client.close()
        stored = await RelayClient(live_server.ws_url, cart.credential).upload(
            [hea, dat], metadata={}, upload_id="cut-1"
        )
        return reply, stored.record_id

    reply, record_id = asyncio.run(go())
    assert reply["offsets"][dat.name] == 40_000
    with live_server.sessions() as s:
        rec = s.get(EcgRecord, record_id)
        assert rec is not None
        stored_dat = Path(rec.stored_path) / dat.name
        assert hashlib.sha256(stored_dat.read_bytes()).hexdigest() == file_sha256(dat)


def test_same_record_many_times_is_stored_once(burst_server: LiveServer, tmp_path: Path) -> None:
    """50 concurrent copies and 5 sequential ones: one record, one job, one referral."""
    from referral_engine.models import Referral

    cart = enrol_cart(burst_server)
    files = record_files(tmp_path, scenario="inferior_stemi", seed=3)

    async def one(i: int) -> tuple[str, bool]:
        client = RelayClient(burst_server.ws_url, cart.credential)
        try:
            stored = await client.upload(files, metadata={}, upload_id=f"copy-{i}")
        finally:
            await client.close()
        return stored.record_id, stored.duplicate

    async def go() -> list[tuple[str, bool]]:
        burst = await asyncio.gather(*(one(i) for i in range(50)))
        later = [await one(100 + i) for i in range(5)]
        return [*burst, *later]

    outcomes = asyncio.run(go())
    assert len({rid for rid, _ in outcomes}) == 1
    assert sum(1 for _, dup in outcomes if not dup) == 1
    assert _counts(burst_server) == (1, 1)
    with burst_server.sessions() as s:
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not s.scalar(
            select(func.count()).select_from(Referral)
        ):
            time.sleep(0.2)
        assert s.scalar(select(func.count()).select_from(Referral)) == 1
    records = list((burst_server.settings.ecg_dir / "records").glob("*/*"))
    assert len(records) == 1


def test_revocation_closes_an_open_connection(live_server: LiveServer, cart: Cart) -> None:
    """Revoking a cart ends its open connection within seconds with REVOKED."""

    async def go() -> dict[str, Any]:
        async with raw(live_server, cart.credential) as ws:
            with live_server.sessions() as s:
                s.get(Device, cart.device_id).revoked_at = utcnow()  # type: ignore[union-attr]
                s.commit()
            return await asyncio.wait_for(next_frame(ws, "never"), timeout=10)

    frame = asyncio.run(go())
    assert frame["code"] == "REVOKED"

    async def again() -> None:
        await RelayClient(live_server.ws_url, cart.credential).connect()

    with pytest.raises(AuthRefused):
        asyncio.run(again())


def test_limits_are_enforced(tight_server: LiveServer, tmp_path: Path) -> None:
    """Frame size, uploads in flight, offers per minute and idle time each have their code."""
    cart = enrol_cart(tight_server)
    files = [record_files(tmp_path, seed=i, name=f"l{i}") for i in range(6)]

    async def go() -> dict[str, str]:
        codes = {}
        async with raw(tight_server, cart.credential) as ws:
            await ws.send(json.dumps(_offer(files[0], "a")))
            await next_frame(ws, "offer_reply")
            await ws.send(json.dumps(_offer(files[1], "b")))
            await next_frame(ws, "offer_reply")
            await ws.send(json.dumps(_offer(files[2], "c")))
            codes["in_flight"] = (await next_frame(ws))["code"]
            for i in (3, 4):
                await ws.send(json.dumps(_offer(files[i], f"d{i}")))
                await next_frame(ws)
            await ws.send(json.dumps(_offer(files[5], "e")))
            codes["rate"] = (await next_frame(ws))["code"]
        async with raw(tight_server, cart.credential) as ws:
            await ws.send(encode_chunk("a", files[0][1].name, 0, b"\0" * 71_000))
            codes["frame"] = (await next_frame(ws))["code"]
        async with raw(tight_server, cart.credential) as ws:
            # Far beyond the limit the websocket layer itself closes with 1009 (too big).
            await ws.send(b"\0" * 200_000)
            with pytest.raises(ConnectionClosedError) as closed:
                await next_frame(ws)
            codes["huge"] = str(closed.value.rcvd.code if closed.value.rcvd else "")
        async with raw(tight_server, cart.credential) as ws:
            codes["idle"] = (await asyncio.wait_for(next_frame(ws), timeout=10))["code"]
        return codes

    codes = asyncio.run(go())
    assert codes == {
        "in_flight": "TOO_MANY_UPLOADS",
        "rate": "RATE_LIMITED",
        "frame": "FRAME_TOO_LARGE",
        "huge": "1009",
        "idle": "IDLE_TIMEOUT",
    }
    assert _counts(tight_server) == (0, 0)


def test_http_multipart_upload(live_server: LiveServer, cart: Cart, tmp_path: Path) -> None:
    """The HTTP fallback stores a record once, refuses bad input with relay codes, needs auth."""
    import httpx

    hea, dat = record_files(tmp_path, seed=9)
    auth = {"Authorization": f"Bearer {cart.credential}"}
    meta = json.dumps({"patient": {"name": "测试", "sex": "M"}, "chest_pain": True})

    def post(files: list[tuple[str, bytes]], headers: dict[str, str] = auth) -> httpx.Response:
        return httpx.post(
            f"{live_server.url}/api/v1/records",
            headers=headers,
            data={"metadata": meta},
            files=[("files", (n, b, "application/octet-stream")) for n, b in files],
        )

    good = [(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes())]
    first = post(good)
    assert first.status_code == 201, first.text
    again = post(good)
    assert again.status_code == 200 and again.json() == {
        "record_id": first.json()["record_id"],
        "duplicate": True,
    }
    short = post([(hea.name, hea.read_bytes()), (dat.name, dat.read_bytes()[:-10])])
    assert short.status_code == 422 and short.json()["code"] == "DAT_SIZE_MISMATCH"
    assert post(good, headers={}).status_code == 401
    assert _counts(live_server) == (1, 1)
