"""The relay's connection loop: one cart connection, frames in, frames out.

Transport-agnostic (a tiny Protocol around Starlette's WebSocket or the websockets
library); disk and CPU work (sha256, WFDB validation, fsync) runs in threads so the
event loop keeps serving the other carts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecg_relay.backend import DeviceIdentity, RelayBackend, StoredRecord
from ecg_relay.errors import RelayError
from ecg_relay.formats import validate_record
from ecg_relay.protocol import (
    PROTOCOL_VERSION,
    ClockReply,
    Commit,
    Heartbeat,
    Offer,
    Subscribe,
    check_manifest,
    content_sha256,
    encode,
    parse_chunk,
    parse_text,
)
from ecg_relay.storage import Storage

log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_REVOKED = 4403
MAX_WATCHED = 200


class TransportClosed(Exception):
    """The peer went away."""


class Transport(Protocol):
    async def receive(self) -> str | bytes: ...

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = 20 * 1024 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_uploads_in_flight: int = 4
    max_offers_per_minute: int = 120
    idle_timeout_s: float = 120.0
    status_poll_s: float = 1.0
    allowed_poll_s: float = 1.0
    clock_probe_s: float = 60.0


class OfferRateLimiter:
    """Offers per cart per minute, shared by all connections of one server process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}

    def allow(self, device_id: str, now: float) -> bool:
        q = self._seen.setdefault(device_id, deque())
        while q and now - q[0] > 60.0:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True


@dataclass
class _Upload:
    offer: Offer
    content_sha256: str
    sizes: dict[str, int]


@dataclass
class Connection:
    transport: Transport
    backend: RelayBackend
    device: DeviceIdentity
    storage: Storage
    limits: Limits
    rate: OfferRateLimiter
    uploads: dict[str, _Upload] = field(default_factory=dict)
    watched: dict[str, str] = field(default_factory=dict)  # record id -> last sent state
    probes: dict[int, float] = field(default_factory=dict)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _closed: bool = False

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            if not self._closed:
                await self.transport.send_text(encode(frame))

    async def close(self, code: int, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                await self.transport.close(code, reason)

    async def run(self) -> None:
        await self.send(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "device_id": self.device.device_id,
                "server_time_ms": time.time() * 1000,
                "limits": {
                    "max_record_bytes": self.limits.max_record_bytes,
                    "max_frame_bytes": self.limits.max_frame_bytes,
                    "max_uploads_in_flight": self.limits.max_uploads_in_flight,
                    "max_offers_per_minute": self.limits.max_offers_per_minute,
                    "idle_timeout_s": self.limits.idle_timeout_s,
                },
            }
        )
        watcher = asyncio.create_task(self._watch())
        try:
            await self._receive_loop()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    async def _receive_loop(self) -> None:
        while not self._closed:
            try:
                message = await asyncio.wait_for(
                    self.transport.receive(), timeout=self.limits.idle_timeout_s
                )
            except TimeoutError:
                await self._refuse(RelayError("IDLE_TIMEOUT"))
                return
            except TransportClosed:
                return
            try:
                if len(message) > self.limits.max_frame_bytes:
                    raise RelayError("FRAME_TOO_LARGE", f"{len(message)} bytes")
                if isinstance(message, bytes):
                    await self._chunk(message)
                else:
                    await self._control(message)
            except RelayError as err:
                await self._refuse(err)
                if err.fatal:
                    return
            except TransportClosed:
                return
            except Exception:
                log.exception("relay frame failed for device %s", self.device.device_id)
                await self.send(RelayError("SERVER_ERROR").frame())

    async def _refuse(self, err: RelayError) -> None:
        with contextlib.suppress(Exception):
            await self.send(err.frame())
        if err.fatal:
            await self.close(
                CLOSE_TOO_BIG if err.code == "FRAME_TOO_LARGE" else CLOSE_POLICY, err.code
            )

    async def _control(self, text: str) -> None:
        frame = parse_text(text)
        if isinstance(frame, Offer):
            await self._offer(frame)
        elif isinstance(frame, Commit):
            await self._commit(frame)
        elif isinstance(frame, Subscribe):
            for rid in frame.record_ids[:MAX_WATCHED]:
                self.watched.setdefault(rid, "")
        elif isinstance(frame, Heartbeat):
            await self.backend.heartbeat(self.device, frame)
            await self.send({"type": "heartbeat_ack", "server_time_ms": time.time() * 1000})
        elif isinstance(frame, ClockReply):
            t4 = time.time() * 1000
            t1 = self.probes.pop(frame.probe_id, None)
            if t1 is not None and abs(t1 - frame.t1) < 1e-3:
                await self.backend.clock_sample(self.device, t1=t1, t2=frame.t2, t3=frame.t3, t4=t4)

    async def _offer(self, offer: Offer) -> None:
        if not self.rate.allow(self.device.device_id, time.monotonic()):
            raise RelayError("RATE_LIMITED", upload_id=offer.upload_id)
        check_manifest(offer, max_record_bytes=self.limits.max_record_bytes)
        sha = content_sha256(offer.files)
        existing = await self.backend.find_stored(sha)
        if existing is not None:
            self.uploads.pop(offer.upload_id, None)
            await self.send(
                {
                    "type": "offer_reply",
                    "upload_id": offer.upload_id,
                    "status": "stored",
                    "record_id": existing,
                    "duplicate": True,
                }
            )
            self.watched.setdefault(existing, "")
            return
        if (
            offer.upload_id not in self.uploads
            and len(self.uploads) >= self.limits.max_uploads_in_flight
        ):
            raise RelayError("TOO_MANY_UPLOADS", upload_id=offer.upload_id)
        manifest: dict[str, object] = {
            "record_name": offer.record_name,
            "content_sha256": sha,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in offer.files],
        }
        offsets = await asyncio.to_thread(
            self.storage.open_upload, self.device.device_id, offer.upload_id, manifest
        )
        self.uploads[offer.upload_id] = _Upload(offer=offer, content_sha256=sha, sizes=offsets)
        await self.send(
            {
                "type": "offer_reply",
                "upload_id": offer.upload_id,
                "status": "send",
                "offsets": offsets,
            }
        )

    async def _chunk(self, data: bytes) -> None:
        chunk = parse_chunk(data)
        state = self.uploads.get(chunk.upload_id)
        if state is None:
            raise RelayError("UNKNOWN_UPLOAD", upload_id=chunk.upload_id)
        spec = next((f for f in state.offer.files if f.name == chunk.file), None)
        if spec is None:
            raise RelayError(
                "BAD_MANIFEST", f"{chunk.file} was not offered", upload_id=chunk.upload_id
            )
        size = await asyncio.to_thread(
            self.storage.write_chunk,
            self.device.device_id,
            chunk.upload_id,
            chunk.file,
            chunk.offset,
            chunk.data,
            spec.size,
        )
        state.sizes[chunk.file] = size
        await self.send(
            {"type": "ack", "upload_id": chunk.upload_id, "file": chunk.file, "offset": size}
        )

    async def _commit(self, commit: Commit) -> None:
        state = self.uploads.get(commit.upload_id)
        if state is None:
            raise RelayError("UNKNOWN_UPLOAD", upload_id=commit.upload_id)
        try:
            stored = await finish_upload(
                self.storage,
                self.backend,
                self.device,
                state.offer,
                upload_id=commit.upload_id,
                content_sha256=state.content_sha256,
            )
        except RelayError as err:
            if err.code not in ("INCOMPLETE", "SHA256_MISMATCH"):
                self.uploads.pop(commit.upload_id, None)  # discarded whole
            raise
        self.uploads.pop(commit.upload_id, None)
        await self.send(
            {
                "type": "stored",
                "upload_id": commit.upload_id,
                "record_id": stored.record_id,
                "duplicate": stored.duplicate,
            }
        )
        if len(self.watched) < MAX_WATCHED:
            self.watched.setdefault(stored.record_id, "")

    async def _watch(self) -> None:
        """Push results and referral changes; close at once when the cart is revoked."""
        last_allowed = last_probe = 0.0
        probe_id = 0
        while not self._closed:
            now = time.monotonic()
            if now - last_allowed >= self.limits.allowed_poll_s:
                last_allowed = now
                if not await self.backend.connection_allowed(self.device):
                    await self._refuse(RelayError("REVOKED"))
                    await self.close(CLOSE_REVOKED, "REVOKED")
                    return
            if now - last_probe >= self.limits.clock_probe_s:
                last_probe = now
                probe_id += 1
                t1 = time.time() * 1000
                self.probes = {probe_id: t1}
                await self.send({"type": "clock_probe", "probe_id": probe_id, "t1": t1})
            for rid in list(self.watched):
                status = await self.backend.record_status(rid)
                if status is None:
                    self.watched.pop(rid, None)
                    continue
                key = json.dumps([status.get("analysis"), status.get("referral")], sort_keys=True)
                if key != self.watched.get(rid):
                    self.watched[rid] = key
                    await self.send({"type": "result", **status})
                referral = status.get("referral")
                if status.get("analysis") is not None and (
                    referral is None or referral.get("state") in ("admitted", "cancelled")
                ):
                    self.watched.pop(rid, None)
            await asyncio.sleep(self.limits.status_poll_s)


async def finish_upload(
    storage: Storage,
    backend: RelayBackend,
    device: DeviceIdentity,
    offer: Offer,
    *,
    upload_id: str,
    content_sha256: str,
) -> StoredRecord:
    """Verify a fully staged upload, validate the WFDB record, promote it and store the row.

    Shared by the websocket commit and the HTTP upload route, so both give the same
    guarantees: nothing is visible until the files are verified, fsynced and committed.
    """
    files = [(f.name, f.size, f.sha256) for f in offer.files]
    await asyncio.to_thread(storage.verify, device.device_id, upload_id, files)
    directory = storage.staging_dir(device.device_id, upload_id)
    try:
        info = await asyncio.to_thread(
            validate_record, directory, offer.record_name, upload_id=upload_id
        )
    except RelayError:
        # Content is final (hashes matched) but not a usable record: drop it whole.
        await asyncio.to_thread(storage.discard, device.device_id, upload_id)
        raise
    final = await asyncio.to_thread(
        storage.promote, device.device_id, upload_id, content_sha256, [f.name for f in offer.files]
    )
    return await backend.store(
        device, offer, content_sha256=content_sha256, directory=final, info=info
    )


async def serve_connection(
    transport: Transport,
    backend: RelayBackend,
    device: DeviceIdentity,
    *,
    storage: Storage,
    limits: Limits,
    rate: OfferRateLimiter,
) -> None:
    """Serve one authenticated cart until it leaves, idles out, or is revoked."""
    conn = Connection(
        transport=transport,
        backend=backend,
        device=device,
        storage=storage,
        limits=limits,
        rate=rate,
    )
    try:
        await conn.run()
    finally:
        await conn.close(CLOSE_NORMAL)
