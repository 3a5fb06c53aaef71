"""One settings object, read once from the environment (prefix XINLIAN_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XINLIAN_", env_file=".env", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # default: SQLite file under var_dir
    storage_dir: Path | None = None  # default: var_dir / "ecg"
    host: str = "127.0.0.1"
    port: int = 8000
    # Keys for tokens and the national-ID hash. Generated into var_dir on first start
    # when unset, so a fresh install is safe without configuration.
    secret_key: str = ""
    session_hours: int = 12
    api_token_days: int = 30
    timezone: str = "Asia/Shanghai"
    # Relay limits (issue 3): each refused with a stable error code.
    max_record_bytes: int = 20 * 1024 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_uploads_in_flight: int = 4
    max_offers_per_minute: int = 120
    relay_idle_timeout_s: float = 120.0
    # Analysis worker threads inside the serving process (0 = none: run `xinlian worker`).
    analysis_workers: int = 1
    analysis_lease_s: float = 60.0
    # Devices (issue 5).
    clock_offset_alert_ms: float = 60_000.0
    device_silent_minutes: int = 30
    opening_hours: str = "08:00-18:00"  # Asia/Shanghai; silence outside is not an alert
    enrollment_code_hours: int = 24
    mains_hz: float = Field(default=50.0)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'xinlian.sqlite3').as_posix()}"
        if self.storage_dir is None:
            self.storage_dir = self.var_dir / "ecg"
        return self

    @property
    def ecg_dir(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir

    def ensure_dirs(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.ecg_dir.mkdir(parents=True, exist_ok=True)

    def resolved_secret(self) -> str:
        """The configured secret, or one generated once and kept in var_dir (mode 0600)."""
        if self.secret_key:
            return self.secret_key
        import os
        import secrets

        self.ensure_dirs()
        path = self.var_dir / "secret_key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        self.secret_key = path.read_text().strip()
        return self.secret_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
