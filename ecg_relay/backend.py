"""What the relay loop needs from the platform, as a Protocol (the platform implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecg_relay.formats import RecordInfo
from ecg_relay.protocol import Heartbeat, Offer


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    organization_id: str
    credential_issued_at: Any  # compared for rotation; opaque to the relay


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    duplicate: bool


class RelayBackend(Protocol):
    async def authenticate(self, credential: str) -> DeviceIdentity | None: ...

    async def connection_allowed(self, device: DeviceIdentity) -> bool: ...

    async def find_stored(self, content_sha256: str) -> str | None: ...

    async def store(
        self,
        device: DeviceIdentity,
        offer: Offer,
        *,
        content_sha256: str,
        directory: Path,
        info: RecordInfo,
    ) -> StoredRecord: ...

    async def record_status(self, record_id: str) -> dict[str, Any] | None: ...

    async def heartbeat(self, device: DeviceIdentity, frame: Heartbeat) -> None: ...

    async def clock_sample(
        self, device: DeviceIdentity, *, t1: float, t2: float, t3: float, t4: float
    ) -> None: ...
