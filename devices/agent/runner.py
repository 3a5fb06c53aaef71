"""The agent loop: queue complete records, upload them in order, report what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.agent import AGENT_VERSION
from devices.agent.outbox import Item, Outbox
from devices.agent.watcher import FolderWatcher
from ecg_relay.client import AuthRefused, RelayClient, RelayRefused

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
SCAN_S = 1.0


class Agent:
    def __init__(
        self,
        *,
        relay_url: str,
        credential: str,
        watch: Path,
        outbox: Outbox,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
        scan_s: float = SCAN_S,
    ) -> None:
        self.watcher = FolderWatcher(watch)
        self.outbox = outbox
        self.on_event = on_event or (lambda kind, data: None)
        self.client = RelayClient(
            relay_url, credential, on_progress=on_progress, on_result=self._result, clock=clock
        )
        self.scan_s = scan_s
        self.watch = watch
        self._stop = asyncio.Event()

    def _result(self, frame: dict[str, Any]) -> None:
        self.outbox.set_result(frame["record_id"], frame)
        self.on_event("result", frame)

    def stop(self) -> None:
        self._stop.set()

    def queue_new(self) -> int:
        added = 0
        for rec in self.watcher.scan(self.outbox.known):
            if self.outbox.add(
                directory=rec.directory,
                record_name=rec.record_name,
                files=rec.files,
                metadata=rec.metadata,
                upload_id=rec.upload_id,
            ):
                added += 1
                self.on_event("queued", {"record_name": rec.record_name})
        return added

    async def upload(self, item: Item) -> bool:
        """Upload one outbox item; True when it is settled (stored or refused for good)."""
        self.outbox.mark(item.id, "uploading")
        try:
            stored = await self.client.upload(
                item.paths,
                metadata=item.metadata,
                upload_id=item.upload_id,
                record_name=item.record_name,
            )
        except RelayRefused as err:
            self.outbox.mark(item.id, "refused", error=f"{err.code}: {err.message_zh}")
            self.on_event(
                "refused",
                {
                    "record_name": item.record_name,
                    "code": err.code,
                    "message_zh": err.message_zh,
                    "message_en": err.message_en,
                },
            )
            return True
        except FileNotFoundError as err:
            self.outbox.mark(item.id, "refused", error=f"file missing: {err}")
            return True
        except (ConnectionError, OSError, TimeoutError) as err:
            self.outbox.mark(item.id, "queued", error=str(err)[:500])
            return False
        # Done only on the "stored" acknowledgement: files fsynced and committed centrally.
        self.outbox.mark(item.id, "stored", record_id=stored.record_id)
        self.on_event(
            "stored",
            {
                "record_name": item.record_name,
                "record_id": stored.record_id,
                "duplicate": stored.duplicate,
            },
        )
        return True

    async def heartbeat(self) -> None:
        usage = shutil.disk_usage(self.watch)
        await self.client.heartbeat(
            agent_version=AGENT_VERSION,
            outbox_depth=self.outbox.depth(),
            disk_free_bytes=usage.free,
        )

    async def run(self, *, until_empty: bool = False) -> None:
        """Run until stopped (or, with ``until_empty``, until nothing is left to send)."""
        backoff = 1.0
        last_beat = 0.0
        while not self._stop.is_set():
            self.queue_new()
            try:
                if time.monotonic() - last_beat > HEARTBEAT_S:
                    await self.heartbeat()
                    last_beat = time.monotonic()
                    waiting = self.outbox.waiting_results()
                    if waiting:
                        await self.client.subscribe(waiting[-200:])
                for item in self.outbox.pending():
                    if self._stop.is_set():
                        break
                    if not await self.upload(item):
                        raise ConnectionError(item.last_error or "upload interrupted")
                backoff = 1.0
            except AuthRefused:
                self.on_event("auth_refused", {})
                raise
            except (ConnectionError, OSError, TimeoutError) as err:
                self.on_event("offline", {"error": str(err), "retry_in_s": backoff})
                await self.client.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(60.0, backoff * 2)
                continue
            if until_empty and not self.outbox.pending() and not self.watcher.settling:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.scan_s)
        await self.client.close()
