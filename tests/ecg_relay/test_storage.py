"""Staging and the content-addressed store on a real filesystem, and the janitor."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from ecg_relay.errors import RelayError
from ecg_relay.storage import MANIFEST, Storage, file_sha256, janitor

DATA = os.urandom(10_000)
SHA = hashlib.sha256(DATA).hexdigest()
CONTENT = "ab" + "0" * 62


def manifest(size: int = len(DATA), sha: str = SHA) -> dict[str, object]:
    return {
        "record_name": "r",
        "content_sha256": CONTENT,
        "files": [{"name": "r.dat", "size": size, "sha256": sha}],
    }


@pytest.fixture()
def store(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "ecg")


def test_chunks_append_only_at_the_held_offset(store: Storage) -> None:
    """Append at the end; a gap is refused and the file stays as it was."""
    assert store.open_upload("dev", "u1", manifest()) == {"r.dat": 0}
    assert store.write_chunk("dev", "u1", "r.dat", 0, DATA[:4000], len(DATA)) == 4000
    with pytest.raises(RelayError) as info:
        store.write_chunk("dev", "u1", "r.dat", 5000, DATA[5000:6000], len(DATA))
    assert info.value.code == "BAD_OFFSET"
    assert store.write_chunk("dev", "u1", "r.dat", 4000, DATA[4000:], len(DATA)) == len(DATA)
    assert (store.staging_dir("dev", "u1") / "r.dat").read_bytes() == DATA


def test_a_repeated_chunk_is_harmless_and_a_different_one_changes_nothing(store: Storage) -> None:
    """Held bytes sent again are acked; differing bytes at a held offset are BAD_OFFSET."""
    store.open_upload("dev", "u1", manifest())
    store.write_chunk("dev", "u1", "r.dat", 0, DATA[:4000], len(DATA))
    assert store.write_chunk("dev", "u1", "r.dat", 0, DATA[:4000], len(DATA)) == 4000
    # Overlapping the end: the held part matches, the rest is appended.
    assert store.write_chunk("dev", "u1", "r.dat", 2000, DATA[2000:6000], len(DATA)) == 6000
    with pytest.raises(RelayError) as info:
        store.write_chunk("dev", "u1", "r.dat", 0, b"\xff" * 100, len(DATA))
    assert info.value.code == "BAD_OFFSET"
    assert (store.staging_dir("dev", "u1") / "r.dat").read_bytes() == DATA[:6000]


def test_chunk_beyond_declared_size_writes_nothing(store: Storage) -> None:
    """CHUNK_BEYOND_SIZE and the staged file is untouched."""
    store.open_upload("dev", "u1", manifest())
    with pytest.raises(RelayError) as info:
        store.write_chunk("dev", "u1", "r.dat", 0, DATA + b"x", len(DATA))
    assert info.value.code == "CHUNK_BEYOND_SIZE"
    assert not (store.staging_dir("dev", "u1") / "r.dat").exists()


def test_resume_reports_held_bytes_and_refuses_a_changed_manifest(store: Storage) -> None:
    """A second offer (even from a fresh Storage, as after a restart) sees the bytes held."""
    store.open_upload("dev", "u1", manifest())
    store.write_chunk("dev", "u1", "r.dat", 0, DATA[:3000], len(DATA))
    again = Storage(store.root)
    assert again.open_upload("dev", "u1", manifest()) == {"r.dat": 3000}
    with pytest.raises(RelayError) as info:
        again.open_upload("dev", "u1", manifest(sha="1" * 64))
    assert info.value.code == "MANIFEST_CHANGED"


def test_unsafe_identifiers_never_become_paths(store: Storage) -> None:
    """Upload ids and file names that could escape the staging area are refused."""
    for bad in ("..", "a/b", ""):
        with pytest.raises(RelayError):
            store.staging_dir("dev", bad)
    store.open_upload("dev", "u1", manifest())
    for name in ("../x", MANIFEST, "a/b"):
        with pytest.raises(RelayError) as info:
            store.write_chunk("dev", "u1", name, 0, b"x", 10)
        assert info.value.code == "BAD_FILENAME"


def test_verify_finds_short_and_wrong_files(store: Storage) -> None:
    """INCOMPLETE while short; a SHA-256 mismatch drops the file so it is sent again."""
    store.open_upload("dev", "u1", manifest())
    store.write_chunk("dev", "u1", "r.dat", 0, DATA[:10], len(DATA))
    with pytest.raises(RelayError) as info:
        store.verify("dev", "u1", [("r.dat", len(DATA), SHA)])
    assert info.value.code == "INCOMPLETE"
    store.write_chunk("dev", "u1", "r.dat", 10, DATA[10:], len(DATA))
    with pytest.raises(RelayError) as info:
        store.verify("dev", "u1", [("r.dat", len(DATA), "0" * 64)])
    assert info.value.code == "SHA256_MISMATCH"
    assert store.open_upload("dev", "u1", manifest()) == {"r.dat": 0}


def _stage_complete(store: Storage, device: str, upload: str) -> None:
    store.open_upload(device, upload, manifest())
    store.write_chunk(device, upload, "r.dat", 0, DATA, len(DATA))
    store.verify(device, upload, [("r.dat", len(DATA), SHA)])


def test_promote_moves_the_record_whole_and_is_idempotent(store: Storage) -> None:
    """The record appears complete under records/<sha[:2]>/<sha>/; a second copy is dropped."""
    _stage_complete(store, "dev", "u1")
    final = store.promote("dev", "u1", CONTENT, ["r.dat"])
    assert final == store.records_root / "ab" / CONTENT
    assert sorted(p.name for p in final.iterdir()) == ["r.dat"]  # no bookkeeping files
    assert file_sha256(final / "r.dat") == SHA
    assert not store.staging_dir("dev", "u1").exists()
    _stage_complete(store, "dev2", "u9")
    assert store.promote("dev2", "u9", CONTENT, ["r.dat"]) == final
    assert not store.staging_dir("dev2", "u9").exists()
    assert [p.name for p in store.record_dirs()] == [CONTENT]


def test_janitor_removes_orphans_after_grace_and_keeps_stored_records(store: Storage) -> None:
    """Folders without a row go after the grace period; stale staging goes; the rest stays."""
    _stage_complete(store, "dev", "u1")
    kept = store.promote("dev", "u1", CONTENT, ["r.dat"])
    orphan_sha = "cd" + "1" * 62
    _stage_complete(store, "dev", "u2")
    orphan = store.promote("dev", "u2", orphan_sha, ["r.dat"])
    store.open_upload("dev", "u3", manifest())
    asked: list[list[str]] = []

    def stored(candidates: object) -> set[str]:
        asked.append(sorted(candidates))  # type: ignore[call-overload]
        return {CONTENT}

    young = janitor(store, stored=stored, orphan_grace_s=3600, staging_max_age_s=3600)
    assert young.orphan_records == () and young.stale_uploads == () and asked == []
    later = time.time() + 7200
    report = janitor(store, stored=stored, orphan_grace_s=3600, staging_max_age_s=3600, now=later)
    assert report.orphan_records == (orphan,)
    assert report.stale_uploads == (store.staging_dir("dev", "u3"),)
    assert asked == [sorted([CONTENT, orphan_sha])]
    assert kept.exists() and not orphan.exists()
    assert not (store.staging_root / "dev").exists()


def test_promoting_old_staged_bytes_restarts_the_grace_period(store: Storage) -> None:
    """A rename keeps old mtimes; promotion refreshes them so the janitor cannot race the row."""
    _stage_complete(store, "dev", "u1")
    old = time.time() - 30 * 86400
    staged = store.staging_dir("dev", "u1")
    os.utime(staged, (old, old))
    final = store.promote("dev", "u1", CONTENT, ["r.dat"])
    report = janitor(store, stored=lambda c: set(), orphan_grace_s=3600)
    assert report.orphan_records == () and final.exists()
