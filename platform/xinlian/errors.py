"""Domain errors: a stable code, an HTTP status and a message in zh-CN and English."""

from __future__ import annotations

from typing import Any

from xinlian.i18n import both


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        code: str,
        *,
        status_code: int | None = None,
        message_zh: str | None = None,
        message_en: str | None = None,
        key: str | None = None,
    ) -> None:
        zh, en = both(key) if key else (code, code)
        self.code = code
        self.message_zh = message_zh or zh
        self.message_en = message_en or en
        if status_code is not None:
            self.status_code = status_code
        super().__init__(f"{code}: {self.message_en}")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}


class NotFound(DomainError):
    def __init__(self, what: str = "record") -> None:
        super().__init__("NOT_FOUND", status_code=404, key="error.not_found")
        self.what = what


class Forbidden(DomainError):
    def __init__(self) -> None:
        super().__init__("FORBIDDEN", status_code=403, key="error.forbidden")


class Unauthenticated(DomainError):
    def __init__(self) -> None:
        super().__init__("UNAUTHENTICATED", status_code=401, key="error.unauthenticated")


class InvalidInput(DomainError):
    def __init__(
        self, code: str = "INVALID", *, message_zh: str | None = None, message_en: str | None = None
    ) -> None:
        super().__init__(
            code, status_code=422, key="error.invalid", message_zh=message_zh, message_en=message_en
        )
