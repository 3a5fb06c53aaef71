"""Find complete WFDB records in the cart's export folder.

A record is complete when its .hea parses, every file it names exists, and no file
changed size between two scans (the cart may still be writing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wfdb


@dataclass(frozen=True)
class FoundRecord:
    directory: Path
    record_name: str
    files: list[str]
    metadata: dict[str, Any]
    upload_id: str


def _record_files(hea: Path) -> list[str] | None:
    try:
        header = wfdb.rdheader(str(hea.with_suffix("")))
    except Exception:  # an incomplete or foreign header: not ready (yet)
        return None
    names = [hea.name]
    for f in header.file_name or []:
        if f not in names:
            names.append(f)
    return names


class FolderWatcher:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._last_sizes: dict[str, tuple[int, ...]] = {}
        self.settling = 0  # records seen whose files changed since the previous scan

    def scan(self, known: Any) -> list[FoundRecord]:
        """Records complete and stable since the previous scan and not ``known(dir, name)``."""
        found = []
        self.settling = 0
        for hea in sorted(self.folder.glob("*.hea")):
            name = hea.stem
            if known(self.folder, name):
                continue
            files = _record_files(hea)
            if files is None:
                continue
            paths = [self.folder / f for f in files]
            if not all(p.exists() for p in paths):
                continue
            sizes = tuple(p.stat().st_size for p in paths)
            if self._last_sizes.get(name) != sizes:
                self._last_sizes[name] = sizes
                self.settling += 1
                continue
            sidecar = self.folder / f"{name}.json"
            metadata: dict[str, Any] = {}
            if sidecar.exists():
                try:
                    metadata = json.loads(sidecar.read_text(encoding="utf-8"))
                except ValueError:
                    continue  # still being written
            digest = hashlib.sha256()
            for p in paths:
                digest.update(p.read_bytes())
            found.append(
                FoundRecord(
                    self.folder, name, files, metadata, f"{name[:40]}-{digest.hexdigest()[:16]}"
                )
            )
        return found
