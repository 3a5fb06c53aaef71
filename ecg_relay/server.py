"""The relay's connection loop: a thin I/O shell around ``protocol.ServerConnection``.

It reads frames, feeds them to the state machine, sends what it returns and performs
the effects it asks for: disk and CPU work (SHA-256, WFDB validation, fsync) in a
thread, database work through the backend (which uses threads too), so the event loop
keeps serving the other carts. A second task pushes results, re-checks the credential
and probes the cart's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ecg_relay.backend import DeviceIdentity, RelayBackend
from ecg_relay.errors import RelayError
from ecg_relay.formats import RecordInfo, validate_record
from ecg_relay.frames import Offer, encode
from ecg_relay.protocol import (
    CLOSE_NORMAL,
    Action,
    CartQuotas,
    Close,
    Effect,
    Finalize,
    FindStored,
    Limits,
    NoteClockSample,
    NoteHeartbeat,
    OpenStaging,
    Send,
    ServerConnection,
    StoredRecord,
    WriteChunk,
)
from ecg_relay.storage import Storage

__all__ = [
    "CartQuotas",
    "Limits",
    "Transport",
    "TransportClosed",
    "WebsocketsTransport",
    "finalize",
    "serve_connection",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Disk and hashing work of all connections; apart from the database's pool, so a burst of
# database calls never delays a chunk write.
IO_THREADS = 16
_io_pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="relay-io")


async def _io(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_io_pool, fn, *args)


class TransportClosed(Exception):
    """The peer went away."""


class Transport(Protocol):
    """The little a connection needs from a websocket (Starlette's or the websockets library's).

    ``receive`` returns a text frame as ``str`` and a binary frame as ``bytes`` and raises
    ``TransportClosed`` when the peer is gone; so does ``send_text``.
    """

    async def receive(self) -> str | bytes: ...

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


class WebsocketsTransport:
    """Adapter for a ``websockets.asyncio`` server connection."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def receive(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            message: str | bytes = await self.ws.recv()
        except ConnectionClosed:
            raise TransportClosed() from None
        return message

    async def send_text(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(text)
        except ConnectionClosed:
            raise TransportClosed() from None

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code, reason)


def _prepare(
    storage: Storage, device_id: str, upload_id: str, offer: Offer, content_sha256: str
) -> tuple[Path, RecordInfo]:
    """Verify sizes and hashes, validate the record, fsync and promote it (blocking)."""
    storage.verify(device_id, upload_id, [(f.name, f.size, f.sha256) for f in offer.files])
    staged = storage.staging_dir(device_id, upload_id)
    try:
        info = validate_record(
            staged,
            offer.record_name,
            upload_id=upload_id,
            files={f.name for f in offer.files},
            leads=offer.leads,
        )
    except RelayError:
        # Complete and intact, but not a usable record: nothing of it is kept.
        storage.discard(device_id, upload_id)
        raise
    final = storage.promote(device_id, upload_id, content_sha256, [f.name for f in offer.files])
    return final, info


async def finalize(
    *,
    storage: Storage,
    backend: RelayBackend,
    device: DeviceIdentity,
    upload_id: str,
    offer: Offer,
    content_sha256: str,
) -> StoredRecord:
    """Turn a completely staged upload into a stored record; the same path for HTTP uploads."""
    directory, info = await _io(
        _prepare, storage, device.device_id, upload_id, offer, content_sha256
    )
    return await backend.store(
        device, offer, content_sha256=content_sha256, directory=directory, info=info
    )


class Connection:
    """One cart's connection: the state machine plus the I/O it asks for."""

    def __init__(
        self,
        transport: Transport,
        backend: RelayBackend,
        device: DeviceIdentity,
        *,
        storage: Storage,
        limits: Limits,
        quotas: CartQuotas,
    ) -> None:
        self.transport = transport
        self.backend = backend
        self.device = device
        self.storage = storage
        self.limits = limits
        self.machine = ServerConnection(device_id=device.device_id, limits=limits, quotas=quotas)
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch())
        try:
            await self._do(self.machine.hello())
            await self._receive_loop()
        except TransportClosed:
            pass
        finally:
            self.machine.connection_lost()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            await self._close(Close(CLOSE_NORMAL, ""))

    async def _receive_loop(self) -> None:
        while not self.machine.closed:
            try:
                message = await asyncio.wait_for(
                    self.transport.receive(), timeout=self.limits.idle_timeout_s
                )
            except TimeoutError:
                await self._do(self.machine.idle_timeout())
                return
            await self._do(self.machine.receive(message))

    async def _do(self, actions: list[Action]) -> None:
        queue: deque[Action] = deque(actions)
        while queue:
            action = queue.popleft()
            if isinstance(action, Send):
                async with self._send_lock:
                    if not self._closed:
                        await self.transport.send_text(encode(action.frame))
            elif isinstance(action, Close):
                await self._close(action)
            else:
                queue.extendleft(reversed(await self._perform(action)))

    async def _perform(self, effect: Effect) -> list[Action]:
        try:
            outcome = await self._effect(effect)
        except RelayError as err:
            return self.machine.failed(effect, err)
        except (TransportClosed, asyncio.CancelledError):
            raise
        except Exception:
            log.exception(
                "relay effect %s failed for device %s", type(effect).__name__, self.device.device_id
            )
            uid = getattr(effect, "upload_id", None)
            return self.machine.failed(effect, RelayError("SERVER_ERROR", upload_id=uid))
        return self.machine.completed(effect, outcome)

    async def _effect(self, effect: Effect) -> Any:
        dev = self.device.device_id
        if isinstance(effect, FindStored):
            return await self.backend.find_stored(effect.content_sha256)
        if isinstance(effect, OpenStaging):
            return await _io(self.storage.open_upload, dev, effect.upload_id, effect.manifest)
        if isinstance(effect, WriteChunk):
            return await _io(
                self.storage.write_chunk,
                dev,
                effect.upload_id,
                effect.file,
                effect.offset,
                effect.data,
                effect.declared_size,
            )
        if isinstance(effect, Finalize):
            return await finalize(
                storage=self.storage,
                backend=self.backend,
                device=self.device,
                upload_id=effect.upload_id,
                offer=effect.offer,
                content_sha256=effect.content_sha256,
            )
        if isinstance(effect, NoteHeartbeat):
            return await self.backend.heartbeat(self.device, effect.heartbeat)
        assert isinstance(effect, NoteClockSample)
        return await self.backend.clock_sample(
            self.device, t1=effect.t1, t2=effect.t2, t3=effect.t3, t4=effect.t4
        )

    async def _close(self, close: Close) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                await self.transport.close(close.code, close.reason)

    async def _watch(self) -> None:
        """Push results, close at once when the cart is revoked, probe the cart's clock."""
        lim = self.limits
        loop = asyncio.get_running_loop()
        last_allowed = last_probe = last_status = float("-inf")
        while not self.machine.closed:
            now = loop.time()
            try:
                if now - last_allowed >= lim.allowed_poll_s:
                    last_allowed = now
                    if not await self.backend.connection_allowed(self.device):
                        await self._do(self.machine.revoked())
                        return
                if now - last_probe >= lim.clock_probe_s:
                    last_probe = now
                    await self._do(self.machine.clock_probe())
                watched = self.machine.watched_ids()
                if watched and now - last_status >= lim.status_poll_s:
                    last_status = now
                    statuses = await self.backend.record_statuses(watched)
                    for rid in watched:
                        await self._do(self.machine.status(rid, statuses.get(rid)))
            except (TransportClosed, asyncio.CancelledError):
                return
            except Exception:
                # A database hiccup must not stop revocation checks for good.
                log.exception("relay watcher failed for device %s", self.device.device_id)
            await asyncio.sleep(min(lim.allowed_poll_s, lim.status_poll_s, lim.clock_probe_s))


async def serve_connection(
    transport: Transport,
    backend: RelayBackend,
    device: DeviceIdentity,
    *,
    storage: Storage,
    limits: Limits,
    quotas: CartQuotas,
) -> None:
    """Serve one authenticated cart until it leaves, idles out, or is revoked."""
    await Connection(
        transport, backend, device, storage=storage, limits=limits, quotas=quotas
    ).run()
