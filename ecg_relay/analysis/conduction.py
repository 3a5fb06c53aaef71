"""Bundle branch block morphology on the median beats (Surawicz 2009, AHA/ACCF/HRS part III).

RBBB: QRS >= 120 ms; rsR' (a late R') in V1 or V2; a broad terminal S in I or V6.
LBBB: QRS >= 120 ms; V1 predominantly negative (QS or rS), no R' in V1-V2; broad R in I, V6;
absent q in I, V5 and V6; R-peak time > 60 ms in V5 or V6.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.result import Flag, Severity, rounded


@dataclass(frozen=True)
class BundleBranch:
    rbbb: bool
    lbbb: bool
    evidence: dict[str, Any] = field(default_factory=dict)


def _late_r(rel: np.ndarray, fid: Fiducials, fs: int) -> float:
    """Largest positive deflection 60 ms into the QRS up to its end (the R' of RBBB), mV."""
    w0 = fid.qrs_onset + int(c.RBBB_LATE_R_FROM_S * fs)
    w1 = max(w0 + 1, min(fid.qrs_offset + 1, fid.qrs_onset + int(c.RBBB_LATE_R_TO_S * fs)))
    return float(rel[w0:w1].max()) if w1 <= rel.size else 0.0


def _terminal_half(rel: np.ndarray, fid: Fiducials) -> float:
    """Mean of the second half of the QRS, mV: negative where a broad S ends it.

    The QRS end is the latest over the leads, so its last 40 ms in I or V6 can already be
    back at the baseline after an S wave that is broad but ended there earlier.
    """
    mid = (fid.qrs_onset + fid.qrs_offset + 1) // 2
    seg = rel[mid : fid.qrs_offset + 1]
    return float(seg.mean()) if seg.size else 0.0


def _initial_q(rel: np.ndarray, fid: Fiducials, fs: int) -> float:
    """Deepest negative deflection in the first 30 ms of the QRS (the septal q), mV (<= 0)."""
    seg = rel[fid.qrs_onset : fid.qrs_onset + int(c.SEPTAL_Q_S * fs)]
    return min(float(seg.min()), 0.0) if seg.size else 0.0


def _r_peak_time_ms(rel: np.ndarray, fid: Fiducials, fs: int) -> float:
    """From QRS onset to the largest positive deflection of the QRS (ms)."""
    seg = rel[fid.qrs_onset : fid.qrs_offset + 1]
    return float(np.argmax(seg)) / fs * 1000 if seg.size else 0.0


def bundle_branch_block(
    med: np.ndarray, fid: Fiducials, idx: Mapping[str, int], fs: int
) -> BundleBranch | None:
    """RBBB/LBBB morphology of a wide QRS; None when V1, I or V6 is missing."""
    if not {"V1", "I", "V6"} <= idx.keys():
        return None

    def rel(name: str) -> np.ndarray:
        j = idx[name]
        return np.asarray(med[:, j] - fid.baseline[j])

    late_r = {n: _late_r(rel(n), fid, fs) for n in ("V1", "V2") if n in idx}
    terminal_s = {n: _terminal_half(rel(n), fid) for n in ("I", "V6")}
    rbbb = (
        max(late_r.values()) > c.RBBB_LATE_R_MV and min(terminal_s.values()) < -c.RBBB_TERMINAL_S_MV
    )
    lateral = [n for n in ("I", "V5", "V6") if n in idx]
    q = {n: _initial_q(rel(n), fid, fs) for n in lateral}
    rpt = {n: _r_peak_time_ms(rel(n), fid, fs) for n in ("V5", "V6") if n in idx}
    area = {n: float(fid.qrs_area[idx[n]]) for n in ("V1", "I", "V6")}
    lbbb = (
        not rbbb
        and area["V1"] < 0
        and area["I"] > 0
        and area["V6"] > 0
        and max(late_r.values()) < c.RBBB_LATE_R_MV
        and all(v > -c.SEPTAL_Q_MV for v in q.values())
        and max(rpt.values()) >= c.LBBB_R_PEAK_TIME_MS
    )
    evidence = {
        "late_r_mv": {n: round(v, 3) for n, v in late_r.items()},
        "terminal_half_qrs_mv": {n: round(v, 3) for n, v in terminal_s.items()},
        "initial_q_mv": {n: round(v, 3) for n, v in q.items()},
        "r_peak_time_ms": {n: round(v) for n, v in rpt.items()},
    }
    return BundleBranch(rbbb=rbbb, lbbb=lbbb, evidence=evidence)


def bundle_branch_flags(bbb: BundleBranch, qrs_ms: float) -> list[Flag]:
    """LBBB and RBBB with the morphology that makes them."""
    flags: list[Flag] = []
    if bbb.lbbb:
        flags.append(
            Flag(
                "LBBB",
                Severity.URGENT,
                {
                    "qrs_ms": rounded(qrs_ms),
                    **bbb.evidence,
                    "note": "STEMI territory criteria do not apply (see not_evaluated for Sgarbossa)",
                },
            )
        )
    if bbb.rbbb:
        flags.append(Flag("RBBB", Severity.INFO, {"qrs_ms": rounded(qrs_ms), **bbb.evidence}))
    return flags
