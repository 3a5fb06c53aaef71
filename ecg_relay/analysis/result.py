"""Typed, JSON-serialisable analysis results; every flag carries a stable code and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

# Bump on any change that can change a flag: reviews are tied to (flag code, version).
ALGORITHM_VERSION = "xinlian-ecg-1.8.0"


# Every code a flag can carry: stable, so reviews and per-flag PPV can be tracked over versions.
FLAG_CODES: frozenset[str] = frozenset(
    {
        "STEMI_INFERIOR",
        "STEMI_ANTERIOR",
        "STEMI_LATERAL",
        "STE_AVR_DIFFUSE_STD",
        "POSTERIOR_PATTERN",
        "STE_PROBABLE_LVH",
        "STEMI_SGARBOSSA",
        "VT",
        "VF_ASYSTOLE",
        "BRADY_SEVERE",
        "AVB3",
        "ST_DEPRESSION",
        "AF",
        "AFL",
        "QTC_LONG",
        "QTC_PROLONGED",
        "TACHY_SEVERE",
        "LBBB",
        "SINUS_BRADY",
        "SINUS_TACHY",
        "AVB1",
        "LOW_VOLTAGE",
        "PACED",
        "POOR_QUALITY",
        "RBBB",
        "REPEAT_ECG",
    }
)


def rounded(value: float | None, nd: int = 1) -> float | None:
    """``value`` rounded for a flag's evidence or a measurement; None when missing or not finite."""
    return None if value is None or not np.isfinite(value) else round(float(value), nd)


class Severity(StrEnum):
    CRITICAL = "critical"
    URGENT = "urgent"
    INFO = "info"


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in FLAG_CODES:
            raise ValueError(f"unknown flag code {self.code}")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.value, "evidence": self.evidence}


@dataclass(frozen=True)
class AnalysisResult:
    algorithm_version: str
    readable: bool
    heart_rate_bpm: float | None
    measurements: dict[str, Any]
    lead_quality: dict[str, str]
    flags: tuple[Flag, ...]

    @property
    def acute(self) -> bool:
        """True when any flag is critical: that opens the green channel."""
        return any(f.severity is Severity.CRITICAL for f in self.flags)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm_version": self.algorithm_version,
            "readable": self.readable,
            "acute": self.acute,
            "heart_rate_bpm": self.heart_rate_bpm,
            "measurements": self.measurements,
            "lead_quality": self.lead_quality,
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        return cls(
            algorithm_version=data["algorithm_version"],
            readable=bool(data["readable"]),
            heart_rate_bpm=data.get("heart_rate_bpm"),
            measurements=dict(data.get("measurements", {})),
            lead_quality=dict(data.get("lead_quality", {})),
            flags=tuple(
                Flag(
                    code=f["code"],
                    severity=Severity(f["severity"]),
                    evidence=dict(f.get("evidence", {})),
                )
                for f in data.get("flags", [])
            ),
        )
