"""The cart websocket endpoint /relay/v1: authenticate in the handshake, then serve."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from ecg_relay.protocol import PATH
from ecg_relay.server import Limits, OfferRateLimiter, TransportClosed, serve_connection
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
