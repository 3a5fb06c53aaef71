"""The durable outbox: every record found on the cart until the centre acknowledges it."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    directory TEXT NOT NULL,
    record_name TEXT NOT NULL,
    files TEXT NOT NULL,
    metadata TEXT NOT NULL,
    upload_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued',
    record_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (directory, record_name)
)
"""


@dataclass(frozen=True)
class Item:
    id: int
    directory: Path
    record_name: str
    files: list[str]
    metadata: dict[str, Any]
    upload_id: str
    state: str
    record_id: str | None
    attempts: int
    last_error: str | None
    result: dict[str, Any] | None

    @property
    def paths(self) -> list[Path]:
        return [self.directory / f for f in self.files]


class Outbox:
    """SQLite with synchronous=FULL: a queued record survives a power cut of the cart PC."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(
        self,
        *,
        directory: Path,
        record_name: str,
        files: list[str],
        metadata: dict[str, Any],
        upload_id: str,
    ) -> bool:
        """Queue a record once; False when it was queued before."""
        now = time.time()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO outbox (directory, record_name, files, metadata, upload_id,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(directory),
                record_name,
                json.dumps(files),
                json.dumps(metadata, default=str),
                upload_id,
                now,
                now,
            ),
        )
        return cur.rowcount == 1

    def known(self, directory: Path, record_name: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE directory = ? AND record_name = ?",
            (str(directory), record_name),
        ).fetchone()
        return row is not None

    def pending(self) -> list[Item]:
        return self._select("state IN ('queued', 'uploading') ORDER BY id")

    def depth(self) -> int:
        (n,) = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'uploading')"
        ).fetchone()
        return int(n)

    def get(self, item_id: int) -> Item:
        return self._select("id = ?", (item_id,))[0]

    def all(self) -> list[Item]:
        return self._select("1 = 1 ORDER BY id")

    def mark(
        self, item_id: int, state: str, *, record_id: str | None = None, error: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE outbox SET state = ?, record_id = COALESCE(?, record_id), last_error = ?,"
            " attempts = attempts + CASE WHEN ? = 'uploading' THEN 1 ELSE 0 END, updated_at = ?"
            " WHERE id = ?",
            (state, record_id, error, state, time.time(), item_id),
        )

    def set_result(self, record_id: str, result: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE outbox SET result = ?, updated_at = ? WHERE record_id = ?",
            (json.dumps(result), time.time(), record_id),
        )

    def waiting_results(self) -> list[str]:
        rows = self.db.execute(
            "SELECT record_id, result FROM outbox WHERE state = 'stored' AND record_id IS NOT NULL"
        ).fetchall()
        out = []
        for rid, result in rows:
            r = json.loads(result) if result else None
            referral = (r or {}).get("referral")
            if (
                r is None
                or r.get("analysis") is None
                or (referral is not None and referral.get("state") not in ("admitted", "cancelled"))
            ):
                out.append(rid)
        return out

    def _select(self, where: str, args: tuple[Any, ...] = ()) -> list[Item]:
        rows = self.db.execute(
            "SELECT id, directory, record_name, files, metadata, upload_id, state, record_id,"
            f" attempts, last_error, result FROM outbox WHERE {where}",
            args,
        ).fetchall()
        return [
            Item(
                id=r[0],
                directory=Path(r[1]),
                record_name=r[2],
                files=json.loads(r[3]),
                metadata=json.loads(r[4]),
                upload_id=r[5],
                state=r[6],
                record_id=r[7],
                attempts=r[8],
                last_error=r[9],
                result=json.loads(r[10]) if r[10] else None,
            )
            for r in rows
        ]
