"""Per-flag PPV in production: what cardiologists' confirmations and rejections say of each flag.

Every review is tied to the flag code and the algorithm version that raised it, so the
figures are kept apart per version: a new version starts its own count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecg_relay.models import Analysis, EcgRecord, Review
from ecg_relay.stats import wilson


@dataclass(frozen=True)
class FlagPerformance:
    algorithm_version: str
    flag_code: str
    raised: int  # analyses of this version that raised the flag
    confirmed: int  # flags whose latest review confirms them
    rejected: int

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.rejected

    @property
    def ppv(self) -> float | None:
        return round(self.confirmed / self.reviewed, 4) if self.reviewed else None

    @property
    def ppv_ci95(self) -> tuple[float | None, float | None]:
        return wilson(self.confirmed, self.reviewed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm_version": self.algorithm_version,
            "flag_code": self.flag_code,
            "raised": self.raised,
            "reviewed": self.reviewed,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "ppv": self.ppv,
            "ppv_ci95": list(self.ppv_ci95),
        }


def flag_performance(
    session: Session, *, since: datetime, organization_id: str | None = None
) -> list[FlagPerformance]:
    """Raised, confirmed and rejected counts per (algorithm version, flag) since ``since``.

    Only the latest review of a flag on a record counts (a cardiologist may revise a verdict);
    reviews without a flag code (a verdict on the whole ECG) are not attributed to any flag.
    ``organization_id`` limits the count to one organization's ECGs.
    """
    analyses = select(Analysis.id, Analysis.algorithm_version, Analysis.flag_codes).where(
        Analysis.created_at >= since
    )
    reviews = (
        select(Review.analysis_id, Review.flag_code, Review.verdict)
        .join(Analysis, Analysis.id == Review.analysis_id)
        .where(Analysis.created_at >= since, Review.flag_code.is_not(None))
        .order_by(Review.created_at, Review.id)
    )
    if organization_id is not None:
        analyses = analyses.join(EcgRecord, EcgRecord.id == Analysis.record_id).where(
            EcgRecord.organization_id == organization_id
        )
        reviews = reviews.join(EcgRecord, EcgRecord.id == Review.record_id).where(
            EcgRecord.organization_id == organization_id
        )
    raised: dict[tuple[str, str], int] = defaultdict(int)
    raised_by_analysis: dict[str, tuple[str, set[str]]] = {}
    for analysis_id, version, codes in session.execute(analyses):
        raised_by_analysis[analysis_id] = (version, set(codes or ()))
        for code in set(codes or ()):
            raised[(version, code)] += 1
    latest: dict[tuple[str, str], str] = {}  # (analysis, flag) -> last verdict, in time order
    for reviewed_id, flag_code, verdict in session.execute(reviews):
        version_codes = raised_by_analysis.get(reviewed_id) if reviewed_id else None
        if reviewed_id and version_codes is not None and flag_code in version_codes[1]:
            latest[(reviewed_id, flag_code)] = verdict
    confirmed: dict[tuple[str, str], int] = defaultdict(int)
    rejected: dict[tuple[str, str], int] = defaultdict(int)
    for (analysis_id, flag_code), verdict in latest.items():
        key = (raised_by_analysis[analysis_id][0], flag_code)
        if verdict == "confirmed":
            confirmed[key] += 1
        elif verdict == "rejected":
            rejected[key] += 1
    rows = [
        FlagPerformance(version, code, n, confirmed[(version, code)], rejected[(version, code)])
        for (version, code), n in raised.items()
    ]
    rows.sort(key=lambda r: (-r.raised, r.flag_code))
    rows.sort(key=lambda r: r.algorithm_version, reverse=True)  # newest version first (stable)
    return rows
