"""Evaluation of the analysis on labelled real records (reads files; the analysis stays pure).

`evaluate_triage` reads DIR/records.csv (columns folder, record, triage) and reports, per
triage code, the confusion counts, sensitivity, specificity and PPV with Wilson 95%
intervals. `evaluate_rpeaks` reports QRS detection the way ANSI/AAMI EC57:2012 does, next
to wfdb's xqrs on the same records with the same exclusions:

- A detection matches a reference beat within 150 ms (EC57); each reference
  beat pairs with at most one detection. Se = TP/(TP+FN), +P = TP/(TP+FP), gross (all beats
  pooled) and per record, and per source folder.
- Ventricular flutter/fibrillation is excluded from beat-by-beat QRS statistics (EC57): in `.atr` records, reference beats and detections inside
  `[` ... `]` episodes and inside a rhythm `(VF` or `(VFL` (up to the next rhythm change) are
  not scored. A `[` without its `]` runs to the end of the record.
- LUDB annotates waves only in part of each 10 s record (the first and last beat or so are not
  annotated); only the annotated span (first annotated QRS - 150 ms to last + 150 ms) is
  scored there. Both exclusions are reported per record (`scored_from_s`, `scored_to_s`,
  `excluded_s`) and in the report's `notes`, never silently.
- Not applied: EC57's 5-minute learning period. The analysis reads 10 s windows with no
  memory between them (what a cart records), so there is nothing to learn across a record.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy.io
import wfdb

from ecg_relay.analysis import analyze
from ecg_relay.stats import wilson

# Triage codes the analysis can flag, and the flags that count as each.
CODE_FLAGS: dict[str, frozenset[str]] = {
    "STEMI": frozenset(
        {
            "STEMI_INFERIOR",
            "STEMI_ANTERIOR",
            "STEMI_LATERAL",
            "POSTERIOR_PATTERN",
            "STEMI_SGARBOSSA",
        }
    ),
    "ISCHEMIA": frozenset({"ST_DEPRESSION", "STE_AVR_DIFFUSE_STD"}),
    "AF": frozenset({"AF", "AFL"}),
    "VT": frozenset({"VT"}),
    "VF": frozenset({"VF_ASYSTOLE"}),
    "AVB1": frozenset({"AVB1"}),
    "AVB3": frozenset({"AVB3"}),
    "LQT": frozenset({"QTC_LONG", "QTC_PROLONGED"}),
    "BRADY": frozenset({"SINUS_BRADY", "BRADY_SEVERE"}),
    "TACHY": frozenset({"SINUS_TACHY"}),
    "LBBB": frozenset({"LBBB"}),
    "RBBB": frozenset({"RBBB"}),
}
# Truth codes that count as each evaluated code ("AF" covers AF and flutter together).
CODE_TRUTH: dict[str, frozenset[str]] = {c: frozenset({c}) for c in CODE_FLAGS} | {
    "AF": frozenset({"AF", "AFL"}),
}
SKIP_CODES = frozenset({"RPEAKS_ONLY", "UNLABELLED"})
# ST and voltage criteria are in mV; sources whose amplitudes are not physical (LUDB scales
# every lead to 1 mV peak-to-peak, see ../shared/ecg-data/SOURCES.md "Known caveats") are
# left out of these codes and counted separately.
AMPLITUDE_CODES = frozenset({"STEMI", "ISCHEMIA"})
NON_PHYSICAL_AMPLITUDE_FOLDERS = frozenset({"ludb"})
MATCH_WINDOW_S = 0.150  # ANSI/AAMI EC57
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
# EC57 leaves ventricular flutter/fibrillation out of QRS detection statistics. MIT/WFDB
# annotation codes: '[' / ']' start and end of VF/VFL, rhythm '+' with aux '(VF' / '(VFL'.
VF_START, VF_END, RHYTHM = "[", "]", "+"
VF_RHYTHMS = frozenset({"(VF", "(VFL"})
RPEAK_NOTES = (
    "EC57: 150 ms match window; each reference beat pairs with at most one detection.",
    "EC57: beats and detections inside ventricular flutter/fibrillation ('[' ... ']', rhythm "
    "'(VF'/'(VFL') are not scored, for the analysis and for xqrs alike.",
    "LUDB: only the annotated span of each record is scored (first annotated QRS - 150 ms to "
    "last + 150 ms); LUDB leaves the first and last beat or so unannotated.",
    "CPSC 2019: each strip's beats from 0.5 s to 9.5 s are scored, as the challenge's own "
    "scoring (score_2019.py) does; the references leave out beats cut by the strip's edges.",
    "A detection that pairs with no scored beat counts as false only if it lies more than "
    "150 ms from every span left out (there its beat may be one that is not scored), for the "
    "analysis and for xqrs alike.",
    "Per record: scored_from_s/scored_to_s bound the scored part, excluded_s counts the "
    "seconds left out (VF/VFL and unannotated edges).",
    "Records longer than 10 s are analysed in consecutive 10 s windows, each read with 1 s of "
    "the record on either side and only its own 10 s scored, so that no QRS is cut by a "
    "window edge; xqrs reads the whole first signal.",
)
# CPSC 2019 scores each 10 s strip from 0.5 s to 9.5 s (the challenge's score_2019.py keeps
# reference R peaks in that span only): the references leave out beats cut by the strip's
# edges (none before 0.18 s or after 9.91 s in the strips here).
CPSC2019_SCORED_S = (0.5, 9.5)
WINDOW_S = 10.0  # carts record 10 s; longer records are analysed in 10 s windows


@dataclass(frozen=True)
class LoadedRecord:
    signals: np.ndarray  # (n, leads) mV
    fs: float
    lead_names: list[str]
    sex: str | None
    age: float | None


class NotWfdb(Exception):
    """A file this evaluation does not read (counted as skipped, not failed)."""


def _meta_from_comments(comments: list[str]) -> tuple[str | None, float | None]:
    sex = age = None
    for c in comments:
        low = c.lower()
        m = re.search(r"(?:<?age>?:?)\s*(\d+(?:\.\d+)?)", low)
        if "age" in low and m and age is None:
            age = float(m.group(1))
        if "sex" in low and sex is None:
            if re.search(r"\b(female|f)\b", low):
                sex = "F"
            elif re.search(r"\b(male|m)\b", low):
                sex = "M"
    return sex, age


def read_wfdb_record(path: Path) -> tuple[np.ndarray, float, list[str], dict[str, Any]]:
    """Signals (mV), fs, lead names and {sex, age} from a WFDB record path (no extension)."""
    rec = wfdb.rdrecord(str(path), physical=True)
    sig = np.asarray(rec.p_signal, dtype=float)
    for j, unit in enumerate(rec.units or []):
        if str(unit).strip().lower() in ("uv", "µv"):
            sig[:, j] /= 1000.0
    sex, age = _meta_from_comments(list(rec.comments or []))
    return sig, float(rec.fs), [str(n) for n in rec.sig_name], {"sex": sex, "age": age}


def read_records_csv(data_dir: Path) -> list[dict[str, str]]:
    """The rows of DIR/records.csv (columns folder, record, triage, ...)."""
    with open(data_dir / "records.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def record_present(directory: Path, record: str) -> bool:
    """Whether any file of ``record`` (record.hea, record.dat, record.mat ...) exists."""
    return any(directory.glob(f"{glob_escape(record)}.*"))


def load_record(directory: Path, record: str) -> LoadedRecord:
    """A labelled record from WFDB, or from the CPSC 2018 MATLAB struct files."""
    base = directory / record
    if base.with_suffix(".hea").exists():
        sig, fs, names, meta = read_wfdb_record(base)
        return LoadedRecord(sig, fs, names, meta["sex"], meta["age"])
    mat = base.with_suffix(".mat")
    if mat.exists():
        data = scipy.io.loadmat(str(mat), squeeze_me=True, struct_as_record=False)
        ecg = data.get("ECG")
        if ecg is not None and hasattr(ecg, "data"):
            sex = str(getattr(ecg, "sex", "")).strip()[:1].upper() or None
            age = float(getattr(ecg, "age", np.nan))
            names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
            return LoadedRecord(
                np.asarray(ecg.data, dtype=float).T,
                500.0,
                names,
                sex if sex in ("M", "F") else None,
                None if math.isnan(age) else age,
            )
    if not record_present(directory, record):
        # Listed but absent: a record that cannot be read, not a file of another format.
        raise FileNotFoundError(f"{record}: no file of this record in {directory}")
    raise NotWfdb(f"{record}: no WFDB header or known MATLAB layout")


def _windows(sig: np.ndarray, fs: float) -> list[tuple[int, np.ndarray]]:
    n = int(WINDOW_S * fs)
    if sig.shape[0] <= int(1.5 * n):
        return [(0, sig)]
    return [(start, sig[start : start + n]) for start in range(0, sig.shape[0] - n // 2, n)]


@dataclass
class CodeStats:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "tn": self.tn,
            "sensitivity": ratio(self.tp, self.tp + self.fn),
            "sensitivity_ci95": wilson(self.tp, self.tp + self.fn),
            "specificity": ratio(self.tn, self.tn + self.fp),
            "specificity_ci95": wilson(self.tn, self.tn + self.fp),
            "ppv": ratio(self.tp, self.tp + self.fp),
            "ppv_ci95": wilson(self.tp, self.tp + self.fp),
        }


@dataclass
class TriageReport:
    codes: dict[str, CodeStats] = field(
        default_factory=lambda: {c: CodeStats() for c in CODE_FLAGS}
    )
    records: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # wrong calls, for review
    amplitude_excluded: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "codes": {c: s.to_dict() for c, s in self.codes.items()},
            "records": self.records,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": self.errors,
            "amplitude_excluded": self.amplitude_excluded,
        }


def predicted_codes(flags: set[str]) -> set[str]:
    return {code for code, names in CODE_FLAGS.items() if flags & names}


class LabelledRecord(NamedTuple):
    folder: str
    ident: str  # folder/record
    truth: set[str]  # its triage codes
    record: LoadedRecord


def labelled_records(
    data_dir: Path,
    skipped: list[dict[str, str]],
    failed: list[dict[str, str]],
    *,
    progress: Callable[[str], None] | None = None,
    leave_out_folders: frozenset[str] = frozenset(),
) -> Iterator[LabelledRecord]:
    """Each row of DIR/records.csv with a triage label, read.

    Rows without a label (or coded only RPEAKS_ONLY/UNLABELLED) and files that are not WFDB
    go to ``skipped`` with the reason, records that cannot be read to ``failed``; rows in
    ``leave_out_folders`` are passed over.
    """
    for row in read_records_csv(data_dir):
        folder, record = row["folder"], row["record"]
        truth = {c for c in row.get("triage", "").split(";") if c}
        ident = f"{folder}/{record}"
        if progress:
            progress(ident)
        if folder in leave_out_folders:
            continue
        if not truth or truth <= SKIP_CODES:
            skipped.append(
                {"record": ident, "reason": "no triage label (" + ";".join(sorted(truth)) + ")"}
            )
            continue
        try:
            rec = load_record(data_dir / folder, record)
        except NotWfdb as exc:
            skipped.append({"record": ident, "reason": str(exc)})
            continue
        except Exception as exc:  # a record that should be readable but is not
            failed.append({"record": ident, "reason": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        yield LabelledRecord(folder, ident, truth, rec)


def evaluate_triage(
    data_dir: Path, *, progress: Callable[[str], None] | None = None
) -> TriageReport:
    """Run the analysis on every labelled record of DIR/records.csv and count agreements."""
    report = TriageReport()
    for folder, ident, truth, rec in labelled_records(
        data_dir, report.skipped, report.failed, progress=progress
    ):
        flags: set[str] = set()
        try:
            for _start, window in _windows(rec.signals, rec.fs):
                result = analyze(window, rec.fs, rec.lead_names, sex=rec.sex, age=rec.age)
                flags |= set(result.codes)
        except Exception as exc:
            report.failed.append(
                {"record": ident, "reason": f"analysis: {type(exc).__name__}: {exc}"[:300]}
            )
            continue
        report.records += 1
        predicted = predicted_codes(flags)
        for code, stats in report.codes.items():
            if code in AMPLITUDE_CODES and folder in NON_PHYSICAL_AMPLITUDE_FOLDERS:
                report.amplitude_excluded[code] = report.amplitude_excluded.get(code, 0) + 1
                continue
            actual = bool(truth & CODE_TRUTH[code])
            said = code in predicted
            if actual and said:
                stats.tp += 1
            elif actual:
                stats.fn += 1
            elif said:
                stats.fp += 1
            else:
                stats.tn += 1
            if actual != said:
                report.errors.append(
                    {
                        "record": ident,
                        "code": code,
                        "error": "missed" if actual else "false_alarm",
                        "truth": sorted(truth),
                        "flags": sorted(flags),
                    }
                )
    return report


@dataclass(frozen=True)
class RpeakRecord:
    record: str
    reference: int  # scored reference beats
    tp: int
    fn: int
    fp: int
    xqrs_tp: int
    xqrs_fp: int
    scored_from_s: float = 0.0
    scored_to_s: float = 0.0
    excluded_s: float = 0.0  # seconds not scored (VF/VFL per EC57, LUDB unannotated edges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "reference": self.reference,
            "tp": self.tp,
            "fn": self.fn,
            "fp": self.fp,
            "se": _r(self.tp, self.tp + self.fn),
            "ppv": _r(self.tp, self.tp + self.fp),
            "xqrs_tp": self.xqrs_tp,
            "xqrs_fp": self.xqrs_fp,
            "xqrs_se": _r(self.xqrs_tp, self.reference),
            "xqrs_ppv": _r(self.xqrs_tp, self.xqrs_tp + self.xqrs_fp),
            "scored_from_s": round(self.scored_from_s, 3),
            "scored_to_s": round(self.scored_to_s, 3),
            "excluded_s": round(self.excluded_s, 3),
        }


def _r(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _pooled(records: list[RpeakRecord]) -> dict[str, Any]:
    tp = sum(r.tp for r in records)
    fn = sum(r.fn for r in records)
    fp = sum(r.fp for r in records)
    xtp = sum(r.xqrs_tp for r in records)
    xfp = sum(r.xqrs_fp for r in records)
    ref = sum(r.reference for r in records)
    return {
        "records": len(records),
        "reference": ref,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "se": _r(tp, tp + fn),
        "ppv": _r(tp, tp + fp),
        "xqrs_se": _r(xtp, ref),
        "xqrs_ppv": _r(xtp, xtp + xfp),
    }


@dataclass
class RpeakReport:
    records: list[RpeakRecord] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # listed but absent

    def to_json(self) -> dict[str, Any]:
        sources: dict[str, list[RpeakRecord]] = {}
        for r in self.records:
            sources.setdefault(r.record.split("/")[0], []).append(r)
        return {
            "gross": _pooled(self.records),
            "sources": {name: _pooled(recs) for name, recs in sources.items()},
            "records": [r.to_dict() for r in self.records],
            "skipped": self.skipped,
            "failed": self.failed,
            "notes": list(RPEAK_NOTES),
        }


def _pair(reference: np.ndarray, det: np.ndarray, window: int) -> tuple[int, np.ndarray]:
    """TP count and, per detection of the sorted ``det``, whether it paired with a beat."""
    used = np.zeros(det.size, dtype=bool)
    tp = 0
    for r in np.sort(reference):
        i = int(np.searchsorted(det, r - window))
        while i < det.size and det[i] <= r + window:
            if not used[i]:
                used[i] = True
                tp += 1
                break
            i += 1
    return tp, used


def match(reference: np.ndarray, detected: np.ndarray, window: int) -> tuple[int, int, int]:
    """EC57 beat matching: each reference beat pairs with at most one detection within ``window``.

    Returns (TP, FN, FP) counts.
    """
    tp, used = _pair(reference, np.sort(detected), window)
    return tp, reference.size - tp, int((~used).sum())


def match_outside(
    reference: np.ndarray, detected: np.ndarray, window: int, spans: list[tuple[int, int]]
) -> tuple[int, int, int]:
    """EC57 matching of the scored reference beats against every detection, with spans
    left out: a detection counts as false only if it pairs with no scored beat and lies
    more than ``window`` from every span left out (there its beat may be one not scored,
    as CPSC 2019's scoring counts no false detection within its window of the strip's
    scored edges)."""
    det = np.sort(np.asarray(detected, dtype=int))
    tp, used = _pair(reference, det, window)
    widened = [(a - window, b + window) for a, b in spans]
    fp = int((~used & outside(det, widened)).sum())
    return tp, reference.size - tp, fp


def vf_episodes(
    samples: np.ndarray, symbols: list[str], aux: list[str], n_samples: int
) -> list[tuple[int, int]]:
    """Half-open sample spans [start, end) of ventricular flutter/fibrillation (EC57 exclusion).

    Parameters
    ----------
    samples, symbols, aux : WFDB annotation samples, symbols and aux notes (same length).
    n_samples : record length in samples; an episode still open at the end runs to it.

    Returns
    -------
    Merged, sorted spans from '[' ... ']' and from rhythm '(VF'/'(VFL' to the next rhythm change.
    """
    spans: list[tuple[int, int]] = []
    flutter_from: int | None = None
    rhythm_from: int | None = None
    for s, sym, note in zip(samples, symbols, aux, strict=True):
        at = int(s)
        if sym == VF_START and flutter_from is None:
            flutter_from = at
        elif sym == VF_END and flutter_from is not None:
            spans.append((flutter_from, at + 1))
            flutter_from = None
        elif sym == RHYTHM:
            if rhythm_from is not None:
                spans.append((rhythm_from, at))
                rhythm_from = None
            if (note or "").strip("\x00 \t") in VF_RHYTHMS:
                rhythm_from = at
    for start in (flutter_from, rhythm_from):
        if start is not None:
            spans.append((start, n_samples))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def outside(points: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Boolean mask: True for sample indices in none of the half-open ``spans``."""
    pts = np.asarray(points, dtype=int)
    keep = np.ones(pts.size, dtype=bool)
    for a, b in spans:
        keep &= ~((pts >= a) & (pts < b))
    return keep


@dataclass(frozen=True)
class ReferenceBeats:
    signals: np.ndarray  # (n, leads), physical units
    beats: np.ndarray  # reference beat sample indices
    fs: float
    excluded: tuple[tuple[int, int], ...] = ()  # spans not scored (VF/VFL, unannotated edges)


def _reference_beats(directory: Path, record: str) -> ReferenceBeats | None:
    """Signals, scored reference beats and the spans left out, for records with beat annotations."""
    base = directory / record
    if base.with_suffix(".atr").exists():
        rec = wfdb.rdrecord(str(base), physical=True)
        ann = wfdb.rdann(str(base), "atr")
        sig = np.asarray(rec.p_signal, dtype=float)
        symbols = list(ann.symbol)
        aux = list(ann.aux_note or [""] * len(symbols))
        spans = vf_episodes(np.asarray(ann.sample), symbols, aux, sig.shape[0])
        beats = np.array(
            [s for s, sym in zip(ann.sample, symbols, strict=True) if sym in BEAT_SYMBOLS],
            dtype=int,
        )
        return ReferenceBeats(sig, beats[outside(beats, spans)], float(rec.fs), tuple(spans))
    if base.with_suffix(".ii").exists():  # LUDB: per-lead wave annotations, N = QRS peak
        rec = wfdb.rdrecord(str(base), physical=True)
        ann = wfdb.rdann(str(base), "ii")
        sig = np.asarray(rec.p_signal, dtype=float)
        fs = float(rec.fs)
        beats = np.array(
            [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym == "N"], dtype=int
        )
        return ReferenceBeats(sig, beats, fs, _unannotated_edges(beats, sig.shape[0], fs))
    ref_mat = directory / f"R_{record.split('_')[-1]}.mat"
    data_mat = base.with_suffix(".mat")
    if ref_mat.exists() and data_mat.exists():  # CPSC 2019
        sig = np.asarray(scipy.io.loadmat(str(data_mat))["ecg"], dtype=float).reshape(-1, 1)
        beats = np.asarray(scipy.io.loadmat(str(ref_mat))["R_peak"], dtype=int).ravel()
        fs = 500.0
        # Beats from 0.5 s to 9.5 s inclusive are scored, as score_2019.py keeps them.
        a, b = int(CPSC2019_SCORED_S[0] * fs), int(CPSC2019_SCORED_S[1] * fs) + 1
        edges = [(0, a), (b, sig.shape[0])] if b < sig.shape[0] else [(0, a)]
        return ReferenceBeats(sig, beats[outside(beats, edges)], fs, tuple(edges))
    return None


def _unannotated_edges(beats: np.ndarray, n_samples: int, fs: float) -> tuple[tuple[int, int], ...]:
    """The spans before the first and after the last annotated QRS, less one match window."""
    if beats.size == 0:
        return ((0, n_samples),)
    w = int(MATCH_WINDOW_S * fs)
    first, last = int(beats.min()) - w, int(beats.max()) + w + 1
    spans = [(0, first)] if first > 0 else []
    if last < n_samples:
        spans.append((last, n_samples))
    return tuple(spans)


# Long records are read as consecutive 10 s cores, each analysed with this much of the
# record on either side and only the detections inside the core kept: a QRS cut by a
# window edge is then seen whole by the window around it, as a running monitor sees it.
DETECT_CONTEXT_S = 1.0


def _detect_windows(sig: np.ndarray, fs: float) -> np.ndarray:
    """R peaks that analyze() reports over consecutive 10 s windows, in record samples."""
    names = [f"L{j}" for j in range(sig.shape[1])]
    n = sig.shape[0]
    core, context = int(WINDOW_S * fs), int(DETECT_CONTEXT_S * fs)
    edge = int(0.2 * fs)  # shorter than any RR the analysis reports (250 ms refractory)
    if n <= int(1.5 * core):
        result = analyze(sig, fs, names)
        return np.asarray(result.measurements.get("r_peaks", []), dtype=int)
    detected: list[int] = []
    for start in range(0, n, core):
        end = min(n, start + core)
        if n - end < core // 2:  # a short tail joins this window
            end = n
        lo, hi = max(0, start - context), min(n, end + context)
        result = analyze(sig[lo:hi], fs, names)
        peaks = lo + np.asarray(result.measurements.get("r_peaks", []), dtype=int)
        # A beat on the edge between two cores may be placed a sample either side of it by
        # each window: both keep it, and the copy is dropped below.
        detected.extend(int(p) for p in peaks if start - edge <= p < end + edge)
        if end == n:
            break
    det = np.sort(np.asarray(detected, dtype=int))
    if det.size == 0:
        return det
    keep = [int(det[0])]
    for p in det[1:]:
        if p - keep[-1] > edge:
            keep.append(int(p))
    return np.asarray(keep, dtype=int)


def evaluate_rpeaks(
    data_dir: Path, *, progress: Callable[[str], None] | None = None
) -> RpeakReport:
    """QRS detection Se and +P on every record with reference beats, next to wfdb's xqrs.

    Exclusions (VF/VFL, LUDB unannotated edges) apply alike to the reference, to the
    analysis' detections and to xqrs' detections; see the module docstring.
    """
    from wfdb.processing import xqrs_detect

    report = RpeakReport()
    rows = read_records_csv(data_dir)
    for row in rows:
        ident = f"{row['folder']}/{row['record']}"
        if progress:
            progress(ident)
        try:
            ref = _reference_beats(data_dir / row["folder"], row["record"])
        except Exception as exc:
            report.skipped.append({"record": ident, "reason": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        if ref is None:
            if not record_present(data_dir / row["folder"], row["record"]):
                report.failed.append({"record": ident, "reason": "no file of this record"})
            continue
        spans = list(ref.excluded)
        det = _detect_windows(ref.signals, ref.fs)
        xq = np.asarray(
            xqrs_detect(np.nan_to_num(ref.signals[:, 0]), fs=ref.fs, verbose=False), dtype=int
        )
        w = int(MATCH_WINDOW_S * ref.fs)
        tp, fn, fp = match_outside(ref.beats, det, w, spans)
        xtp, _xfn, xfp = match_outside(ref.beats, xq, w, spans)
        n = ref.signals.shape[0]
        edge_from = next((b for a, b in spans if a == 0), 0)
        edge_to = next((a for a, b in spans if b == n and a > 0), n)
        report.records.append(
            RpeakRecord(
                ident,
                int(ref.beats.size),
                tp,
                fn,
                fp,
                xtp,
                xfp,
                scored_from_s=edge_from / ref.fs,
                scored_to_s=edge_to / ref.fs,
                excluded_s=sum(b - a for a, b in spans) / ref.fs,
            )
        )
    return report
