"""Relay error codes: stable codes with messages in zh-CN and English, sent in error frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorKind:
    message_zh: str
    message_en: str
    fatal: bool  # the server closes the connection after sending it
    http_status: int  # for the same refusal over plain HTTP
    retry: bool  # resending the same bytes later may succeed


_INPUT, _GONE, _LARGE, _BUSY = 400, 409, 413, 429

CATALOGUE: dict[str, ErrorKind] = {
    "AUTH_FAILED": ErrorKind(
        "设备凭证无效", "Device credential is missing or invalid", True, 401, False
    ),
    "REVOKED": ErrorKind(
        "设备已被吊销或凭证已更换", "Device revoked or credential rotated", True, 403, False
    ),
    "BAD_JSON": ErrorKind("消息不是有效的 JSON", "Frame is not valid JSON", False, _INPUT, False),
    "BAD_FRAME": ErrorKind(
        "消息字段缺失或类型错误",
        "Frame fields are missing or of the wrong type",
        False,
        _INPUT,
        False,
    ),
    "UNKNOWN_FRAME": ErrorKind("未知的消息类型", "Unknown frame type", False, _INPUT, False),
    "FRAME_TOO_LARGE": ErrorKind("单条消息过大", "Frame too large", True, _LARGE, False),
    "RECORD_TOO_LARGE": ErrorKind(
        "心电记录超过大小上限", "Record exceeds the size limit", False, _LARGE, False
    ),
    "TOO_MANY_UPLOADS": ErrorKind(
        "同时上传的记录过多，请等待当前上传完成", "Too many uploads in flight", False, _BUSY, True
    ),
    "RATE_LIMITED": ErrorKind(
        "上传请求过于频繁，请稍后再试", "Too many offers; try again later", False, _BUSY, True
    ),
    "IDLE_TIMEOUT": ErrorKind("连接空闲超时", "Connection idle for too long", True, 408, True),
    "BAD_FILENAME": ErrorKind(
        "文件名不合法（不能含路径或 ..）",
        "Invalid file name (no paths or ..)",
        False,
        _INPUT,
        False,
    ),
    "BAD_MANIFEST": ErrorKind(
        "文件清单不完整或不一致", "File list incomplete or inconsistent", False, _INPUT, False
    ),
    "MANIFEST_CHANGED": ErrorKind(
        "同一上传编号的文件清单已改变，请使用新的上传编号",
        "Files differ from the earlier offer with this upload id; use a new upload id",
        False,
        _GONE,
        False,
    ),
    "UNKNOWN_UPLOAD": ErrorKind(
        "未知的上传编号，请先发送 offer",
        "Unknown upload id; send an offer first",
        False,
        _GONE,
        True,
    ),
    "BAD_OFFSET": ErrorKind("数据块偏移量错误", "Chunk at the wrong offset", False, _GONE, True),
    "CHUNK_BEYOND_SIZE": ErrorKind(
        "数据块超出声明的文件大小", "Chunk goes beyond the declared file size", False, _INPUT, False
    ),
    "INCOMPLETE": ErrorKind(
        "文件尚未全部接收，不能提交", "Commit before all bytes arrived", False, _GONE, True
    ),
    "SHA256_MISMATCH": ErrorKind(
        "文件校验值不符，请重新发送", "File SHA-256 does not match; resend it", False, _INPUT, True
    ),
    "BAD_HEADER": ErrorKind(
        "WFDB 头文件无法解析", "The WFDB header cannot be parsed", False, 422, False
    ),
    "DAT_SIZE_MISMATCH": ErrorKind(
        "信号文件长度与头文件不符",
        "Signal file length does not match the header",
        False,
        422,
        False,
    ),
    "LEAD_COUNT": ErrorKind("导联数不符合要求", "Lead count does not match", False, 422, False),
    "SAMPLING_RATE": ErrorKind(
        "采样率超出 100–2000 Hz", "Sampling rate outside 100-2000 Hz", False, 422, False
    ),
    "BAD_SIGNAL": ErrorKind("信号数据无法读取", "Signal data cannot be read", False, 422, False),
    "SERVER_ERROR": ErrorKind(
        "服务器内部错误，请稍后重试", "Server error; retry later", False, 500, True
    ),
}


class RelayError(Exception):
    """A refusal with a stable code; nothing the refused frame carried was stored.

    Parameters
    ----------
    code : str
        A key of ``CATALOGUE``; the messages in both languages come from there.
    detail : str, optional
        Machine-made specifics (a file name, a size); never patient data.
    upload_id : str, optional
        The upload the refusal concerns.
    """

    def __init__(
        self, code: str, detail: str | None = None, *, upload_id: str | None = None
    ) -> None:
        kind = CATALOGUE.get(code)
        if kind is None:
            raise ValueError(f"unknown relay error code {code}")
        self.code = code
        self.detail = detail
        self.upload_id = upload_id
        self.message_zh = kind.message_zh
        self.message_en = kind.message_en
        self.fatal = kind.fatal
        self.http_status = kind.http_status
        self.retry = kind.retry
        super().__init__(f"{code}: {kind.message_en}" + (f" ({detail})" if detail else ""))

    def frame(self) -> dict[str, Any]:
        """The ``error`` frame sent to the cart."""
        out: dict[str, Any] = {
            "type": "error",
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "fatal": self.fatal,
            "retry": self.retry,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.upload_id:
            out["upload_id"] = self.upload_id
        return out
