"""Relay error codes: stable codes with messages in zh-CN and English, sent in error frames."""

from __future__ import annotations

from typing import Any

# code -> (Chinese, English, fatal: the server closes the connection after sending it)
CATALOGUE: dict[str, tuple[str, str, bool]] = {
    "AUTH_FAILED": ("设备凭证无效", "Device credential is missing or invalid", True),
    "REVOKED": ("设备已被吊销或凭证已更换", "Device revoked or credential rotated", True),
    "BAD_JSON": ("消息不是有效的 JSON", "Frame is not valid JSON", False),
    "BAD_FRAME": ("消息字段缺失或类型错误", "Frame fields are missing or of the wrong type", False),
    "UNKNOWN_FRAME": ("未知的消息类型", "Unknown frame type", False),
    "FRAME_TOO_LARGE": ("单条消息过大", "Frame too large", True),
    "RECORD_TOO_LARGE": ("心电记录超过大小上限", "Record exceeds the size limit", False),
    "TOO_MANY_UPLOADS": ("同时上传的记录过多", "Too many uploads in flight", False),
    "RATE_LIMITED": ("上传请求过于频繁，请稍后再试", "Too many offers; try again later", False),
    "IDLE_TIMEOUT": ("连接空闲超时", "Connection idle for too long", True),
    "BAD_FILENAME": (
        "文件名不合法（不能含路径或 ..）",
        "Invalid file name (no paths or ..)",
        False,
    ),
    "BAD_MANIFEST": ("文件清单不完整或不一致", "File list incomplete or inconsistent", False),
    "MANIFEST_CHANGED": (
        "同一上传编号的文件清单已改变，请使用新的上传编号",
        "Files differ from the earlier offer with this upload id; use a new upload id",
        False,
    ),
    "UNKNOWN_UPLOAD": (
        "未知的上传编号，请先发送 offer",
        "Unknown upload id; send an offer first",
        False,
    ),
    "BAD_OFFSET": ("数据块偏移量错误", "Chunk at the wrong offset", False),
    "CHUNK_BEYOND_SIZE": (
        "数据块超出声明的文件大小",
        "Chunk goes beyond the declared file size",
        False,
    ),
    "INCOMPLETE": ("文件尚未全部接收，不能提交", "Commit before all bytes arrived", False),
    "SHA256_MISMATCH": (
        "文件校验值不符，请重新发送",
        "File SHA-256 does not match; resend it",
        False,
    ),
    "BAD_HEADER": ("WFDB 头文件无法解析", "The WFDB header cannot be parsed", False),
    "DAT_SIZE_MISMATCH": (
        "信号文件长度与头文件不符",
        "Signal file length does not match the header",
        False,
    ),
    "LEAD_COUNT": ("导联数不符合要求", "Lead count does not match", False),
    "SAMPLING_RATE": ("采样率超出 100–2000 Hz", "Sampling rate outside 100-2000 Hz", False),
    "BAD_SIGNAL": ("信号数据无法读取", "Signal data cannot be read", False),
    "SERVER_ERROR": ("服务器内部错误，请稍后重试", "Server error; retry later", False),
}


class RelayError(Exception):
    """A refusal with a stable code; nothing the refused frame carried was stored."""

    def __init__(
        self, code: str, detail: str | None = None, *, upload_id: str | None = None
    ) -> None:
        if code not in CATALOGUE:
            raise ValueError(f"unknown relay error code {code}")
        self.code = code
        self.detail = detail
        self.upload_id = upload_id
        zh, en, fatal = CATALOGUE[code]
        self.message_zh = zh
        self.message_en = en
        self.fatal = fatal
        super().__init__(f"{code}: {en}" + (f" ({detail})" if detail else ""))

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "error",
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "fatal": self.fatal,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.upload_id:
            out["upload_id"] = self.upload_id
        return out
