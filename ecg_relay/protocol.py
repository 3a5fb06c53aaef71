"""Relay protocol v1: frame types, parsing and encoding. No I/O here.

Text frames are JSON objects with a ``type``. A chunk is one binary frame:
2-byte big-endian header length H, H bytes of UTF-8 JSON {"upload_id", "file",
"offset"}, then the payload bytes. See docs/relay-protocol.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecg_relay.errors import RelayError

PROTOCOL_VERSION = 1
PATH = "/relay/v1"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Plain names only: no directories, no "..", no hidden files.
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
UPLOAD_ID_RE = r"^[A-Za-z0-9_.:-]{1,64}$"


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class FileSpec(_Frame):
    name: str = Field(max_length=100)
    size: int = Field(ge=1)
    sha256: str


class PatientMeta(_Frame):
    name: str = Field(default="", max_length=100)
    sex: Literal["M", "F"] | None = None
    birth_date: str | None = Field(default=None, max_length=10)
    national_id: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)


class OfferMeta(_Frame):
    patient: PatientMeta = Field(default_factory=PatientMeta)
    acquired_at: datetime | None = None  # on the cart's clock
    first_medical_contact_at: datetime | None = None
    symptom_onset_at: datetime | None = None
    chest_pain: bool | None = None
    preliminary_read: str | None = Field(default=None, max_length=2000)


class Offer(_Frame):
    type: Literal["offer"]
    upload_id: Annotated[str, Field(pattern=UPLOAD_ID_RE)]
    format: Literal["wfdb"] = "wfdb"
    record_name: str = Field(max_length=64)
    files: list[FileSpec] = Field(min_length=1, max_length=32)
    metadata: OfferMeta = Field(default_factory=OfferMeta)


class Commit(_Frame):
    type: Literal["commit"]
    upload_id: Annotated[str, Field(pattern=UPLOAD_ID_RE)]


class Subscribe(_Frame):
    type: Literal["subscribe"]
    record_ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=200)


class Heartbeat(_Frame):
    type: Literal["heartbeat"]
    agent_version: str | None = Field(default=None, max_length=32)
    outbox_depth: int | None = Field(default=None, ge=0)
    disk_free_bytes: int | None = Field(default=None, ge=0)


class ClockReply(_Frame):
    type: Literal["clock_reply"]
    probe_id: int
    t1: float  # server send time (server clock, ms since the epoch), echoed
    t2: float  # cart receive time (cart clock)
    t3: float  # cart send time (cart clock)


ControlFrame = Offer | Commit | Subscribe | Heartbeat | ClockReply
_BY_TYPE: dict[str, type[_Frame]] = {
    "offer": Offer,
    "commit": Commit,
    "subscribe": Subscribe,
    "heartbeat": Heartbeat,
    "clock_reply": ClockReply,
}


@dataclass(frozen=True)
class Chunk:
    upload_id: str
    file: str
    offset: int
    data: bytes


def parse_text(text: str) -> ControlFrame:
    """A control frame from JSON text; RelayError BAD_JSON / UNKNOWN_FRAME / BAD_FRAME."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise RelayError("BAD_JSON") from None
    if not isinstance(raw, dict):
        raise RelayError("BAD_JSON", "a frame is a JSON object")
    kind = raw.get("type")
    model = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise RelayError("UNKNOWN_FRAME", str(kind)[:40])
    try:
        frame = model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise RelayError(
            "BAD_FRAME",
            f"{where}: {first.get('msg', '')}"[:200],
            upload_id=raw.get("upload_id") if isinstance(raw.get("upload_id"), str) else None,
        ) from None
    return frame  # type: ignore[return-value]


def parse_chunk(data: bytes) -> Chunk:
    """A binary chunk frame; RelayError BAD_FRAME when the layout is wrong."""
    if len(data) < 2:
        raise RelayError("BAD_FRAME", "binary frame shorter than its header length")
    (hlen,) = struct.unpack(">H", data[:2])
    if len(data) < 2 + hlen:
        raise RelayError("BAD_FRAME", "binary frame shorter than its header")
    try:
        header = json.loads(data[2 : 2 + hlen].decode("utf-8"))
        upload_id, name, offset = header["upload_id"], header["file"], header["offset"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise RelayError(
            "BAD_FRAME", "chunk header must be JSON with upload_id, file, offset"
        ) from None
    if (
        not (isinstance(upload_id, str) and isinstance(name, str) and isinstance(offset, int))
        or offset < 0
    ):
        raise RelayError("BAD_FRAME", "chunk header fields have wrong types")
    return Chunk(upload_id=upload_id, file=name, offset=offset, data=data[2 + hlen :])


def encode_chunk(upload_id: str, file: str, offset: int, payload: bytes) -> bytes:
    header = json.dumps({"upload_id": upload_id, "file": file, "offset": offset}).encode()
    return struct.pack(">H", len(header)) + header + payload


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def check_manifest(offer: Offer, *, max_record_bytes: int) -> None:
    """Refuse unsafe names, missing header or data files, bad hashes and oversize records."""
    names = [f.name for f in offer.files]
    for n in names:
        if not FILENAME_RE.match(n) or ".." in n:
            raise RelayError("BAD_FILENAME", n[:100], upload_id=offer.upload_id)
    if len(set(names)) != len(names):
        raise RelayError("BAD_MANIFEST", "duplicate file names", upload_id=offer.upload_id)
    if not FILENAME_RE.match(offer.record_name) or ".." in offer.record_name:
        raise RelayError("BAD_FILENAME", offer.record_name[:64], upload_id=offer.upload_id)
    if f"{offer.record_name}.hea" not in names:
        raise RelayError(
            "BAD_MANIFEST", f"{offer.record_name}.hea missing", upload_id=offer.upload_id
        )
    if len(names) < 2:
        raise RelayError(
            "BAD_MANIFEST", "a WFDB record needs a signal file", upload_id=offer.upload_id
        )
    for f in offer.files:
        if not SHA256_RE.match(f.sha256):
            raise RelayError(
                "BAD_MANIFEST",
                f"sha256 of {f.name} is not 64 hex digits",
                upload_id=offer.upload_id,
            )
    total = sum(f.size for f in offer.files)
    if total > max_record_bytes:
        raise RelayError(
            "RECORD_TOO_LARGE", f"{total} > {max_record_bytes} bytes", upload_id=offer.upload_id
        )


def content_sha256(files: list[FileSpec]) -> str:
    """The record's identity: SHA-256 over "name sha256\\n" lines sorted by name."""
    lines = "".join(f"{f.name} {f.sha256}\n" for f in sorted(files, key=lambda f: f.name))
    return hashlib.sha256(lines.encode()).hexdigest()
