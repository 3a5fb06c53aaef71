"""AF calls per 10 s window against a record's rhythm annotations (reads files).

Records with a rhythm-annotated `.atr` file (PhysioNet `+` annotations with `(AFIB`, `(N`,
... aux notes, as CPSC 2021 and MIT-BIH write them) are cut into the 10 s windows a cart
records, and each window is analysed on its own. A window counts as AF when at least 99% of
it lies in an `(AFIB` or `(AFL` episode and as not AF when at most 1% does; windows across
an episode's edge are counted as mixed and not scored, and so is the stretch before a
record's first rhythm annotation (its rhythm is not stated). A beat-annotated record with no
rhythm annotation at all is one rhythm throughout: not AF when its records.csv labels name
neither AF nor AFL (CPSC 2021's non-AF records), not scored otherwise. The analysis calls AF when it
raises AF or AFL, as the triage evaluation counts them.

This complements `evaluate_triage`, which counts a record once: a paroxysmal AF record
there is one AF record however many windows show AF, and its sinus windows are not scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

from ecg_relay.analysis import analyze
from ecg_relay.evaluation import (
    CODE_FLAGS,
    CODE_TRUTH,
    RHYTHM,
    SKIP_CODES,
    WINDOW_S,
    CodeStats,
    read_records_csv,
    read_wfdb_record,
)

AF_RHYTHMS = frozenset({"(AFIB", "(AFL"})
PURE_SHARE = 0.99  # a window is AF, or not AF, when this share of it is


def rhythm_labels(
    samples: np.ndarray, symbols: list[str], aux: list[str], n_samples: int
) -> list[tuple[int, int, str]]:
    """Half-open spans [start, end) of each annotated rhythm, as (start, end, label).

    A rhythm runs from its `+` annotation to the next one (or the record's end); nothing
    is returned for the samples before the first.
    """
    changes = [
        (int(s), (note or "").strip("\x00 \t"))
        for s, sym, note in zip(samples, symbols, aux, strict=True)
        if sym == RHYTHM
    ]
    if not changes:
        return []
    ends = [s for s, _ in changes[1:]] + [n_samples]
    return [(s, e, label) for (s, label), e in zip(changes, ends, strict=True) if e > s]


@dataclass(frozen=True)
class WindowCall:
    record: str
    start_s: float
    af_share: float  # share of the window inside an annotated AF/AFL episode
    called: bool
    flags: tuple[str, ...]


@dataclass
class AfWindowReport:
    windows: list[WindowCall] = field(default_factory=list)
    mixed: int = 0  # windows across an episode's edge, not scored
    unlabelled: int = 0  # windows (partly) before a record's first rhythm label, not scored
    records: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        af = [w for w in self.windows if w.af_share >= PURE_SHARE]
        other = [w for w in self.windows if w.af_share <= 1 - PURE_SHARE]
        counts = CodeStats(
            tp=sum(w.called for w in af),
            fn=sum(not w.called for w in af),
            fp=sum(w.called for w in other),
            tn=sum(not w.called for w in other),
        )
        wrong = [w for w in af if not w.called] + [w for w in other if w.called]
        return {
            **counts.to_dict(),
            "mixed_windows": self.mixed,
            "unlabelled_windows": self.unlabelled,
            "records": self.records,
            "errors": [
                {
                    "record": w.record,
                    "start_s": w.start_s,
                    "error": "missed" if w.af_share >= PURE_SHARE else "false_alarm",
                    "flags": list(w.flags),
                }
                for w in wrong
            ],
            "skipped": self.skipped,
            "failed": self.failed,
        }


def _af_mask(path: Path, n_samples: int, record_af: bool | None) -> np.ndarray | None:
    """Per sample: 1 in AF/AFL, 0 in another annotated rhythm, NaN before the first label.

    A beat-annotated record without rhythm annotations is one rhythm throughout (CPSC 2021
    annotates rhythm only in its AF records): not AF when its triage labels name neither AF
    nor AFL (``record_af`` False: all 0), not scored when they do or when it has no label
    (True or None: None, as for a record with no `.atr` file).
    """
    if not path.with_suffix(".atr").exists():
        return None
    ann = wfdb.rdann(str(path), "atr")
    symbols = list(ann.symbol)
    aux = list(ann.aux_note or [""] * len(symbols))
    labels = rhythm_labels(ann.sample, symbols, aux, n_samples)
    if not labels:
        return np.zeros(n_samples) if record_af is False else None
    mask = np.full(n_samples, np.nan)
    for start, end, label in labels:
        mask[start:end] = 1.0 if label in AF_RHYTHMS else 0.0
    return mask


def evaluate_af_windows(
    data_dir: Path, *, progress: Callable[[str], None] | None = None
) -> AfWindowReport:
    """AF calls on every whole 10 s window of the rhythm-annotated records in records.csv."""
    report = AfWindowReport()
    rows = read_records_csv(data_dir)
    af_flags = CODE_FLAGS["AF"]
    for row in rows:
        ident = f"{row['folder']}/{row['record']}"
        if progress:
            progress(ident)
        path = data_dir / row["folder"] / row["record"]
        if not path.with_suffix(".hea").exists():
            continue
        try:
            sig, fs, names, meta = read_wfdb_record(path)
            truth = {c for c in row.get("triage", "").split(";") if c} - SKIP_CODES
            mask = _af_mask(path, sig.shape[0], bool(truth & CODE_TRUTH["AF"]) if truth else None)
        except Exception as exc:  # listed and present, but unreadable
            report.failed.append({"record": ident, "reason": f"{type(exc).__name__}: {exc}"[:300]})
            continue
        if mask is None:
            continue
        n = int(WINDOW_S * fs)
        if sig.shape[0] < n:
            report.skipped.append({"record": ident, "reason": "shorter than one 10 s window"})
            continue
        report.records.append(ident)
        for start in range(0, sig.shape[0] - n + 1, n):
            part = mask[start : start + n]
            if np.isnan(part).any():
                report.unlabelled += 1
                continue
            share = float(part.mean())
            if 1 - PURE_SHARE < share < PURE_SHARE:
                report.mixed += 1
                continue
            try:
                result = analyze(
                    sig[start : start + n], fs, names, sex=meta["sex"], age=meta["age"]
                )
            except Exception as exc:
                report.failed.append(
                    {"record": ident, "reason": f"analysis at {start / fs:.0f} s: {exc}"[:300]}
                )
                continue
            report.windows.append(
                WindowCall(
                    ident,
                    round(start / fs, 1),
                    round(share, 3),
                    bool(af_flags & set(result.codes)),
                    tuple(result.codes),
                )
            )
    return report
