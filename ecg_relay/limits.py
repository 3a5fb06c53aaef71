"""Relay limits: the configured sizes and periods, and per-cart quotas. No I/O here."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-connection limits and timer periods (bytes, counts, seconds)."""

    max_record_bytes: int = 20 * 1024 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_uploads_in_flight: int = 4  # per cart, over all its connections to this process
    max_offers_per_minute: int = 120
    idle_timeout_s: float = 120.0
    status_poll_s: float = 1.0
    allowed_poll_s: float = 1.0
    clock_probe_s: float = 60.0


class CartQuotas:
    """Offers per minute and uploads in flight per cart, shared by a process's connections.

    An upload is in flight from an accepted offer until it is stored, refused for good,
    or its connection ends. A new connection offering the same upload id takes it over
    (the old one is usually a dead TCP link the server has not noticed yet).
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._offers: dict[str, deque[float]] = {}
        self._claims: dict[str, dict[str, object]] = {}

    def allow_offer(self, device_id: str, now: float) -> bool:
        q = self._offers.setdefault(device_id, deque())
        while q and now - q[0] >= 60.0:
            q.popleft()
        if len(q) >= self.per_minute:
            return False
        q.append(now)
        return True

    def claim(self, device_id: str, upload_id: str, owner: object, limit: int) -> bool:
        claims = self._claims.setdefault(device_id, {})
        if upload_id not in claims and len(claims) >= limit:
            return False
        claims[upload_id] = owner
        return True

    def owns(self, device_id: str, upload_id: str, owner: object) -> bool:
        return self._claims.get(device_id, {}).get(upload_id) is owner

    def release(self, device_id: str, upload_id: str, owner: object) -> None:
        claims = self._claims.get(device_id)
        if claims is not None and claims.get(upload_id) is owner:
            del claims[upload_id]
            if not claims:
                del self._claims[device_id]

    def in_flight(self, device_id: str) -> int:
        return len(self._claims.get(device_id, {}))
