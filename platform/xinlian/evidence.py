"""A flag's evidence and the ST levels as a reader sees them: labels from the message
catalogue, values with their units, leads in the standard order.

The analysis stores evidence as plain JSON (stable keys, English phrases) for machines and
for the per-version flag audit; a cardiologist reading an ECG, or a township doctor
running ``xinlian analyze``, gets the same facts as rows of text in their language.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    """(label, value) rows for one flag's evidence; items without a value are left out.

    A key this catalogue does not know (evidence of another algorithm version) is shown by
    its own name, never hidden."""
    rows = []
    for key, value in evidence.items():
        text = _value(key, value, lang)
        if text:
            rows.append((t(f"ev.{key}", lang) if f"ev.{key}" in MESSAGES else key, text))
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


def _plain(value: float, decimals: int) -> str:
    """Fixed-point, trailing zeros dropped, never "-0" or an exponent."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scalar(key: str, value: Any, lang: str, *, signed: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # The analysis's stable words; an unknown one is shown as it is, never as a key.
        return t(f"evv.{value}", lang) if f"evv.{value}" in MESSAGES else value
    if isinstance(value, bool | np.bool_):
        return t("yes" if value else "no", lang)
    if not isinstance(value, numbers.Real):
        return str(value)
    v = float(value)
    if key.endswith("_mv"):
        text = _signed_mv(v) if signed else _signed_mv(v).lstrip("+")
    else:
        text = _plain(v, 0 if abs(v) >= 10 else 3)
    return f"{text} {_unit(key, lang)}".rstrip()


def _value(key: str, value: Any, lang: str) -> str:
    if isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
        if all(v in _LEAD_ORDER for v in items):
            items.sort(key=_LEAD_ORDER.__getitem__)
        return ("、" if lang != "en" else ", ").join(items)
    if not isinstance(value, Mapping):
        return _scalar(key, value, lang)
    parts = []
    # Per-lead readings are signed (elevation, depression); thresholds are not readings.
    signed = not key.startswith("threshold")
    # Leads in the order of the printed ECG; other names as the analysis gave them.
    for name, item in sorted(value.items(), key=lambda kv: _LEAD_ORDER.get(kv[0], 99)):
        if item is None:
            continue
        if f"ev.{name}" in MESSAGES:
            # Named readings (thresholds, voltage criteria): the name says the unit.
            unit_key = name if name.endswith(_UNIT_SUFFIXES) else key
            parts.append(f"{t(f'ev.{name}', lang)} {_scalar(unit_key, item, lang)}")
        else:
            parts.append(f"{name} {_scalar(key, item, lang, signed=signed)}")
    return ("，" if lang != "en" else ", ").join(parts)
