"""The relay's server-side connection as a state machine, free of I/O.

``ServerConnection`` is fed what arrives on one cart connection (text or binary frames,
timer events, the outcomes of work it asked for) and returns ``Action``s: frames to send,
a close, or an effect (look up a record, open or write the staging area, verify and store
a record, save a heartbeat or a clock sample). The I/O loop (``ecg_relay.server``)
performs each effect and reports back with ``completed`` or ``failed``. The frames of one
connection, and the effects they cause, are handled one at a time and in order, so no
frame arrives while an upload's earlier work is outstanding; timer events (``status``,
``revoked``, ``clock_probe``, ``idle_timeout``) touch no upload state. Frames are defined
in ``ecg_relay.frames``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecg_relay.errors import RelayError
from ecg_relay.frames import (
    PATH,
    PROTOCOL_VERSION,
    ClockReply,
    Commit,
    ControlFrame,
    Heartbeat,
    Offer,
    Subscribe,
    check_manifest,
    content_sha256,
    encode,
    encode_chunk,
    manifest_of,
    parse_chunk,
    parse_text,
)
from ecg_relay.limits import CartQuotas, Limits

__all__ = [
    "PATH",
    "PROTOCOL_VERSION",
    "Action",
    "CartQuotas",
    "Close",
    "Effect",
    "Finalize",
    "FindStored",
    "Heartbeat",
    "Limits",
    "NoteClockSample",
    "NoteHeartbeat",
    "Offer",
    "OpenStaging",
    "Send",
    "ServerConnection",
    "StoredRecord",
    "WriteChunk",
    "encode",
    "encode_chunk",
]

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_AUTH = 4401
CLOSE_REVOKED = 4403
MAX_WATCHED = 200


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    duplicate: bool


# -- actions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    frame: dict[str, Any]


def _send(kind: str, **fields: Any) -> Send:
    return Send({"type": kind, **fields})


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True)
class FindStored:
    """Outcome: the record id holding this content, or None."""

    upload_id: str
    content_sha256: str


@dataclass(frozen=True)
class OpenStaging:
    """Outcome: bytes already held per file (dict[str, int])."""

    upload_id: str
    manifest: dict[str, Any]


@dataclass(frozen=True)
class WriteChunk:
    """Outcome: the file's size after the write (int)."""

    upload_id: str
    file: str
    offset: int
    data: bytes
    declared_size: int


@dataclass(frozen=True)
class Finalize:
    """Verify, validate, fsync, promote and commit the record. Outcome: StoredRecord."""

    upload_id: str
    offer: Offer
    content_sha256: str


@dataclass(frozen=True)
class NoteHeartbeat:
    heartbeat: Heartbeat


@dataclass(frozen=True)
class NoteClockSample:
    """t1, t4 on the server clock; t2, t3 on the cart clock (ms since the epoch)."""

    t1: float
    t2: float
    t3: float
    t4: float


Effect = FindStored | OpenStaging | WriteChunk | Finalize | NoteHeartbeat | NoteClockSample
Action = Send | Close | Effect


@dataclass
class _Upload:
    offer: Offer
    content_sha256: str
    offsets: dict[str, int] | None = None  # None until the staging area is open


def _wall_ms() -> float:
    return time.time() * 1000.0


class ServerConnection:
    """One cart connection's protocol state. Methods return the actions to take, in order.

    Parameters
    ----------
    device_id : str
        The authenticated cart.
    limits : Limits
        Sizes, counts and periods.
    quotas : CartQuotas
        Shared by all connections of the server process.
    monotonic, wall_ms : callable
        Clocks (s, for rate limits; ms since the epoch, for timestamps sent); injectable
        for tests.
    """

    def __init__(
        self,
        *,
        device_id: str,
        limits: Limits,
        quotas: CartQuotas,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], float] = _wall_ms,
    ) -> None:
        self.device_id = device_id
        self.limits = limits
        self.quotas = quotas
        self.monotonic = monotonic
        self.wall_ms = wall_ms
        self.uploads: dict[str, _Upload] = {}
        self.watched: dict[str, str] = {}  # record id -> last analysis/referral state sent
        self.closed = False
        self._probe: tuple[int, float] | None = None
        self._probe_seq = 0

    # -- events from the peer --------------------------------------------------------------
    def hello(self) -> list[Action]:
        lim = self.limits
        limits = {
            "max_record_bytes": lim.max_record_bytes,
            "max_frame_bytes": lim.max_frame_bytes,
            "max_uploads_in_flight": lim.max_uploads_in_flight,
            "max_offers_per_minute": lim.max_offers_per_minute,
            "idle_timeout_s": lim.idle_timeout_s,
        }
        now = self.wall_ms()
        return [
            _send(
                "hello",
                protocol=PROTOCOL_VERSION,
                device_id=self.device_id,
                server_time_ms=now,
                limits=limits,
            )
        ]

    def receive(self, message: str | bytes) -> list[Action]:
        """A frame from the cart."""
        if self.closed:
            return []
        try:
            size = len(message) if isinstance(message, bytes) else len(message.encode())
            if size > self.limits.max_frame_bytes:
                raise RelayError("FRAME_TOO_LARGE", f"{size} > {self.limits.max_frame_bytes} bytes")
            if isinstance(message, bytes):
                return self._chunk(message)
            return self._control(parse_text(message))
        except RelayError as err:
            return self.refuse(err)

    def _control(self, frame: ControlFrame) -> list[Action]:
        if isinstance(frame, Offer):
            return self._offer(frame)
        if isinstance(frame, Commit):
            return self._commit(frame)
        if isinstance(frame, Subscribe):
            for rid in frame.record_ids:
                if len(self.watched) >= MAX_WATCHED:
                    break
                self.watched.setdefault(rid, "")
            return []
        if isinstance(frame, Heartbeat):
            # Answer before the database write: the cart only needs to know the link is up.
            ack = _send("heartbeat_ack", server_time_ms=self.wall_ms())
            return [ack, NoteHeartbeat(frame)]
        assert isinstance(frame, ClockReply)
        t4 = self.wall_ms()
        probe, self._probe = self._probe, None
        if probe is None or probe[0] != frame.probe_id or probe[1] != frame.t1:
            return []  # late, repeated or forged: not a sample
        return [NoteClockSample(t1=probe[1], t2=frame.t2, t3=frame.t3, t4=t4)]

    def _offer(self, offer: Offer) -> list[Action]:
        uid = offer.upload_id
        if not self.quotas.allow_offer(self.device_id, self.monotonic()):
            raise RelayError("RATE_LIMITED", upload_id=uid)
        check_manifest(offer, max_record_bytes=self.limits.max_record_bytes)
        sha = content_sha256(offer.files)
        self.uploads[uid] = _Upload(offer=offer, content_sha256=sha)
        return [FindStored(uid, sha)]

    def _owned(self, upload_id: str) -> _Upload:
        up = self.uploads.get(upload_id)
        if up is None or up.offsets is None:
            raise RelayError("UNKNOWN_UPLOAD", upload_id=upload_id)
        if not self.quotas.owns(self.device_id, upload_id, self):
            del self.uploads[upload_id]
            raise RelayError(
                "UNKNOWN_UPLOAD", "taken over by a newer connection", upload_id=upload_id
            )
        return up

    def _chunk(self, data: bytes) -> list[Action]:
        chunk = parse_chunk(data)
        uid = chunk.upload_id
        up = self._owned(uid)
        assert up.offsets is not None
        spec = next((f for f in up.offer.files if f.name == chunk.file), None)
        if spec is None:
            raise RelayError("BAD_MANIFEST", f"{chunk.file[:100]} was not offered", upload_id=uid)
        end = chunk.offset + len(chunk.data)
        if end > spec.size:
            raise RelayError(
                "CHUNK_BEYOND_SIZE", f"{spec.name}: {end} > {spec.size} bytes", upload_id=uid
            )
        held = up.offsets[spec.name]
        if chunk.offset > held:
            raise RelayError(
                "BAD_OFFSET", f"{spec.name}: expected {held}, got {chunk.offset}", upload_id=uid
            )
        return [WriteChunk(uid, spec.name, chunk.offset, chunk.data, spec.size)]

    def _commit(self, commit: Commit) -> list[Action]:
        uid = commit.upload_id
        up = self._owned(uid)
        assert up.offsets is not None
        short = [
            f"{f.name}: {up.offsets[f.name]} of {f.size} bytes"
            for f in up.offer.files
            if up.offsets[f.name] != f.size
        ]
        if short:
            raise RelayError("INCOMPLETE", "; ".join(short)[:200], upload_id=uid)
        return [Finalize(uid, up.offer, up.content_sha256)]

    # -- outcomes of effects ---------------------------------------------------------------
    def completed(self, effect: Effect, outcome: Any) -> list[Action]:
        """The I/O loop finished ``effect``; ``outcome`` as documented on the effect."""
        if isinstance(effect, FindStored):
            return self._found(effect, outcome)
        if isinstance(effect, OpenStaging):
            up = self.uploads.get(effect.upload_id)
            if up is None:
                return []
            up.offsets = dict(outcome)
            return [
                _send("offer_reply", upload_id=effect.upload_id, status="send", offsets=up.offsets)
            ]
        if isinstance(effect, WriteChunk):
            up = self.uploads.get(effect.upload_id)
            size = int(outcome)
            if up is not None and up.offsets is not None:
                up.offsets[effect.file] = size
            return [_send("ack", upload_id=effect.upload_id, file=effect.file, offset=size)]
        if isinstance(effect, Finalize):
            stored: StoredRecord = outcome
            self._forget(effect.upload_id)
            self._watch(stored.record_id)
            uid, rid, dup = effect.upload_id, stored.record_id, stored.duplicate
            return [_send("stored", upload_id=uid, record_id=rid, duplicate=dup)]
        return []

    def _found(self, effect: FindStored, record_id: str | None) -> list[Action]:
        uid = effect.upload_id
        up = self.uploads.get(uid)
        if up is None:
            return []
        if record_id is not None:
            self._forget(uid)
            self._watch(record_id)
            reply = {"status": "stored", "record_id": record_id, "duplicate": True}
            return [_send("offer_reply", upload_id=uid, **reply)]
        if not self.quotas.claim(self.device_id, uid, self, self.limits.max_uploads_in_flight):
            del self.uploads[uid]
            return self.refuse(
                RelayError(
                    "TOO_MANY_UPLOADS", f"limit {self.limits.max_uploads_in_flight}", upload_id=uid
                )
            )
        return [OpenStaging(uid, manifest_of(up.offer))]

    def failed(self, effect: Effect, err: RelayError) -> list[Action]:
        """The I/O loop could not do ``effect``; tell the cart why."""
        if isinstance(effect, NoteHeartbeat | NoteClockSample):
            return []  # bookkeeping only: the cart needs no answer
        if isinstance(effect, FindStored | OpenStaging | Finalize):
            # The cart starts again with an offer, which re-reads the staging area.
            self._forget(effect.upload_id)
        return self.refuse(err)

    # -- timers and platform events ---------------------------------------------------------
    def idle_timeout(self) -> list[Action]:
        return self.refuse(RelayError("IDLE_TIMEOUT", f"{self.limits.idle_timeout_s:g} s"))

    def revoked(self) -> list[Action]:
        return self.refuse(RelayError("REVOKED"))

    def clock_probe(self) -> list[Action]:
        if self.closed:
            return []
        self._probe_seq += 1
        t1 = self.wall_ms()
        self._probe = (self._probe_seq, t1)
        return [_send("clock_probe", probe_id=self._probe_seq, t1=t1)]

    def watched_ids(self) -> list[str]:
        return list(self.watched)

    def status(self, record_id: str, status: dict[str, Any] | None) -> list[Action]:
        """The platform's current view of a watched record; a ``result`` frame if it changed."""
        if record_id not in self.watched or self.closed:
            return []
        if status is None:
            del self.watched[record_id]
            return []
        analysis, referral = status.get("analysis"), status.get("referral")
        key = encode({"a": analysis, "r": referral})
        actions: list[Action] = []
        if key != self.watched[record_id]:
            self.watched[record_id] = key
            actions.append(_send("result", **status))
        if status.get("final"):
            del self.watched[record_id]
        return actions

    def connection_lost(self) -> None:
        """The link is gone: uploads of this connection are no longer in flight."""
        self.closed = True
        for uid in list(self.uploads):
            self._forget(uid)

    # -- helpers ---------------------------------------------------------------------------
    def refuse(self, err: RelayError) -> list[Action]:
        """An error frame, and a close when the error is fatal."""
        if self.closed:
            return []
        actions: list[Action] = [Send(err.frame())]
        if err.fatal:
            self.closed = True
            code = {
                "FRAME_TOO_LARGE": CLOSE_TOO_BIG,
                "REVOKED": CLOSE_REVOKED,
                "AUTH_FAILED": CLOSE_AUTH,
            }.get(err.code, CLOSE_POLICY)
            actions.append(Close(code, err.code))
        return actions

    def _forget(self, upload_id: str) -> None:
        self.uploads.pop(upload_id, None)
        self.quotas.release(self.device_id, upload_id, self)

    def _watch(self, record_id: str) -> None:
        if len(self.watched) < MAX_WATCHED:
            self.watched.setdefault(record_id, "")
