"""Intervals measured by the analysis against LUDB's per-lead wave annotations.

LUDB (Kalyakulina AI et al., IEEE Access 2020;8:186181) marks P, QRS and T onset, peak and
offset in every one of the 12 leads. The analysis measures global intervals over all leads
(CSE Working Party: the QRS runs from the earliest onset to the latest end over the leads,
Willems JL et al., J Am Coll Cardiol 1985;5:1261), so two references are reported:

- lead II: the lead's own annotated QRS, PR and QT (the usual single-lead comparison);
- global: per beat, the earliest annotated QRS onset and the latest annotated QRS end and T
  end over the leads that mark that beat (a QRS is matched across leads within 40 ms of its
  lead II peak), the median over beats.

Bias is measured minus annotated, in ms (median and median absolute deviation).

ST elevation added to the real beats from lead II's annotated QRS end (a plateau that rises
at the J point and falls after the T peak, as the simulator draws it) tests the J point and
the PR baseline on real morphologies: how many records the analysis then flags for STEMI.
LUDB's amplitudes are not physical (every lead scaled to 1 mV peak-to-peak), so the added
millivolts are relative to that scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

from ecg_relay.analysis import analyze
from ecg_relay.evaluation import read_records_csv

ADDED_ST_MV = (0.0, 0.10, 0.15, 0.20)
# Only the flags that open a green channel count (STE_PROBABLE_LVH, the LVH mimic, does not).
STEMI_CODES = frozenset({"STEMI_INFERIOR", "STEMI_ANTERIOR", "STEMI_LATERAL", "STEMI_SGARBOSSA"})
# Records the added-ST test leaves out: LBBB and pacing take the territory criteria away by
# design (the concordant Sgarbossa criteria read added ST differently: discordant leads do
# not count), and MI labels (STEMI, NSTEMI, infarction of any age) may carry ST changes of
# their own.
_ADDED_ST_EXCLUDED = ("left bundle", "pacing", "p-synchrony", "stemi", "infarction")
LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
MATCH_S = 0.040


@dataclass(frozen=True)
class _Waves:
    """One lead's annotated beats, sample indices: QRS peak, onset, end; T end; P onset."""

    peak: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    t_end: np.ndarray  # -1 where not annotated
    p_onset: np.ndarray  # -1 where not annotated


def _waves(base: Path, lead: str) -> _Waves | None:
    try:
        ann = wfdb.rdann(str(base), lead)
    except (FileNotFoundError, ValueError):
        return None
    sym, smp = list(ann.symbol), [int(s) for s in ann.sample]
    rows: list[tuple[int, int, int, int, int]] = []
    for k, s in enumerate(sym):
        if s != "N" or k == 0 or k + 1 >= len(sym) or sym[k - 1] != "(" or sym[k + 1] != ")":
            continue
        t_end = p_on = -1
        # The T wave after this QRS: '(' 't' ')' before the next 'N'.
        for m in range(k + 2, len(sym)):
            if sym[m] == "N":
                break
            if sym[m] == "t" and m + 1 < len(sym) and sym[m + 1] == ")":
                t_end = smp[m + 1]
                break
        # The P wave before it: '(' 'p' ')' after the previous 'N'.
        for m in range(k - 2, 0, -1):
            if sym[m] == "N":
                break
            if sym[m] == "p" and sym[m - 1] == "(":
                p_on = smp[m - 1]
                break
        rows.append((smp[k], smp[k - 1], smp[k + 1], t_end, p_on))
    if not rows:
        return None
    a = np.array(rows, dtype=int)
    return _Waves(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])


def reference_intervals(base: Path, fs: float) -> dict[str, dict[str, float | None]]:
    """Median annotated intervals (ms) of a LUDB record, for lead II and globally."""
    leads = {name: w for name in LUDB_LEADS if (w := _waves(base, name)) is not None}
    ii = leads.get("ii")
    if ii is None:
        return {}
    ms = 1000.0 / fs
    match = int(MATCH_S * fs)
    qrs_g: list[float] = []
    qt_g: list[float] = []
    for k, peak in enumerate(ii.peak):
        ons, offs, ends = [int(ii.onset[k])], [int(ii.offset[k])], [int(ii.t_end[k])]
        for name, w in leads.items():
            if name == "ii":
                continue
            j = int(np.argmin(np.abs(w.peak - peak)))
            if abs(int(w.peak[j]) - int(peak)) <= match:
                ons.append(int(w.onset[j]))
                offs.append(int(w.offset[j]))
                ends.append(int(w.t_end[j]))
        qrs_g.append((max(offs) - min(ons)) * ms)
        t_ends = [e for e in ends if e >= 0]
        if t_ends:
            qt_g.append((max(t_ends) - min(ons)) * ms)

    def med(values: list[float] | np.ndarray) -> float | None:
        return float(np.median(values)) if len(values) else None

    has_t = ii.t_end >= 0
    has_p = ii.p_onset >= 0
    return {
        "lead_ii": {
            "qrs_ms": med((ii.offset - ii.onset) * ms),
            "qt_ms": med((ii.t_end[has_t] - ii.onset[has_t]) * ms),
            "pr_ms": med((ii.onset[has_p] - ii.p_onset[has_p]) * ms),
        },
        "global": {"qrs_ms": med(qrs_g), "qt_ms": med(qt_g)},
    }


def _st_plateau(n: int, fs: float, beats: list[tuple[int, int]]) -> np.ndarray:
    """0..1 per sample: full (98%) at each J point, having risen over the 16 ms before it
    (from the terminal QRS), and down 30 ms after its T peak."""
    t = np.arange(n) / fs
    out = np.zeros(n)
    for j, t_peak in beats:
        rise = 0.5 * (1 + np.tanh((t - j / fs + 0.008) / 0.004))
        fall = 0.5 * (1 - np.tanh((t - t_peak / fs - 0.03) / 0.05))
        out += rise * fall
    return np.clip(out, 0.0, 1.0)


# ST elevation added per territory, as shares of the added mV per lead. Limb leads keep
# Einthoven's and Goldberger's relations: inferior is +1 in II and III, so +1 in aVF, -1/2 in
# aVR and aVL and 0 in I; lateral is +1 in I and 0 in II, so -1 in III, +1 in aVL, -1/2 in aVR
# and aVF. V2-V3 get 1.5 times the rest, as their thresholds are higher (4th UDMI).
ADDED_ST_TERRITORIES: dict[str, tuple[tuple[str, float], ...]] = {
    "inferior": (("II", 1.0), ("III", 1.0), ("AVF", 1.0), ("AVR", -0.5), ("AVL", -0.5)),
    "anterior": (("V1", 1.0), ("V2", 1.5), ("V3", 1.5), ("V4", 1.0)),
    "lateral": (
        ("I", 1.0),
        ("III", -1.0),
        ("AVL", 1.0),
        ("AVR", -0.5),
        ("AVF", -0.5),
        ("V5", 1.0),
        ("V6", 1.0),
    ),
}


def _added(
    x: np.ndarray, names: list[str], plateau: np.ndarray, mv: float, territory: str
) -> np.ndarray:
    y = x.copy()
    upper = [n.upper() for n in names]
    for lead, share in ADDED_ST_TERRITORIES[territory]:
        if lead in upper:
            y[:, upper.index(lead)] += share * mv * plateau
    return y


def _j_and_t_peaks(base: Path) -> list[tuple[int, int]]:
    ann = wfdb.rdann(str(base), "ii")
    sym, smp = list(ann.symbol), [int(s) for s in ann.sample]
    beats: list[tuple[int, int]] = []
    for k, s in enumerate(sym):
        if s != "N" or k + 1 >= len(sym) or sym[k + 1] != ")":
            continue
        # The T peak of this beat: the first 't' before the next QRS.
        nxt = next((m for m in range(k + 2, len(sym)) if sym[m] in ("t", "N")), None)
        if nxt is not None and sym[nxt] == "t":
            beats.append((smp[k + 1], smp[nxt]))
    return beats


@dataclass
class DelineationReport:
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    # territory -> mV -> [flagged, records]
    added_st: dict[str, dict[float, list[int]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        summary: dict[str, dict[str, Any]] = {}
        for ref in ("lead_ii", "global"):
            for interval in ("qrs_ms", "qt_ms", "pr_ms"):
                diffs = np.array(
                    [
                        r["measured"][interval] - r[ref][interval]
                        for r in self.rows
                        if r["measured"].get(interval) is not None
                        and r[ref].get(interval) is not None
                    ],
                    dtype=float,
                )
                if diffs.size == 0:
                    continue
                bias = float(np.median(diffs))
                summary[f"{ref}.{interval}"] = {
                    "records": int(diffs.size),
                    "bias_ms": round(bias, 1),
                    "mad_ms": round(float(np.median(np.abs(diffs - bias))), 1),
                    "within_10_ms": round(float(np.mean(np.abs(diffs) <= 10)), 3),
                    "within_20_ms": round(float(np.mean(np.abs(diffs) <= 20)), 3),
                }
        added = {
            territory: {
                f"{mv:.2f}": {"flagged": hit, "records": n} for mv, (hit, n) in by_mv.items()
            }
            for territory, by_mv in self.added_st.items()
        }
        return {
            "summary": summary,
            "added_st_elevation": added,
            "records": self.rows,
            "skipped": self.skipped,
            "failed": self.failed,
        }


def evaluate_delineation(
    data_dir: Path, *, progress: Callable[[str], None] | None = None
) -> DelineationReport:
    """QRS, QT and PR of ``analyze()`` against every LUDB record listed in records.csv."""
    report = DelineationReport()
    rows = [r for r in read_records_csv(data_dir) if r["folder"] == "ludb"]
    for row in rows:
        ident = f"{row['folder']}/{row['record']}"
        if progress:
            progress(ident)
        base = data_dir / row["folder"] / row["record"]
        try:
            rec = wfdb.rdrecord(str(base), physical=True)
            ref = reference_intervals(base, float(rec.fs))
        except Exception as exc:  # a listed LUDB record that cannot be read
            report.failed.append({"record": ident, "reason": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        if not ref:
            report.skipped.append({"record": ident, "reason": "no annotated QRS in lead II"})
            continue
        x = np.asarray(rec.p_signal, dtype=float)
        names = list(rec.sig_name)
        result = analyze(x, float(rec.fs), names)
        m = result.measurements
        measured = {k: m.get(k) for k in ("qrs_ms", "qt_ms", "pr_ms")}
        report.rows.append({"record": ident, "measured": measured, **ref})
        label = row.get("label", "").lower()
        if "STEMI" in row.get("triage", "") or any(k in label for k in _ADDED_ST_EXCLUDED):
            continue
        beats = _j_and_t_peaks(base)
        if len(beats) < 4:
            continue
        plateau = _st_plateau(x.shape[0], float(rec.fs), beats)
        for territory in ADDED_ST_TERRITORIES:
            for mv in ADDED_ST_MV:
                y = _added(x, names, plateau, mv, territory)
                codes = set(analyze(y, float(rec.fs), names, sex="M", age=60).codes)
                counts = report.added_st.setdefault(territory, {}).setdefault(mv, [0, 0])
                counts[0] += bool(codes & STEMI_CODES)
                counts[1] += 1
    return report
