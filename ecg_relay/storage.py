"""Durable files: staging of uploads in flight and the content-addressed record store.

Layout under the storage root (``settings.ecg_dir``)::

    staging/<device_id>/<upload_id>/<file>          bytes received so far
    staging/<device_id>/<upload_id>/.manifest.json  what was offered under this upload id
    records/<sha[:2]>/<sha>/<file>                   complete, verified records

A staged file only grows by appending at its current size, so its size is the offset a
resumed upload continues from, also after a server restart. A record is promoted by one
atomic rename of its staging folder after its files and the folder are fsynced; the
parent folder is fsynced after the rename. ``sha`` is the record's content hash
(``ecg_relay.frames.content_sha256``). The janitor removes what a crash can leave behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecg_relay.errors import RelayError
from ecg_relay.frames import SHA256_RE, UPLOAD_ID_RE, safe_name

MANIFEST = ".manifest.json"
LOCK_FILE = ".lock"
_LOCK_STRIPES = 64
# A record folder without a database row is left alone this long: the row is committed
# right after the rename, so only a crash in between leaves one for longer.
ORPHAN_GRACE_S = 3600.0
# Staged bytes of an upload nobody resumed for a week are dropped.
STAGING_MAX_AGE_S = 7 * 86400.0


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_COMPONENT_RE = re.compile(UPLOAD_ID_RE)


def _check_component(value: str) -> None:
    # Device ids come from the database and upload ids are validated by the protocol; this
    # is the last line of defence against a path escaping the staging area.
    if not _COMPONENT_RE.match(value) or set(value) == {"."}:
        raise RelayError("BAD_FRAME", "unsafe identifier")


class Storage:
    """Staging and the record store under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging_root = self.root / "staging"
        self.records_root = self.root / "records"
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.records_root.mkdir(parents=True, exist_ok=True)
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def staging_dir(self, device_id: str, upload_id: str) -> Path:
        _check_component(device_id)
        _check_component(upload_id)
        return self.staging_root / device_id / upload_id

    def record_dir(self, content_sha256: str) -> Path:
        if not SHA256_RE.match(content_sha256):
            raise ValueError("not a content hash")
        return self.records_root / content_sha256[:2] / content_sha256

    def _upload_lock(self, device_id: str, upload_id: str) -> threading.Lock:
        return self._locks[hash((device_id, upload_id)) % _LOCK_STRIPES]

    @contextlib.contextmanager
    def _store_lock(self) -> Iterator[None]:
        """Serialise promotion against the janitor, across threads and processes."""
        with open(self.records_root / LOCK_FILE, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- staging ---------------------------------------------------------------------------
    def open_upload(
        self, device_id: str, upload_id: str, manifest: dict[str, Any]
    ) -> dict[str, int]:
        """Create or resume a staged upload; bytes held per file. MANIFEST_CHANGED on mismatch."""
        d = self.staging_dir(device_id, upload_id)
        mpath = d / MANIFEST
        with self._upload_lock(device_id, upload_id):
            held: Any = None
            if mpath.exists():
                with contextlib.suppress(ValueError):
                    held = json.loads(mpath.read_text())
                if held is not None and held != manifest:
                    raise RelayError("MANIFEST_CHANGED", upload_id=upload_id)
            if held is None:
                d.mkdir(parents=True, exist_ok=True)
                tmp = d / (MANIFEST + ".tmp")
                tmp.write_text(json.dumps(manifest, sort_keys=True))
                os.replace(tmp, mpath)
            return {f["name"]: self._size(d / f["name"]) for f in manifest["files"]}

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def write_chunk(
        self,
        device_id: str,
        upload_id: str,
        name: str,
        offset: int,
        data: bytes,
        declared_size: int,
    ) -> int:
        """Append ``data`` at ``offset``; the file's new size.

        Only ``offset`` equal to the bytes held extends the file. A chunk that repeats
        bytes already held (a resend after a lost ack) is harmless when they are equal;
        anything else is refused and leaves the file as it was.
        """
        if not safe_name(name):
            raise RelayError("BAD_FILENAME", name[:100], upload_id=upload_id)
        path = self.staging_dir(device_id, upload_id) / name
        if offset + len(data) > declared_size:
            raise RelayError(
                "CHUNK_BEYOND_SIZE",
                f"{name}: {offset}+{len(data)} > {declared_size}",
                upload_id=upload_id,
            )
        with self._upload_lock(device_id, upload_id):
            if not path.parent.is_dir():
                raise RelayError("UNKNOWN_UPLOAD", "no staged upload", upload_id=upload_id)
            current = self._size(path)
            if offset < current:
                end = min(current, offset + len(data))
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    held = fh.read(end - offset)
                if held != data[: end - offset]:
                    raise RelayError(
                        "BAD_OFFSET", f"{name}: bytes at {offset} differ", upload_id=upload_id
                    )
                data = data[end - offset :]
                offset = end
                if not data:
                    return current
            if offset != current:
                raise RelayError(
                    "BAD_OFFSET", f"{name}: expected {current}, got {offset}", upload_id=upload_id
                )
            with open(path, "ab") as fh:
                fh.write(data)
            return current + len(data)

    def verify(self, device_id: str, upload_id: str, files: Iterable[tuple[str, int, str]]) -> None:
        """Sizes complete and SHA-256 equal; a wrong file is removed so the cart resends it."""
        d = self.staging_dir(device_id, upload_id)
        wanted = list(files)
        for name, size, _sha in wanted:
            held = self._size(d / name)
            if held != size:
                raise RelayError(
                    "INCOMPLETE", f"{name}: {held} of {size} bytes", upload_id=upload_id
                )
        for name, _size, sha in wanted:
            if file_sha256(d / name) != sha:
                (d / name).unlink()
                raise RelayError("SHA256_MISMATCH", name, upload_id=upload_id)

    def discard(self, device_id: str, upload_id: str) -> None:
        """Drop a staged upload whole (an invalid record: nothing of it is kept)."""
        shutil.rmtree(self.staging_dir(device_id, upload_id), ignore_errors=True)

    # -- the record store ------------------------------------------------------------------
    def promote(
        self, device_id: str, upload_id: str, content_sha256: str, names: list[str]
    ) -> Path:
        """fsync the staged files and rename them into the store; idempotent for equal content."""
        src = self.staging_dir(device_id, upload_id)
        dst = self.record_dir(content_sha256)
        for name in names:
            _fsync_path(src / name)
        (src / MANIFEST).unlink(missing_ok=True)
        _fsync_path(src)
        shard_is_new = not dst.parent.exists()
        dst.parent.mkdir(parents=True, exist_ok=True)
        with self._store_lock():
            if dst.exists():
                # Same content already stored (a concurrent copy, or a crash before the
                # database commit): keep that one, and mark it fresh for the janitor.
                os.utime(dst)
                shutil.rmtree(src, ignore_errors=True)
                return dst
            os.rename(src, dst)
            os.utime(dst)  # a rename keeps the old mtime; the janitor's grace starts now
        _fsync_path(dst.parent)
        if shard_is_new:
            _fsync_path(self.records_root)
        return dst

    def record_dirs(self) -> Iterator[Path]:
        for shard in self.records_root.iterdir():
            if shard.is_dir():
                yield from (d for d in shard.iterdir() if d.is_dir())

    def staging_dirs(self) -> Iterator[Path]:
        for device in self.staging_root.iterdir():
            if device.is_dir():
                yield from (d for d in device.iterdir() if d.is_dir())

    def orphan_record_dirs(self, known: Collection[str], *, older_than_s: float) -> list[Path]:
        """Record folders older than ``older_than_s`` whose hash is not in ``known``.

        Listing only; ``janitor`` deletes them under the store lock, which this does not take.
        """
        now = time.time()
        return [
            d
            for d in self.record_dirs()
            if d.name not in known and now - d.stat().st_mtime > older_than_s
        ]

    def stale_staging_dirs(self, *, older_than_s: float) -> list[Path]:
        """Staged uploads untouched (folder and files) for longer than ``older_than_s``."""
        now = time.time()
        return [d for d in self.staging_dirs() if now - _newest_mtime(d) > older_than_s]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _newest_mtime(d: Path) -> float:
    times = [d.stat().st_mtime]
    times.extend(p.stat().st_mtime for p in d.iterdir())
    return max(times)


@dataclass(frozen=True)
class JanitorReport:
    orphan_records: tuple[Path, ...]
    stale_uploads: tuple[Path, ...]


def janitor(
    storage: Storage,
    *,
    stored: Callable[[Collection[str]], set[str]],
    orphan_grace_s: float = ORPHAN_GRACE_S,
    staging_max_age_s: float = STAGING_MAX_AGE_S,
    now: float | None = None,
) -> JanitorReport:
    """Remove record folders without a database row and staged uploads nobody resumes.

    Parameters
    ----------
    storage : Storage
        The store to clean.
    stored : callable
        Given content hashes, returns those that have an ``ecg_record`` row.
    orphan_grace_s : float
        A record folder younger than this (s) is kept: its row may be about to commit.
    staging_max_age_s : float
        A staged upload untouched for this long (s) is removed.
    now : float, optional
        Wall-clock time (s since the epoch); for tests.
    """
    now = time.time() if now is None else now
    old = {d.name: d for d in storage.record_dirs() if now - d.stat().st_mtime > orphan_grace_s}
    removed: list[Path] = []
    if old:
        known = stored(list(old))
        with storage._store_lock():
            for sha, d in old.items():
                # Re-checked under the lock: a promotion of the same content refreshes it.
                if sha not in known and d.exists() and now - d.stat().st_mtime > orphan_grace_s:
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(d)
    stale: list[Path] = []
    for d in list(storage.staging_dirs()):
        with contextlib.suppress(FileNotFoundError):
            if now - _newest_mtime(d) > staging_max_age_s:
                shutil.rmtree(d, ignore_errors=True)
                stale.append(d)
    for device in storage.staging_root.iterdir():
        with contextlib.suppress(OSError):
            device.rmdir()  # only succeeds when empty
    return JanitorReport(tuple(removed), tuple(stale))
