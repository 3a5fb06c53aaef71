"""What the relay loop needs from the platform, as a Protocol (the platform implements it).

Every method is async and must not block the event loop: database work runs in a
thread. ``xinlian.relay_backend.SqlRelayBackend`` is the implementation over SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecg_relay.formats import RecordInfo
from ecg_relay.frames import Heartbeat, Offer
from ecg_relay.protocol import StoredRecord

__all__ = ["DeviceIdentity", "RelayBackend", "StoredRecord"]


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    organization_id: str
    credential_issued_at: Any  # compared for rotation; opaque to the relay


class RelayBackend(Protocol):
    async def authenticate(self, credential: str) -> DeviceIdentity | None:
        """The cart holding this credential, if it is active and not revoked."""
        ...

    async def connection_allowed(self, device: DeviceIdentity) -> bool:
        """False once the cart was revoked or its credential rotated."""
        ...

    async def find_stored(self, content_sha256: str) -> str | None:
        """The id of the record with this content, if it is stored."""
        ...

    async def store(
        self,
        device: DeviceIdentity,
        offer: Offer,
        *,
        content_sha256: str,
        directory: Path,
        info: RecordInfo,
    ) -> StoredRecord:
        """Commit the record row and its analysis job; an existing row wins (duplicate)."""
        ...

    async def record_status(self, record_id: str) -> dict[str, Any] | None:
        """Analysis summary and referral state for the ``result`` frame; None if unknown."""
        ...

    async def record_statuses(self, record_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """``record_status`` of many records at once; unknown ids are left out."""
        ...

    async def heartbeat(self, device: DeviceIdentity, frame: Heartbeat) -> None:
        """Note the cart's agent version, outbox depth and free disk."""
        ...

    async def clock_sample(
        self, device: DeviceIdentity, *, t1: float, t2: float, t3: float, t4: float
    ) -> None:
        """One clock exchange: t1, t4 server clock; t2, t3 cart clock (ms since the epoch)."""
        ...
