"""Relay protocol v1 frames: strict parsing and encoding. No I/O here.

Text frames are JSON objects with a ``type``. A chunk is one binary frame: a 2-byte
big-endian header length H, H bytes of UTF-8 JSON {"upload_id", "file", "offset"},
then the payload bytes. docs/relay-protocol.md is the normative description.
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
# Plain names only: no directories, no "..", no hidden files (the staging area keeps its
# own bookkeeping in dot-files, so a cart can never overwrite it).
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
UPLOAD_ID_RE = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_FILES = 32
MAX_SUBSCRIBE = 200
MAX_LEADS = 16


class _Frame(BaseModel):
    # Strict types (no "3" for 3, no true for 1); unknown fields are ignored so that a later
    # minor revision can add fields without breaking older servers.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, strict=True)


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
    files: list[FileSpec] = Field(min_length=1, max_length=MAX_FILES)
    # Lead count the cart recorded; when given, the header must agree (LEAD_COUNT).
    leads: int | None = Field(default=None, ge=1, le=MAX_LEADS)
    metadata: OfferMeta = Field(default_factory=OfferMeta)


class Commit(_Frame):
    type: Literal["commit"]
    upload_id: Annotated[str, Field(pattern=UPLOAD_ID_RE)]


class Subscribe(_Frame):
    type: Literal["subscribe"]
    record_ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=MAX_SUBSCRIBE)


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
        frame = model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        upload_id = raw.get("upload_id")
        raise RelayError(
            "BAD_FRAME",
            f"{where}: {first.get('msg', '')}"[:200],
            upload_id=upload_id if isinstance(upload_id, str) else None,
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
        not (isinstance(upload_id, str) and isinstance(name, str))
        or not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
    ):
        raise RelayError("BAD_FRAME", "chunk header fields have wrong types")
    return Chunk(upload_id=upload_id, file=name, offset=offset, data=data[2 + hlen :])


def encode_chunk(upload_id: str, file: str, offset: int, payload: bytes) -> bytes:
    """One binary chunk frame (header length, JSON header, payload)."""
    header = json.dumps({"upload_id": upload_id, "file": file, "offset": offset}).encode()
    return struct.pack(">H", len(header)) + header + payload


def encode(frame: dict[str, Any]) -> str:
    """A control frame as compact JSON text (UTF-8 kept readable)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def safe_name(name: str) -> bool:
    """A plain file name: no directory part, no "..", no leading dot, a small alphabet."""
    return bool(FILENAME_RE.match(name)) and ".." not in name


def check_manifest(offer: Offer, *, max_record_bytes: int) -> None:
    """Refuse unsafe names, missing header or data files, bad hashes and oversize records."""
    uid = offer.upload_id
    names = [f.name for f in offer.files]
    for n in names:
        if not safe_name(n):
            raise RelayError("BAD_FILENAME", n[:100], upload_id=uid)
    if not safe_name(offer.record_name):
        raise RelayError("BAD_FILENAME", offer.record_name[:64], upload_id=uid)
    if len(set(names)) != len(names):
        raise RelayError("BAD_MANIFEST", "duplicate file names", upload_id=uid)
    if f"{offer.record_name}.hea" not in names:
        raise RelayError("BAD_MANIFEST", f"{offer.record_name}.hea missing", upload_id=uid)
    if len(names) < 2:
        raise RelayError("BAD_MANIFEST", "a WFDB record needs a signal file", upload_id=uid)
    for f in offer.files:
        if not SHA256_RE.match(f.sha256):
            raise RelayError(
                "BAD_MANIFEST", f"sha256 of {f.name} is not 64 lowercase hex digits", upload_id=uid
            )
    total = sum(f.size for f in offer.files)
    if total > max_record_bytes:
        raise RelayError("RECORD_TOO_LARGE", f"{total} > {max_record_bytes} bytes", upload_id=uid)


def content_sha256(files: list[FileSpec]) -> str:
    """The record's identity: SHA-256 over "<name> <sha256>\\n" lines sorted by name.

    Two uploads have the same identity exactly when they carry the same files (same
    names, same bytes); the database keeps it UNIQUE, which is the deduplication.
    """
    lines = "".join(f"{f.name} {f.sha256}\n" for f in sorted(files, key=lambda f: f.name))
    return hashlib.sha256(lines.encode()).hexdigest()


def manifest_of(offer: Offer) -> dict[str, Any]:
    """What the staging area remembers about an upload, to detect a changed re-offer."""
    return {
        "record_name": offer.record_name,
        "content_sha256": content_sha256(offer.files),
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in offer.files],
    }
