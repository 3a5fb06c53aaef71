"""Intervals on the median beat (P, PR, QRS, QT, QTc) and the QTc statements."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.result import Flag, Severity, rounded


@dataclass(frozen=True)
class Intervals:
    p_ms: float | None
    pr_ms: float | None
    qrs_ms: float
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None

    @property
    def wide(self) -> bool:
        return self.qrs_ms >= c.WIDE_QRS_MS


def intervals(fid: Fiducials, rr_med: float, fs: int) -> Intervals:
    """The median beat's intervals in ms; QTc corrected with the median RR ``rr_med`` (s)."""
    qt_ms = (fid.t_end - fid.qrs_onset) / fs * 1000 if fid.t_end is not None else None
    return Intervals(
        p_ms=(
            (fid.p_offset - fid.p_onset) / fs * 1000
            if fid.p_onset is not None and fid.p_offset is not None
            else None
        ),
        pr_ms=(fid.qrs_onset - fid.p_onset) / fs * 1000 if fid.p_onset is not None else None,
        qrs_ms=(fid.qrs_offset - fid.qrs_onset) / fs * 1000,
        qt_ms=qt_ms,
        qtc_bazett_ms=float(qt_ms / np.sqrt(rr_med)) if qt_ms else None,
        qtc_fridericia_ms=float(qt_ms / np.cbrt(rr_med)) if qt_ms else None,
    )


def qtc_flag(iv: Intervals, hr: float, sex: str | None, *, regular: bool) -> Flag | None:
    """QTC_LONG or QTC_PROLONGED on a narrow, regular rhythm; None otherwise."""
    # Bazett over-corrects above 100/min (Rautaharju 2009); Fridericia is used there.
    formula = "bazett" if hr <= c.BAZETT_MAX_BPM else "fridericia"
    qtc = iv.qtc_bazett_ms if formula == "bazett" else iv.qtc_fridericia_ms
    prolonged_ms = c.qtc_prolonged_ms(sex)
    if not (qtc is not None and qtc > prolonged_ms and not iv.wide and regular):
        return None
    # Above 500 ms the torsades risk makes it urgent; between the sex-specific limit of
    # a prolonged QTc and 500 ms it is a statement for the reader.
    urgent = qtc > c.QTC_LONG_MS
    return Flag(
        "QTC_LONG" if urgent else "QTC_PROLONGED",
        Severity.URGENT if urgent else Severity.INFO,
        {
            "qtc_ms": rounded(qtc),
            "formula": formula,
            "qt_ms": rounded(iv.qt_ms),
            "threshold_ms": c.QTC_LONG_MS if urgent else prolonged_ms,
        },
    )
