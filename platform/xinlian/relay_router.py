"""The cart endpoints: websocket /relay/v1, and a one-shot HTTP upload beside it.

The websocket authenticates in the handshake (a wrong, revoked or missing credential is
refused with HTTP 403 before any frame flows), then hands the socket to the relay loop.
``POST /api/v1/records`` stores a whole record in one multipart request through the same
limits, verification and storage path (``ecg_relay.server.finalize``): a fallback for
networks whose proxies break websockets, and the benchmark's baseline.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.websockets import WebSocketDisconnect

from ecg_relay.backend import DeviceIdentity, StoredRecord
from ecg_relay.errors import RelayError
from ecg_relay.frames import (
    MAX_FILES,
    PATH,
    Offer,
    check_manifest,
    content_sha256,
    manifest_of,
    parse_text,
)
from ecg_relay.protocol import CLOSE_AUTH, CartQuotas, Limits
from ecg_relay.server import TransportClosed, finalize, serve_connection
from ecg_relay.storage import Storage
from xinlian.relay_backend import SqlRelayBackend
from xinlian.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()
HTTP_UPLOAD_PATH = "/api/v1/records"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the offer field


class StarletteTransport:
    """Starlette's WebSocket as a relay transport."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def receive(self) -> str | bytes:
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            raise TransportClosed() from None
        if message["type"] == "websocket.disconnect":
            raise TransportClosed()
        if message.get("bytes") is not None:
            return bytes(message["bytes"])
        return str(message.get("text") or "")

    async def send_text(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError):
            raise TransportClosed() from None

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code=code, reason=reason)


def relay_parts(app_state: Any) -> tuple[SqlRelayBackend, Storage, Limits, CartQuotas]:
    """The backend, storage, limits and per-cart quotas, built once per application."""
    parts: tuple[SqlRelayBackend, Storage, Limits, CartQuotas] | None = getattr(
        app_state, "relay_parts", None
    )
    if parts is None:
        settings: Settings = app_state.settings

        def wake() -> None:
            for w in getattr(app_state, "workers", []):
                w.wake()

        backend = SqlRelayBackend(app_state.sessions, settings, on_stored=wake)
        limits = Limits(
            max_record_bytes=settings.max_record_bytes,
            max_frame_bytes=settings.max_frame_bytes,
            max_uploads_in_flight=settings.max_uploads_in_flight,
            max_offers_per_minute=settings.max_offers_per_minute,
            idle_timeout_s=settings.relay_idle_timeout_s,
        )
        parts = (
            backend,
            Storage(settings.ecg_dir),
            limits,
            CartQuotas(settings.max_offers_per_minute),
        )
        app_state.relay_parts = parts
    return parts


def _bearer(value: str) -> str:
    return value[7:].strip() if value.lower().startswith("bearer ") else ""


@router.websocket(PATH)
async def relay(ws: WebSocket) -> None:
    backend, storage, limits, quotas = relay_parts(ws.app.state)
    credential = _bearer(ws.headers.get("authorization", ""))
    device = await backend.authenticate(credential) if credential else None
    if device is None:
        # Closing before accept refuses the handshake (HTTP 403): no data flows.
        await ws.close(code=CLOSE_AUTH, reason="AUTH_FAILED")
        return
    await ws.accept()
    try:
        await serve_connection(
            StarletteTransport(ws), backend, device, storage=storage, limits=limits, quotas=quotas
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("relay connection for device %s ended with an error", device.device_id)


def _refusal(err: RelayError) -> JSONResponse:
    return JSONResponse(err.frame(), status_code=err.http_status)


@router.post(HTTP_UPLOAD_PATH, tags=["relay"])
async def upload_record(request: Request) -> JSONResponse:
    """One record as multipart/form-data: ``files`` parts and an optional ``metadata`` JSON field.

    For carts whose network blocks websockets; no resume. The same limits, checks,
    durability and error codes as the relay: 201 stored, 200 already stored.
    """
    backend, storage, limits, quotas = relay_parts(request.app.state)
    credential = _bearer(request.headers.get("authorization", ""))
    device = await backend.authenticate(credential) if credential else None
    if device is None:
        return _refusal(RelayError("AUTH_FAILED"))
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        # Without a length the body could be spooled to disk without bound before parsing.
        return _refusal(RelayError("BAD_FRAME", "Content-Length is required"))
    if int(length) > limits.max_record_bytes + MULTIPART_OVERHEAD:
        return _refusal(RelayError("RECORD_TOO_LARGE", f"{length} bytes"))
    if not quotas.allow_offer(device.device_id, time.monotonic()):
        return _refusal(RelayError("RATE_LIMITED"))
    upload_id = f"http-{uuid.uuid4().hex}"
    owner = object()
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=4)
        blobs = {
            str(part.filename or ""): await part.read()
            for part in form.getlist("files")
            if isinstance(part, UploadFile)
        }
        raw_meta = form.get("metadata")
        offer = _offer_for(upload_id, blobs, raw_meta if isinstance(raw_meta, str) else None)
        check_manifest(offer, max_record_bytes=limits.max_record_bytes)
        sha = content_sha256(offer.files)
        existing = await backend.find_stored(sha)
        if existing is not None:
            return JSONResponse({"record_id": existing, "duplicate": True}, status_code=200)
        if not quotas.claim(device.device_id, upload_id, owner, limits.max_uploads_in_flight):
            raise RelayError("TOO_MANY_UPLOADS", upload_id=upload_id)
        stored = await _store(storage, backend, device, offer, sha, blobs)
    except RelayError as err:
        await asyncio.to_thread(storage.discard, device.device_id, upload_id)
        return _refusal(err)
    finally:
        quotas.release(device.device_id, upload_id, owner)
    return JSONResponse(
        {"record_id": stored.record_id, "duplicate": stored.duplicate},
        status_code=200 if stored.duplicate else 201,
    )


def _offer_for(upload_id: str, blobs: dict[str, bytes], metadata: str | None) -> Offer:
    """The offer a relay client would have sent for these files (hashes taken here)."""
    header = next((n for n in blobs if n.endswith(".hea")), None)
    if header is None:
        raise RelayError("BAD_MANIFEST", "no .hea file", upload_id=upload_id)
    frame = {
        "type": "offer",
        "upload_id": upload_id,
        "record_name": header[: -len(".hea")],
        "files": [
            {"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
            for n, b in blobs.items()
        ],
        "metadata": json.loads(metadata) if metadata else {},
    }
    try:
        parsed = parse_text(json.dumps(frame))
    except ValueError:
        raise RelayError("BAD_JSON", "metadata", upload_id=upload_id) from None
    assert isinstance(parsed, Offer)
    return parsed


async def _store(
    storage: Storage,
    backend: SqlRelayBackend,
    device: DeviceIdentity,
    offer: Offer,
    sha: str,
    blobs: dict[str, bytes],
) -> StoredRecord:
    uid = offer.upload_id

    def stage() -> None:
        storage.open_upload(device.device_id, uid, manifest_of(offer))
        for spec in offer.files:
            storage.write_chunk(device.device_id, uid, spec.name, 0, blobs[spec.name], spec.size)

    try:
        await asyncio.to_thread(stage)
        return await finalize(
            storage=storage,
            backend=backend,
            device=device,
            upload_id=uid,
            offer=offer,
            content_sha256=sha,
        )
    except RelayError:
        raise
    except Exception:
        log.exception("HTTP upload %s failed for device %s", uid, device.device_id)
        raise RelayError("SERVER_ERROR", upload_id=uid) from None


__all__ = ["HTTP_UPLOAD_PATH", "StarletteTransport", "relay_parts", "router"]
