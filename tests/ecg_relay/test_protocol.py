"""The relay state machine and frames without sockets: every edge case of the protocol."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ecg_relay.errors import CATALOGUE, RelayError
from ecg_relay.frames import (
    FileSpec,
    Offer,
    content_sha256,
    encode_chunk,
    parse_chunk,
    parse_text,
)
from ecg_relay.protocol import (
    Action,
    CartQuotas,
    Close,
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

HEA = b"r 12 500 5000\n"
DAT = bytes(range(256)) * 40


def _spec(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def offer_text(upload_id: str = "u1", **overrides: Any) -> str:
    frame = {
        "type": "offer",
        "upload_id": upload_id,
        "record_name": "r",
        "files": [_spec("r.hea", HEA), _spec("r.dat", DAT)],
        "metadata": {"patient": {"name": "张三", "sex": "M"}, "chest_pain": True},
    }
    frame.update(overrides)
    return json.dumps(frame)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def machine(
    quotas: CartQuotas | None = None, device: str = "dev1", **limits: Any
) -> tuple[ServerConnection, Clock]:
    clock = Clock()
    conn = ServerConnection(
        device_id=device,
        limits=Limits(**limits),
        quotas=quotas or CartQuotas(per_minute=120),
        monotonic=clock,
        wall_ms=lambda: clock.t * 1000,
    )
    return conn, clock


def sent(actions: list[Action]) -> list[dict[str, Any]]:
    return [a.frame for a in actions if isinstance(a, Send)]


def error_code(actions: list[Action]) -> str:
    (frame,) = sent(actions)
    assert frame["type"] == "error"
    return str(frame["code"])


def opened(conn: ServerConnection, upload_id: str = "u1", held: int = 0) -> None:
    """Drive an offer through FindStored (not stored) and OpenStaging."""
    (find,) = conn.receive(offer_text(upload_id))
    assert isinstance(find, FindStored)
    (open_,) = conn.completed(find, None)
    assert isinstance(open_, OpenStaging)
    assert open_.manifest["content_sha256"] == find.content_sha256
    reply = sent(conn.completed(open_, {"r.hea": 0, "r.dat": held}))
    assert reply == [
        {
            "type": "offer_reply",
            "upload_id": upload_id,
            "status": "send",
            "offsets": {"r.hea": 0, "r.dat": held},
        }
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "BAD_JSON"),
        ("[1, 2]", "BAD_JSON"),
        ('{"type": "teleport"}', "UNKNOWN_FRAME"),
        ('{"no_type": 1}', "UNKNOWN_FRAME"),
        ('{"type": "offer", "upload_id": "u1"}', "BAD_FRAME"),
        ('{"type": "commit", "upload_id": "../etc"}', "BAD_FRAME"),
        ('{"type": "heartbeat", "outbox_depth": "3"}', "BAD_FRAME"),
        ('{"type": "heartbeat", "outbox_depth": -1}', "BAD_FRAME"),
        ('{"type": "subscribe", "record_ids": "abc"}', "BAD_FRAME"),
    ],
)
def test_malformed_control_frames_are_refused_with_their_code(text: str, code: str) -> None:
    """Bad JSON, unknown types and wrongly typed fields each get their stable code, non-fatal."""
    conn, _ = machine()
    actions = conn.receive(text)
    assert error_code(actions) == code
    assert not any(isinstance(a, Close) for a in actions)
    assert not conn.closed


def test_parsing_is_strict_and_ignores_unknown_fields() -> None:
    """A number as a string is refused; a field added by a later revision is ignored."""
    with pytest.raises(RelayError) as info:
        parse_text(offer_text(files=[{"name": "r.hea", "size": "14", "sha256": "0" * 64}]))
    assert info.value.code == "BAD_FRAME" and info.value.upload_id == "u1"
    frame = parse_text(offer_text(future_field={"x": 1}))
    assert isinstance(frame, Offer) and frame.metadata.patient.sex == "M"


def test_chunk_layout_round_trips_and_rejects_garbage() -> None:
    """2-byte length, JSON header, payload; short or mistyped headers are BAD_FRAME."""
    raw = encode_chunk("u1", "r.dat", 65536, b"\x00\xffabc")
    assert int.from_bytes(raw[:2], "big") == len(raw) - 2 - 5
    chunk = parse_chunk(raw)
    assert (chunk.upload_id, chunk.file, chunk.offset, chunk.data) == (
        "u1",
        "r.dat",
        65536,
        b"\x00\xffabc",
    )
    for bad in (b"\x00", b"\x00\x10{}", b"\x00\x02{}", encode_chunk("u1", "r.dat", -1, b"x")):
        with pytest.raises(RelayError) as info:
            parse_chunk(bad)
        assert info.value.code == "BAD_FRAME"
    header = json.dumps({"upload_id": "u1", "file": "r.dat", "offset": True}).encode()
    with pytest.raises(RelayError):
        parse_chunk(len(header).to_bytes(2, "big") + header + b"x")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"files": [_spec("../r.hea", HEA), _spec("r.dat", DAT)]}, "BAD_FILENAME"),
        ({"files": [_spec("r.hea", HEA), _spec("sub/r.dat", DAT)]}, "BAD_FILENAME"),
        ({"files": [_spec("r.hea", HEA), _spec(".manifest.json", DAT)]}, "BAD_FILENAME"),
        ({"files": [_spec("r.hea", HEA), _spec("r..dat", DAT)]}, "BAD_FILENAME"),
        ({"record_name": ".."}, "BAD_FILENAME"),
        ({"files": [_spec("r.dat", DAT)]}, "BAD_MANIFEST"),
        ({"files": [_spec("r.hea", HEA)]}, "BAD_MANIFEST"),
        ({"files": [_spec("r.hea", HEA), _spec("r.hea", HEA)]}, "BAD_MANIFEST"),
        (
            {"files": [_spec("r.hea", HEA), {**_spec("r.dat", DAT), "sha256": "A" * 64}]},
            "BAD_MANIFEST",
        ),
        (
            {"files": [_spec("r.hea", HEA), {**_spec("r.dat", DAT), "size": 30_000_000}]},
            "RECORD_TOO_LARGE",
        ),
    ],
)
def test_bad_offers_are_refused_before_any_io(overrides: dict[str, Any], code: str) -> None:
    """Unsafe names, incomplete manifests, bad hashes and oversize records: no effect at all."""
    conn, _ = machine()
    actions = conn.receive(offer_text(**overrides))
    assert error_code(actions) == code
    assert conn.uploads == {}


def test_fresh_upload_offer_chunks_commit_stored() -> None:
    """The whole happy path, effect by effect, ending in 'stored' and a watched record."""
    conn, _ = machine()
    opened(conn)
    (write,) = conn.receive(encode_chunk("u1", "r.hea", 0, HEA))
    assert isinstance(write, WriteChunk) and write.declared_size == len(HEA)
    assert sent(conn.completed(write, len(HEA))) == [
        {"type": "ack", "upload_id": "u1", "file": "r.hea", "offset": len(HEA)}
    ]
    (write,) = conn.receive(encode_chunk("u1", "r.dat", 0, DAT))
    conn.completed(write, len(DAT))
    (final,) = conn.receive(json.dumps({"type": "commit", "upload_id": "u1"}))
    assert isinstance(final, Finalize) and final.content_sha256 == conn.uploads["u1"].content_sha256
    assert sent(conn.completed(final, StoredRecord("rec1", False))) == [
        {"type": "stored", "upload_id": "u1", "record_id": "rec1", "duplicate": False}
    ]
    assert conn.uploads == {} and conn.watched_ids() == ["rec1"]
    assert conn.quotas.in_flight("dev1") == 0


def test_already_stored_content_is_answered_at_once() -> None:
    """An offer for stored content gets offer_reply 'stored' with the existing id; no staging."""
    conn, _ = machine()
    (find,) = conn.receive(offer_text())
    assert sent(conn.completed(find, "rec9")) == [
        {
            "type": "offer_reply",
            "upload_id": "u1",
            "status": "stored",
            "record_id": "rec9",
            "duplicate": True,
        }
    ]
    assert conn.uploads == {} and conn.quotas.in_flight("dev1") == 0


def test_chunk_edge_cases_are_refused_without_writing() -> None:
    """Unknown upload, unoffered file, beyond size and a gap are refused before any write."""
    conn, _ = machine()
    assert error_code(conn.receive(encode_chunk("nope", "r.dat", 0, b"x"))) == "UNKNOWN_UPLOAD"
    opened(conn, held=100)
    assert error_code(conn.receive(encode_chunk("u1", "x.dat", 0, b"x"))) == "BAD_MANIFEST"
    assert error_code(conn.receive(encode_chunk("u1", "r.dat", 100, DAT))) == "CHUNK_BEYOND_SIZE"
    assert error_code(conn.receive(encode_chunk("u1", "r.dat", 101, b"x"))) == "BAD_OFFSET"
    # At or before the held offset the storage decides (a repeat of held bytes is harmless).
    (write,) = conn.receive(encode_chunk("u1", "r.dat", 0, DAT[:100]))
    assert isinstance(write, WriteChunk)
    assert conn.uploads["u1"].offsets == {"r.hea": 0, "r.dat": 100}


def test_commit_before_all_bytes_is_incomplete_and_keeps_the_upload() -> None:
    """INCOMPLETE names what is missing; the upload can still be completed afterwards."""
    conn, _ = machine()
    opened(conn, held=100)
    actions = conn.receive(json.dumps({"type": "commit", "upload_id": "u1"}))
    assert error_code(actions) == "INCOMPLETE"
    assert "r.dat: 100 of" in sent(actions)[0]["detail"]
    assert "u1" in conn.uploads


def test_failed_finalize_forgets_the_upload_and_reports_the_code() -> None:
    """A SHA-256 mismatch at commit: error frame, slot released, the cart must offer again."""
    conn, _ = machine()
    opened(conn, held=len(DAT))
    conn.completed(conn.receive(encode_chunk("u1", "r.hea", 0, HEA))[0], len(HEA))  # type: ignore[arg-type]
    (final,) = conn.receive(json.dumps({"type": "commit", "upload_id": "u1"}))
    assert isinstance(final, Finalize)
    actions = conn.failed(final, RelayError("SHA256_MISMATCH", "r.dat", upload_id="u1"))
    assert error_code(actions) == "SHA256_MISMATCH"
    assert conn.uploads == {} and conn.quotas.in_flight("dev1") == 0


def test_uploads_in_flight_are_counted_per_cart_across_connections() -> None:
    """Two connections of one cart share the limit; another cart is not affected."""
    quotas = CartQuotas(per_minute=120)
    a, _ = machine(quotas, max_uploads_in_flight=2)
    b, _ = machine(quotas, max_uploads_in_flight=2)
    other, _ = machine(quotas, device="dev2", max_uploads_in_flight=2)
    opened(a, "u1")
    opened(b, "u2")
    (find,) = a.receive(offer_text("u3"))
    assert error_code(a.completed(find, None)) == "TOO_MANY_UPLOADS"
    opened(other, "u3")
    b.connection_lost()
    opened(a, "u3")  # b's upload is no longer in flight
    assert quotas.in_flight("dev1") == 2


def test_a_new_connection_takes_over_an_upload_id() -> None:
    """The old (dead) connection can no longer write to an upload a new one resumed."""
    quotas = CartQuotas(per_minute=120)
    old, _ = machine(quotas)
    new, _ = machine(quotas)
    opened(old, "u1")
    opened(new, "u1", held=0)
    assert error_code(old.receive(encode_chunk("u1", "r.hea", 0, HEA))) == "UNKNOWN_UPLOAD"
    assert isinstance(new.receive(encode_chunk("u1", "r.hea", 0, HEA))[0], WriteChunk)
    old.connection_lost()
    assert quotas.owns("dev1", "u1", new)


def test_offers_per_minute_are_limited_per_cart() -> None:
    """The sixth offer within a minute is RATE_LIMITED; a minute later offers pass again."""
    quotas = CartQuotas(per_minute=5)
    conn, clock = machine(quotas)
    for i in range(5):
        assert isinstance(conn.receive(offer_text(f"u{i}"))[0], FindStored)
        clock.t += 1
    assert error_code(conn.receive(offer_text("u5"))) == "RATE_LIMITED"
    clock.t += 60
    assert isinstance(conn.receive(offer_text("u5"))[0], FindStored)


def test_oversize_frame_is_fatal_and_closes_with_1009() -> None:
    """A frame over max_frame_bytes: FRAME_TOO_LARGE, then close 1009; nothing after that."""
    conn, _ = machine(max_frame_bytes=1000)
    actions = conn.receive(encode_chunk("u1", "r.dat", 0, b"\0" * 1000))
    assert error_code(actions[:1]) == "FRAME_TOO_LARGE"
    assert actions[1] == Close(1009, "FRAME_TOO_LARGE")
    assert conn.closed and conn.receive(offer_text()) == []


def test_idle_timeout_and_revocation_close_the_connection() -> None:
    """IDLE_TIMEOUT closes with 1008, REVOKED with 4403; both send the error first."""
    conn, _ = machine()
    actions = conn.idle_timeout()
    assert error_code(actions[:1]) == "IDLE_TIMEOUT" and actions[1] == Close(1008, "IDLE_TIMEOUT")
    conn, _ = machine()
    opened(conn)
    actions = conn.revoked()
    assert error_code(actions[:1]) == "REVOKED" and actions[1] == Close(4403, "REVOKED")
    conn.connection_lost()
    assert conn.quotas.in_flight("dev1") == 0


def test_heartbeat_is_answered_before_it_is_saved() -> None:
    """heartbeat → heartbeat_ack first (the cart times it), then the effect to save it."""
    conn, clock = machine()
    actions = conn.receive('{"type": "heartbeat", "agent_version": "1.2", "outbox_depth": 3}')
    assert sent(actions) == [{"type": "heartbeat_ack", "server_time_ms": clock.t * 1000}]
    assert isinstance(actions[1], NoteHeartbeat) and actions[1].heartbeat.outbox_depth == 3


def test_clock_reply_becomes_a_sample_only_for_the_current_probe() -> None:
    """t1 and t4 come from the server; a stale or forged reply yields no sample."""
    conn, clock = machine()
    (probe,) = sent(conn.clock_probe())
    clock.t += 0.05
    reply = {
        "type": "clock_reply",
        "probe_id": probe["probe_id"],
        "t1": probe["t1"],
        "t2": 5.0,
        "t3": 6.0,
    }
    (sample,) = conn.receive(json.dumps(reply))
    assert sample == NoteClockSample(t1=probe["t1"], t2=5.0, t3=6.0, t4=clock.t * 1000)
    assert conn.receive(json.dumps(reply)) == []  # answered already
    (probe,) = sent(conn.clock_probe())
    assert conn.receive(json.dumps({**reply, "probe_id": probe["probe_id"], "t1": 1.0})) == []


def test_results_are_pushed_on_change_until_final() -> None:
    """A result frame per change of analysis or referral; a final status ends the watch."""
    conn, _ = machine()
    conn.receive('{"type": "subscribe", "record_ids": ["r1", "r2"]}')
    pending = {"record_id": "r1", "analysis": None, "referral": None, "final": False}
    assert sent(conn.status("r1", pending)) == [{"type": "result", **pending}]
    assert conn.status("r1", pending) == []
    analysed = {**pending, "analysis": {"acute": True}, "referral": {"id": "x", "state": "opened"}}
    assert len(sent(conn.status("r1", analysed))) == 1
    done = {**analysed, "referral": {"id": "x", "state": "admitted"}, "final": True}
    assert len(sent(conn.status("r1", done))) == 1
    assert conn.status("r2", None) == []
    assert conn.watched_ids() == []


def test_content_hash_ignores_file_order_and_sees_every_byte() -> None:
    """Same files in another order: same identity; one changed byte: another identity."""
    a = [FileSpec.model_validate(_spec("r.hea", HEA)), FileSpec.model_validate(_spec("r.dat", DAT))]
    assert content_sha256(a) == content_sha256(list(reversed(a)))
    changed = [a[0], FileSpec.model_validate(_spec("r.dat", DAT[:-1] + b"\x01"))]
    assert content_sha256(a) != content_sha256(changed)
    lines = "".join(f"{f.name} {f.sha256}\n" for f in sorted(a, key=lambda f: f.name))
    assert content_sha256(a) == hashlib.sha256(lines.encode()).hexdigest()


def test_every_error_code_has_both_messages() -> None:
    """Each code carries a Chinese and an English message, and the frame carries them."""
    for code, kind in CATALOGUE.items():
        assert kind.message_zh and kind.message_en and code.isupper()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in kind.message_zh)
        frame = RelayError(code, upload_id="u1").frame()
        assert frame["message_zh"] == kind.message_zh and frame["upload_id"] == "u1"
    with pytest.raises(ValueError):
        RelayError("NO_SUCH_CODE")
