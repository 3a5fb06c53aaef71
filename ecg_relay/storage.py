"""Durable files: staging of uploads in flight and the content-addressed record store.

A staged file only grows by appending at its current size, so its size is the offset
a resumed upload continues from. Files are fsynced before a record is promoted by an
atomic rename into records/<sha[:2]>/<sha>/, and the parent directory is fsynced too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from ecg_relay.errors import RelayError

MANIFEST = "manifest.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging_root = self.root / "staging"
        self.records_root = self.root / "records"
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.records_root.mkdir(parents=True, exist_ok=True)

    def staging_dir(self, device_id: str, upload_id: str) -> Path:
        # upload ids are validated to a safe character set by the protocol
        return self.staging_root / device_id / upload_id

    def record_dir(self, content_sha256: str) -> Path:
        return self.records_root / content_sha256[:2] / content_sha256

    def open_upload(
        self, device_id: str, upload_id: str, manifest: dict[str, object]
    ) -> dict[str, int]:
        """Create or resume staging; the offsets (bytes held) per file. MANIFEST_CHANGED on mismatch."""
        d = self.staging_dir(device_id, upload_id)
        mpath = d / MANIFEST
        if mpath.exists():
            try:
                held = json.loads(mpath.read_text())
            except ValueError:
                held = None
            if held != manifest:
                raise RelayError("MANIFEST_CHANGED", upload_id=upload_id)
        else:
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / (MANIFEST + ".tmp")
            tmp.write_text(json.dumps(manifest, sort_keys=True))
            os.replace(tmp, mpath)
        files = manifest["files"]
        assert isinstance(files, list)
        return {f["name"]: self._size(d / f["name"]) for f in files}

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
        """Append ``data`` at ``offset``; the new size. A repeat of bytes already held is harmless."""
        path = self.staging_dir(device_id, upload_id) / name
        current = self._size(path)
        if offset + len(data) > declared_size:
            raise RelayError(
                "CHUNK_BEYOND_SIZE",
                f"{name}: {offset}+{len(data)} > {declared_size}",
                upload_id=upload_id,
            )
        if offset < current:
            # A chunk re-sent after a lost ack: accept it if it matches what we hold.
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
        for name, size, _sha in files:
            path = d / name
            if self._size(path) != size:
                raise RelayError(
                    "INCOMPLETE", f"{name}: {self._size(path)} of {size} bytes", upload_id=upload_id
                )
        for name, _size, sha in files:
            path = d / name
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            if h.hexdigest() != sha:
                path.unlink()
                raise RelayError("SHA256_MISMATCH", name, upload_id=upload_id)

    def promote(
        self, device_id: str, upload_id: str, content_sha256: str, names: list[str]
    ) -> Path:
        """fsync the files and move them into the record store; idempotent for equal content."""
        src = self.staging_dir(device_id, upload_id)
        dst = self.record_dir(content_sha256)
        if dst.exists():
            shutil.rmtree(src, ignore_errors=True)
            return dst
        for name in names:
            fd = os.open(src / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        (src / MANIFEST).unlink(missing_ok=True)
        _fsync_dir(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(src, dst)
        except OSError:
            if not dst.exists():
                raise
            shutil.rmtree(src, ignore_errors=True)  # a concurrent copy won the rename
        _fsync_dir(dst.parent)
        return dst

    def discard(self, device_id: str, upload_id: str) -> None:
        shutil.rmtree(self.staging_dir(device_id, upload_id), ignore_errors=True)

    def orphan_record_dirs(self, known: set[str], *, older_than_s: float) -> list[Path]:
        """Record directories with no database row (a crash between rename and commit)."""
        now = time.time()
        out = []
        for shard in self.records_root.iterdir() if self.records_root.exists() else []:
            for d in shard.iterdir():
                if d.name not in known and now - d.stat().st_mtime > older_than_s:
                    out.append(d)
        return out

    def stale_staging_dirs(self, *, older_than_s: float) -> list[Path]:
        now = time.time()
        out = []
        for dev in self.staging_root.iterdir() if self.staging_root.exists() else []:
            for d in dev.iterdir():
                if now - d.stat().st_mtime > older_than_s:
                    out.append(d)
        return out
