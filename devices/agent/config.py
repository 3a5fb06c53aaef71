"""The agent's configuration file: server URL and device credential, readable only by its owner."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PATH = Path.home() / ".config" / "xinlian-cart" / "config.json"


@dataclass(frozen=True)
class AgentConfig:
    server: str
    credential: str
    device_id: str
    serial_number: str = ""

    @property
    def relay_url(self) -> str:
        return relay_url(self.server)


def relay_url(server: str) -> str:
    """http(s)://host[:port][/prefix] → ws(s)://host[:port][/prefix]/relay/v1."""
    parts = urlsplit(server.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"server must be an http(s):// or ws(s):// URL, got {server!r}")
    path = parts.path if parts.path.endswith("/relay/v1") else parts.path + "/relay/v1"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def save(config: AgentConfig, path: Path = DEFAULT_PATH) -> None:
    """Write the config with mode 0600: it holds the device credential."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(config), fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load(path: Path = DEFAULT_PATH) -> AgentConfig:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no cart config at {path}: run `xinlian cart enroll --server URL --code CODE` first"
        ) from None
    return AgentConfig(**data)
