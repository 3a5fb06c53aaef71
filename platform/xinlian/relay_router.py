"""The cart websocket endpoint /relay/v1: authenticate in the handshake, then serve."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.websockets import WebSocketDisconnect

from ecg_relay.errors import RelayError
from ecg_relay.protocol import PATH, FileSpec, Offer, OfferMeta, check_manifest, content_sha256
from ecg_relay.server import (
    Limits,
    OfferRateLimiter,
    TransportClosed,
    finish_upload,
    serve_connection,
)
from ecg_relay.storage import Storage
from xinlian.relay_backend import SqlRelayBackend
from xinlian.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter()


class StarletteTransport:
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


def relay_parts(app_state: object) -> tuple[SqlRelayBackend, Storage, Limits, OfferRateLimiter]:
    """Build once per application the backend, storage, limits and rate limiter."""
    parts = getattr(app_state, "relay_parts", None)
    if parts is None:
        settings: Settings = app_state.settings  # type: ignore[attr-defined]
        workers = getattr(app_state, "workers", [])

        def wake() -> None:
            for w in getattr(app_state, "workers", workers):
                w.wake()

        backend = SqlRelayBackend(app_state.sessions, settings, on_stored=wake)  # type: ignore[attr-defined]
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
            OfferRateLimiter(settings.max_offers_per_minute),
        )
        app_state.relay_parts = parts  # type: ignore[attr-defined]
    return parts


@router.websocket(PATH)
async def relay(ws: WebSocket) -> None:
    backend, storage, limits, rate = relay_parts(ws.app.state)
    header = ws.headers.get("authorization", "")
    credential = header[7:].strip() if header.lower().startswith("bearer ") else ""
    device = await backend.authenticate(credential) if credential else None
    if device is None:
        # Closing before accept refuses the handshake (HTTP 403): no data flows.
        await ws.close(code=4401, reason="AUTH_FAILED")
        return
    await ws.accept()
    try:
        await serve_connection(
            StarletteTransport(ws), backend, device, storage=storage, limits=limits, rate=rate
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("relay connection for device %s ended with an error", device.device_id)


def _error(err: RelayError, status: int = 422) -> JSONResponse:
    return JSONResponse(err.frame(), status_code=413 if err.code == "RECORD_TOO_LARGE" else status)


@router.post("/api/v1/records", status_code=201, tags=["relay"])
async def http_upload(request: Request) -> JSONResponse:
    """One record as multipart/form-data (`files`, optional `metadata` JSON), device auth.

    For carts whose network blocks websockets; no resume. Same checks, same durability and
    the same error codes as the relay; 201 when stored, 200 when it was already stored.
    """
    backend, storage, limits, rate = relay_parts(request.app.state)
    header = request.headers.get("authorization", "")
    credential = header[7:].strip() if header.lower().startswith("bearer ") else ""
    device = await backend.authenticate(credential) if credential else None
    if device is None:
        return _error(RelayError("AUTH_FAILED"), 401)
    if not rate.allow(device.device_id, time.monotonic()):
        return _error(RelayError("RATE_LIMITED"), 429)
    length = int(request.headers.get("content-length") or 0)
    if length > limits.max_record_bytes + 64 * 1024:
        return _error(RelayError("RECORD_TOO_LARGE", f"{length} bytes"))
    upload_id = f"http-{uuid.uuid4().hex}"
    try:
        form = await request.form(max_files=32, max_fields=4)
        parts = [f for f in form.getlist("files") if isinstance(f, StarletteUploadFile)]
        raw_meta = form.get("metadata")
        metadata = (
            OfferMeta.model_validate_json(raw_meta) if isinstance(raw_meta, str) else OfferMeta()
        )
        blobs = {str(p.filename or ""): await p.read() for p in parts}
        hea = next((n for n in blobs if n.endswith(".hea")), None)
        if hea is None:
            raise RelayError("BAD_MANIFEST", "no .hea file", upload_id=upload_id)
        specs = [
            FileSpec(name=n, size=len(b), sha256=hashlib.sha256(b).hexdigest())
            for n, b in blobs.items()
        ]
        offer = Offer(
            type="offer", upload_id=upload_id, record_name=hea[:-4], files=specs, metadata=metadata
        )
        check_manifest(offer, max_record_bytes=limits.max_record_bytes)
        sha = content_sha256(offer.files)
        existing = await backend.find_stored(sha)
        if existing is not None:
            return JSONResponse({"record_id": existing, "duplicate": True}, status_code=200)
        manifest: dict[str, object] = {
            "record_name": offer.record_name,
            "content_sha256": sha,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in specs],
        }
        await asyncio.to_thread(storage.open_upload, device.device_id, upload_id, manifest)
        for spec in specs:
            await asyncio.to_thread(
                storage.write_chunk,
                device.device_id,
                upload_id,
                spec.name,
                0,
                blobs[spec.name],
                spec.size,
            )
        stored = await finish_upload(
            storage, backend, device, offer, upload_id=upload_id, content_sha256=sha
        )
    except RelayError as err:
        await asyncio.to_thread(storage.discard, device.device_id, upload_id)
        return _error(err)
    except (ValidationError, ValueError) as exc:
        await asyncio.to_thread(storage.discard, device.device_id, upload_id)
        return _error(RelayError("BAD_FRAME", str(exc)[:200]))
    return JSONResponse(
        {"record_id": stored.record_id, "duplicate": stored.duplicate},
        status_code=200 if stored.duplicate else 201,
    )
