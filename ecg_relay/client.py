"""The cart side of the relay: upload records with resume and backoff, hear results back."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ecg_relay.protocol import encode, encode_chunk

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Refusals that resending the same bytes cannot fix: give up on this record.
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
    }
)


class RelayRefused(Exception):
    """The server refused the record for good (code, messages)."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.code = str(frame.get("code"))
        self.message_zh = str(frame.get("message_zh", ""))
        self.message_en = str(frame.get("message_en", ""))
        self.frame = frame
        super().__init__(f"{self.code}: {self.message_en} {frame.get('detail', '')}".strip())


class AuthRefused(Exception):
    """The server refused the device credential (wrong, revoked or rotated)."""


@dataclass(frozen=True)
class Stored:
    upload_id: str
    record_id: str
    duplicate: bool


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(metadata, default=str))


class RelayClient:
    """One cart's connection to /relay/v1; reconnects as needed."""

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
    ) -> None:
        self.url = url
        self.credential = credential
        self.chunk_size = chunk_size
        self.on_progress = on_progress
        self.on_result = on_result
        self.clock = clock  # the cart's clock (seconds); tests inject a skewed one
        self.max_backoff_s = max_backoff_s
        self.open_timeout_s = open_timeout_s
        self.results: dict[str, dict[str, Any]] = {}
        self.hello: dict[str, Any] | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._result_event = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- connection -------------------------------------------------------------------
    async def connect(self) -> None:
        if self._ws is not None:
            return
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
            raise ConnectionError(f"handshake refused: HTTP {exc.response.status_code}") from None
        except InvalidHandshake as exc:
            # The server went away mid-handshake (restart, proxy): worth retrying.
            raise ConnectionError(f"handshake failed: {exc}") from None
        self._ws = ws
        self._inbox = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(ws))
        self.hello = await self._expect({"hello"}, None, timeout=self.open_timeout_s)
        pending = [rid for rid, r in self.results.items() if not _final(r)]
        if pending:
            await self._send({"type": "subscribe", "record_ids": pending})

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    continue
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "clock_probe":
                    t2 = self.clock() * 1000
                    await ws.send(
                        encode(
                            {
                                "type": "clock_reply",
                                "probe_id": frame["probe_id"],
                                "t1": frame["t1"],
                                "t2": t2,
                                "t3": self.clock() * 1000,
                            }
                        )
                    )
                elif kind == "result":
                    self.results[frame["record_id"]] = frame
                    self._result_event.set()
                    if self.on_result is not None:
                        self.on_result(frame)
                else:
                    await self._inbox.put(frame)
        except ConnectionClosed:
            pass
        finally:
            await self._inbox.put({"type": "_closed"})

    async def _send(self, frame: dict[str, Any] | bytes) -> None:
        if self._ws is None:
            raise ConnectionError("not connected")
        try:
            await self._ws.send(frame if isinstance(frame, bytes) else encode(frame))
        except ConnectionClosed:
            await self.close()
            raise ConnectionError("connection closed") from None

    async def _expect(
        self, kinds: set[str], upload_id: str | None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """The next frame of one of ``kinds`` for this upload; RelayRefused on its error frame."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kinds} from the server")
            frame = await asyncio.wait_for(self._inbox.get(), timeout=left)
            kind = frame.get("type")
            if kind == "_closed":
                await self.close()
                raise ConnectionError("connection closed by the server")
            if kind == "error" and (
                upload_id is None or frame.get("upload_id") in (None, upload_id)
            ):
                if frame.get("code") in ("AUTH_FAILED", "REVOKED"):
                    await self.close()
                    raise AuthRefused(str(frame.get("code")))
                raise RelayRefused(frame)
            if kind in kinds and (upload_id is None or frame.get("upload_id") == upload_id):
                return frame

    # -- uploads ----------------------------------------------------------------------
    async def upload(
        self,
        files: Sequence[Path],
        *,
        metadata: dict[str, Any],
        upload_id: str,
        record_name: str | None = None,
        attempts: int = 8,
    ) -> Stored:
        """Send one record; resumes after a dropped connection, backs off exponentially.

        Returns on the server's "stored" acknowledgement (files fsynced, row committed).
        Raises RelayRefused when the server refuses the record for good.
        """
        paths = [Path(p) for p in files]
        specs = [
            {"name": p.name, "size": p.stat().st_size, "sha256": file_sha256(p)} for p in paths
        ]
        name = record_name or next(p.stem for p in paths if p.suffix == ".hea")
        offer = {
            "type": "offer",
            "upload_id": upload_id,
            "format": "wfdb",
            "record_name": name,
            "files": specs,
            "metadata": _json_metadata(metadata),
        }
        delay = 0.5
        for attempt in range(attempts):
            try:
                async with self._lock:
                    return await self._upload_once(paths, specs, offer, upload_id)
            except RelayRefused as err:
                if err.code in PERMANENT:
                    raise
                log.info("upload %s refused with %s; retrying", upload_id, err.code)
            except (ConnectionError, OSError, TimeoutError, ConnectionClosed) as exc:
                log.info("upload %s interrupted (%s); resuming", upload_id, exc)
                await self.close()
            if attempt == attempts - 1:
                break
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(self.max_backoff_s, delay * 2)
        raise ConnectionError(f"upload {upload_id} did not complete after {attempts} attempts")

    async def _upload_once(
        self, paths: list[Path], specs: list[dict[str, Any]], offer: dict[str, Any], upload_id: str
    ) -> Stored:
        await self.connect()
        await self._send(offer)
        reply = await self._expect({"offer_reply"}, upload_id)
        if reply["status"] == "stored":
            return Stored(upload_id, reply["record_id"], bool(reply.get("duplicate")))
        offsets: dict[str, int] = reply["offsets"]
        total = sum(s["size"] for s in specs)
        done = sum(offsets.values())
        for path, spec in zip(paths, specs, strict=True):
            offset = offsets.get(spec["name"], 0)
            with open(path, "rb") as fh:
                fh.seek(offset)
                while offset < spec["size"]:
                    data = fh.read(self.chunk_size)
                    if not data:
                        raise OSError(f"{path} shrank while uploading")
                    await self._send(encode_chunk(upload_id, spec["name"], offset, data))
                    offset += len(data)
                    done += len(data)
                    if self.on_progress is not None:
                        self.on_progress(upload_id, done, total)
        await self._send({"type": "commit", "upload_id": upload_id})
        while True:
            frame = await self._expect({"ack", "stored"}, upload_id)
            if frame["type"] == "stored":
                return Stored(upload_id, frame["record_id"], bool(frame.get("duplicate")))

    async def subscribe(self, record_ids: Sequence[str]) -> None:
        """Ask for results of records stored earlier (e.g. before the cart restarted)."""
        await self.connect()
        await self._send({"type": "subscribe", "record_ids": list(record_ids)[:200]})

    async def heartbeat(
        self, *, agent_version: str, outbox_depth: int, disk_free_bytes: int | None
    ) -> None:
        await self.connect()
        await self._send(
            {
                "type": "heartbeat",
                "agent_version": agent_version,
                "outbox_depth": outbox_depth,
                "disk_free_bytes": disk_free_bytes,
            }
        )

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
        await self.connect()
        await self._send({"type": "subscribe", "record_ids": list(record_ids)})
        while not all(rid in self.results and test(self.results[rid]) for rid in record_ids):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("results did not arrive in time")
            self._result_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._result_event.wait(), timeout=min(left, 1.0))
        return [self.results[rid] for rid in record_ids]


def _final(result: dict[str, Any]) -> bool:
    referral = result.get("referral")
    return result.get("analysis") is not None and (
        referral is None or referral.get("state") in ("admitted", "cancelled")
    )
