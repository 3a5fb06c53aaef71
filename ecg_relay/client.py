"""The cart side of the relay: upload records with resume and backoff, hear results back.

One ``RelayClient`` holds one websocket to ``/relay/v1`` and reconnects as needed. An
upload is offer → chunks → commit; after a lost connection the same offer (same upload
id) is answered with the offsets the server holds, so only the missing bytes travel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ecg_relay.frames import encode, encode_chunk
from ecg_relay.storage import file_sha256

__all__ = [
    "CHUNK_SIZE",
    "AuthRefused",
    "RelayClient",
    "RelayRefused",
    "Stored",
    "StoredAck",
    "file_sha256",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Refusals that resending the same bytes cannot fix, for servers that send no "retry" flag.
PERMANENT = frozenset(
    {
        "BAD_FILENAME",
        "BAD_MANIFEST",
        "RECORD_TOO_LARGE",
        "BAD_HEADER",
        "DAT_SIZE_MISMATCH",
        "LEAD_COUNT",
        "SAMPLING_RATE",
        "BAD_SIGNAL",
        "BAD_FRAME",
        "MANIFEST_CHANGED",
        "CHUNK_BEYOND_SIZE",
    }
)
KEEPALIVE_MAX_S = 30.0


class RelayRefused(Exception):
    """The server refused the record (``code``, ``message_zh``, ``message_en``)."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.code = str(frame.get("code"))
        self.message_zh = str(frame.get("message_zh", ""))
        self.message_en = str(frame.get("message_en", ""))
        retry = frame.get("retry")
        self.permanent = self.code in PERMANENT if retry is None else not retry
        self.frame = frame
        super().__init__(f"{self.code}: {self.message_en} {frame.get('detail', '')}".strip())


class AuthRefused(Exception):
    """The server refused the device credential (wrong, revoked or rotated)."""


@dataclass(frozen=True)
class Stored:
    """The server's "stored" acknowledgement: files fsynced, row committed."""

    upload_id: str
    record_id: str
    duplicate: bool


StoredAck = Stored


def _json_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(metadata, default=str))
    return result


def _final(result: dict[str, Any]) -> bool:
    if "final" in result:
        return bool(result["final"])
    referral = result.get("referral")
    return result.get("analysis") is not None and (
        referral is None or referral.get("state") in ("admitted", "cancelled")
    )


class RelayClient:
    """One cart's connection to /relay/v1.

    Parameters
    ----------
    url : str
        ``ws://`` or ``wss://`` URL of the endpoint.
    credential : str
        The device credential from enrollment.
    chunk_size : int
        Payload bytes per chunk frame (default 64 KiB).
    on_progress : callable, optional
        ``(upload_id, bytes_sent, bytes_total)`` after each chunk.
    on_result : callable, optional
        Called with each ``result`` frame the server pushes.
    clock : callable
        The cart's clock (s since the epoch), used to answer clock probes.
    """

    def __init__(
        self,
        url: str,
        credential: str,
        *,
        chunk_size: int = CHUNK_SIZE,
        on_progress: Callable[[str, int, int], None] | None = None,
        on_result: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_backoff_s: float = 30.0,
        open_timeout_s: float = 10.0,
        reply_timeout_s: float = 60.0,
    ) -> None:
        self.url = url
        self.credential = credential
        self.chunk_size = chunk_size
        self.on_progress = on_progress
        self.on_result = on_result
        self.clock = clock
        self.max_backoff_s = max_backoff_s
        self.open_timeout_s = open_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.results: dict[str, dict[str, Any]] = {}
        self.hello: dict[str, Any] | None = None
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._refused: dict[str, dict[str, Any]] = {}  # upload id -> error frame
        self._result_event = asyncio.Event()
        self._listeners: list[asyncio.Queue[dict[str, Any]]] = []
        self._lock = asyncio.Lock()

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the websocket (no-op when open); AuthRefused when the credential is refused."""
        if self._ws is not None:
            return
        if self._tasks:
            await self.close()  # tasks of a connection the server ended
        try:
            ws = await connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.credential}"},
                max_size=None,
                open_timeout=self.open_timeout_s,
                ping_interval=20,
                ping_timeout=20,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise AuthRefused(f"HTTP {exc.response.status_code}") from None
            # A proxy's 502 while the server restarts: the line, not the cart, is at fault.
            raise ConnectionError(f"handshake refused: HTTP {exc.response.status_code}") from exc
        except InvalidHandshake as exc:
            raise ConnectionError(f"handshake failed: {exc}") from exc
        self._ws = ws
        self._inbox = asyncio.Queue()
        self._refused = {}
        self._tasks = [asyncio.create_task(self._read(ws))]
        try:
            self.hello = await self._expect({"hello"}, None, timeout=self.open_timeout_s)
        except BaseException:
            await self.close()
            raise
        idle = float(self.hello.get("limits", {}).get("idle_timeout_s") or 120.0)
        self._tasks.append(asyncio.create_task(self._keepalive(ws, min(KEEPALIVE_MAX_S, idle / 3))))
        pending = [rid for rid, r in self.results.items() if not _final(r)]
        if pending:
            await self._send({"type": "subscribe", "record_ids": pending[-200:]})

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> RelayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _keepalive(self, ws: ClientConnection, every_s: float) -> None:
        """Heartbeats keep the server's idle timer from closing a cart that only listens."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(every_s)
                await ws.send(encode({"type": "heartbeat"}))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    continue
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "clock_probe":
                    t2 = self.clock() * 1000
                    reply = {
                        "type": "clock_reply",
                        "probe_id": frame["probe_id"],
                        "t1": frame["t1"],
                    }
                    await ws.send(encode({**reply, "t2": t2, "t3": self.clock() * 1000}))
                elif kind == "result":
                    self._on_result(frame)
                else:
                    if kind == "error" and frame.get("upload_id"):
                        self._refused[frame["upload_id"]] = frame
                    await self._inbox.put(frame)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is ws:
                self._ws = None  # the next call reconnects
            await self._inbox.put({"type": "_closed"})

    def _on_result(self, frame: dict[str, Any]) -> None:
        self.results[frame["record_id"]] = frame
        self._result_event.set()
        for q in self._listeners:
            q.put_nowait(frame)
        if self.on_result is not None:
            self.on_result(frame)

    async def _send(self, frame: dict[str, Any] | bytes) -> None:
        if self._ws is None:
            raise ConnectionError("not connected")
        try:
            await self._ws.send(frame if isinstance(frame, bytes) else encode(frame))
        except ConnectionClosed:
            await self.close()
            raise ConnectionError("connection closed") from None

    async def _expect(
        self, kinds: set[str], upload_id: str | None, timeout: float | None = None
    ) -> dict[str, Any]:
        """The next frame of one of ``kinds`` for this upload; RelayRefused on its error frame."""
        deadline = time.monotonic() + (self.reply_timeout_s if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {sorted(kinds)} from the server")
            frame = await asyncio.wait_for(self._inbox.get(), timeout=left)
            kind = frame.get("type")
            if kind == "_closed":
                await self.close()
                raise ConnectionError("connection closed by the server")
            if kind == "error" and frame.get("upload_id") in (None, upload_id):
                if frame.get("code") in ("AUTH_FAILED", "REVOKED"):
                    await self.close()
                    raise AuthRefused(str(frame.get("code")))
                raise RelayRefused(frame)
            if kind in kinds and (upload_id is None or frame.get("upload_id") == upload_id):
                return frame

    # -- uploads ---------------------------------------------------------------------------
    async def upload(
        self,
        files: Sequence[Path],
        *,
        metadata: dict[str, Any],
        upload_id: str,
        record_name: str | None = None,
        leads: int | None = None,
        attempts: int = 8,
    ) -> Stored:
        """Send one record; resume after a dropped connection, back off exponentially.

        Returns on the server's "stored" acknowledgement (files fsynced, row committed).
        Raises RelayRefused when the server refuses the record for good, AuthRefused when
        it refuses the cart, ConnectionError after ``attempts`` failed tries.
        """
        paths = [Path(p) for p in files]
        specs = [
            {"name": p.name, "size": p.stat().st_size, "sha256": file_sha256(p)} for p in paths
        ]
        name = record_name or next(p.stem for p in paths if p.suffix == ".hea")
        offer: dict[str, Any] = {
            "type": "offer",
            "upload_id": upload_id,
            "format": "wfdb",
            "record_name": name,
            "files": specs,
            "metadata": _json_metadata(metadata),
        }
        if leads is not None:
            offer["leads"] = leads
        delay = 0.5
        for attempt in range(attempts):
            try:
                async with self._lock:
                    return await self._upload_once(paths, specs, offer, upload_id)
            except RelayRefused as err:
                if err.permanent:
                    raise
                log.info("upload %s refused with %s; retrying", upload_id, err.code)
            except (ConnectionError, OSError, TimeoutError, ConnectionClosed) as exc:
                log.info("upload %s interrupted (%s); resuming", upload_id, exc)
                await self.close()
            if attempt == attempts - 1:
                break
            # Full jitter: carts cut off together must not all come back in the same second.
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(self.max_backoff_s, delay * 2)
        raise ConnectionError(f"upload {upload_id} did not complete after {attempts} attempts")

    async def _upload_once(
        self, paths: list[Path], specs: list[dict[str, Any]], offer: dict[str, Any], upload_id: str
    ) -> Stored:
        await self.connect()
        self._refused.pop(upload_id, None)
        await self._send(offer)
        reply = await self._expect({"offer_reply"}, upload_id)
        if reply["status"] == "stored":
            return Stored(upload_id, reply["record_id"], bool(reply.get("duplicate")))
        try:
            await self._send_missing(paths, specs, reply["offsets"], upload_id)
            await self._send({"type": "commit", "upload_id": upload_id})
            while True:
                frame = await self._expect({"ack", "stored"}, upload_id)
                if frame["type"] == "stored":
                    return Stored(upload_id, frame["record_id"], bool(frame.get("duplicate")))
        except RelayRefused:
            # Chunks already on the wire draw more answers; a fresh connection starts clean.
            await self.close()
            raise

    async def _send_missing(
        self, paths: list[Path], specs: list[dict[str, Any]], offsets: dict[str, int], uid: str
    ) -> None:
        total = sum(s["size"] for s in specs)
        done = sum(min(int(offsets.get(s["name"], 0)), s["size"]) for s in specs)
        for path, spec in zip(paths, specs, strict=True):
            offset = int(offsets.get(spec["name"], 0))
            with open(path, "rb") as fh:
                fh.seek(offset)
                while offset < spec["size"]:
                    if uid in self._refused:
                        return  # the refusal is read by the caller
                    data = fh.read(min(self.chunk_size, spec["size"] - offset))
                    if not data:
                        raise OSError(f"{path} shrank while uploading")
                    await self._send(encode_chunk(uid, spec["name"], offset, data))
                    offset += len(data)
                    done += len(data)
                    if self.on_progress is not None:
                        self.on_progress(uid, done, total)

    # -- results and cart state ------------------------------------------------------------
    async def subscribe(self, record_ids: Sequence[str]) -> None:
        """Ask for results of records stored earlier (e.g. before the cart restarted)."""
        await self.connect()
        await self._send({"type": "subscribe", "record_ids": list(record_ids)[:200]})

    async def heartbeat(
        self,
        *,
        agent_version: str | None = None,
        outbox_depth: int | None = None,
        disk_free_bytes: int | None = None,
    ) -> None:
        """Tell the server the cart's agent version, outbox depth and free disk (bytes)."""
        await self.connect()
        await self._send(
            {
                "type": "heartbeat",
                "agent_version": agent_version,
                "outbox_depth": outbox_depth,
                "disk_free_bytes": disk_free_bytes,
            }
        )

    async def iter_results(self) -> AsyncIterator[dict[str, Any]]:
        """Every ``result`` frame from now on, as it arrives (across reconnections)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners.remove(queue)

    async def wait_results(
        self,
        record_ids: Sequence[str],
        *,
        timeout: float = 60.0,
        until: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until every record has an analysed result (or ``until`` holds); the results."""
        test = until or (lambda r: r.get("analysis") is not None)
        deadline = time.monotonic() + timeout
        subscribed_on: ClientConnection | None = None
        while not all(rid in self.results and test(self.results[rid]) for rid in record_ids):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("results did not arrive in time")
            if self._ws is None or self._ws is not subscribed_on:
                with contextlib.suppress(ConnectionError, OSError, TimeoutError):
                    await self.connect()
                    await self._send({"type": "subscribe", "record_ids": list(record_ids)})
                    subscribed_on = self._ws
            self._result_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._result_event.wait(), timeout=min(left, 1.0))
        return [self.results[rid] for rid in record_ids]
