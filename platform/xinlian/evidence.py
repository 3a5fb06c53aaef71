"""A flag's evidence and the ST levels as a reader sees them: labels from the message
catalogue, values with their units, leads in the standard order.

The analysis stores evidence as plain JSON (stable keys, English phrases) for machines and
for the per-version flag audit; a cardiologist reading an ECG, or a township doctor
running ``xinlian analyze``, gets the same facts as rows of text in their language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecg_relay.analysis import criteria
from ecg_relay.analysis.leads import STANDARD_LEADS
from xinlian.i18n import MESSAGES, t

# The unit a key's value is in, by the key's ending (criteria.py and the evidence keep it).
_UNIT_SUFFIXES = ("_mv", "_ms", "_bpm", "_hz", "_s")
_LEAD_ORDER = {n: i for i, n in enumerate(STANDARD_LEADS)}


@dataclass(frozen=True)
class StCell:
    text: str
    css: str  # "st-up" (elevation >= 1 mm), "st-down" (depression >= 0.5 mm), "st-poor" or ""


@dataclass(frozen=True)
class StRow:
    label: str
    cells: tuple[StCell, ...]


def evidence_rows(evidence: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) rows for one flag's evidence; items without a value are left out."""
    rows = []
    for key, value in evidence.items():
        if value is None or value == {} or value == []:
            continue
        rows.append((t(f"ev.{key}", lang), _value(key, value, lang)))
    return rows


def st_table(
    measurements: Mapping[str, Any], lead_quality: Mapping[str, str], lang: str
) -> tuple[tuple[str, ...], list[StRow]]:
    """The leads measured and two rows, ST at J and at J+60 ms (mV against the PR segment);
    empty when the record was not measured (unreadable). A lead whose quality is not ok is
    greyed rather than marked: the ST criteria leave it out too."""
    rows_by_key = [("st_j_mv", "ecg.st_j"), ("st_j60_mv", "ecg.st_j60")]
    levels = {k: measurements.get(k) or {} for k, _ in rows_by_key}
    leads = tuple(n for n in STANDARD_LEADS if any(n in v for v in levels.values()))
    rows = []
    for key, label in rows_by_key:
        cells = []
        for lead in leads:
            v = levels[key].get(lead)
            if v is None:
                cells.append(StCell("—", ""))
                continue
            css = (
                "st-poor"
                if lead_quality.get(lead, "ok") != "ok"
                else "st-up"
                if v >= criteria.STE_DEFAULT_MV
                else "st-down"
                if v <= -criteria.STD_MV
                else ""
            )
            cells.append(StCell(_signed_mv(v), css))
        rows.append(StRow(t(label, lang), tuple(cells)))
    return (leads, rows) if leads else ((), [])


def _unit(key: str, lang: str) -> str:
    for suffix in _UNIT_SUFFIXES:
        if key.endswith(suffix):
            return t(f"unit.{suffix[1:]}", lang)
    return ""


def _signed_mv(value: float) -> str:
    """0.01 mV resolution with its sign; nothing to sign where it rounds to zero."""
    text = f"{value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def _scalar(key: str, value: Any, lang: str, *, signed: bool = False) -> str:
    if isinstance(value, str):
        # The analysis's stable words; an unknown one is shown as it is, never as a key.
        return t(f"evv.{value}", lang) if f"evv.{value}" in MESSAGES else value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key.endswith("_mv"):
        text = _signed_mv(value) if signed else f"{value:.2f}"
    elif isinstance(value, int):
        text = str(value)
    else:
        text = f"{value:.0f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{text} {_unit(key, lang)}".rstrip()


def _value(key: str, value: Any, lang: str) -> str:
    if isinstance(value, list | tuple):
        return ("、" if lang != "en" else ", ").join(map(str, value))
    if not isinstance(value, Mapping):
        return _scalar(key, value, lang)
    parts = []
    # Leads in the order of the printed ECG; other names as the analysis gave them.
    for name, item in sorted(value.items(), key=lambda kv: _LEAD_ORDER.get(kv[0], 99)):
        if item is None:
            continue
        if f"ev.{name}" in MESSAGES:
            # Named readings (thresholds, voltage criteria): the name says the unit.
            unit_key = name if name.endswith(_UNIT_SUFFIXES) else key
            parts.append(f"{t(f'ev.{name}', lang)} {_scalar(unit_key, item, lang)}")
        else:
            # Per-lead readings: ST levels and waves are signed (elevation, depression).
            parts.append(f"{name} {_scalar(key, item, lang, signed=True)}")
    return ("，" if lang != "en" else ", ").join(parts)
