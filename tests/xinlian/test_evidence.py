"""Flag evidence and ST levels as a reader sees them, in Chinese and English."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from devices.simulator import SCENARIOS, simulate
from ecg_relay.analysis import Flag, analyze
from ecg_relay.analysis.ischaemia import StLevels, st_flags
from ecg_relay.analysis.leads import STANDARD_LEADS
from xinlian.evidence import evidence_rows, st_table
from xinlian.i18n import MESSAGES


def _flags_of_every_kind() -> Iterator[Flag]:
    """Flags the real analysis raises: every simulated scenario (quiet and noisy), a wrong
    gain, an unreadable record, and the ST criteria the simulator has no scenario for."""
    for scenario in SCENARIOS:
        for seed, noise in ((1, 1.0), (2, 4.0)):
            e = simulate(scenario, seed=seed, noise=noise)
            yield from analyze(e.signals, e.fs, e.lead_names, sex="F", age=70).flags
    e = simulate("normal", seed=3)
    yield from analyze(e.signals * 8, e.fs, e.lead_names).flags  # 8 mV gain: implausible
    yield from analyze(np.zeros_like(e.signals), e.fs, e.lead_names).flags
    zero = dict.fromkeys(STANDARD_LEADS, 0.0)
    diffuse = zero | dict.fromkeys(("I", "II", "aVF", "V4", "V5", "V6", "III"), -0.15)
    posterior = zero | {"V1": -0.15, "V2": -0.2, "V3": -0.12}
    for st in (diffuse | {"aVR": 0.15}, posterior):
        lv = StLevels(
            j=st,
            jt=st,
            j60=st,
            t_max=dict.fromkeys(STANDARD_LEADS, 0.3),
            t_min=zero,
            terminal=zero,
            r=dict.fromkeys(STANDARD_LEADS, 0.8),
            s=dict.fromkeys(STANDARD_LEADS, -0.3),
        )
        yield from st_flags(set(STANDARD_LEADS), lv, sex=None, age=None, not_evaluated=[])


def _words(evidence: Mapping[str, Any]) -> Iterator[str]:
    """Catalogue keys an evidence dict needs: its keys, named sub-keys and its words."""
    for key, value in evidence.items():
        yield f"ev.{key}"
        items = value.items() if isinstance(value, Mapping) else [(None, value)]
        for name, item in items:
            if name is not None and name not in STANDARD_LEADS:
                yield f"ev.{name}"
            if isinstance(item, str) and item not in STANDARD_LEADS:
                yield f"evv.{item}"


def test_every_evidence_key_and_word_has_both_languages() -> None:
    """No reader sees a raw evidence key or an English-only word in the Chinese view."""
    flags = list(_flags_of_every_kind())
    codes = {f.code for f in flags}
    # The sweep reaches the flags that carry the most varied evidence.
    assert {"STEMI_INFERIOR", "AF", "VT", "PACED", "POOR_QUALITY", "REPEAT_ECG"} <= codes
    assert {"STE_AVR_DIFFUSE_STD", "POSTERIOR_PATTERN", "VF_ASYSTOLE", "LBBB"} <= codes
    needed = {w for f in flags for w in _words(f.evidence)}
    assert sorted(w for w in needed if w not in MESSAGES) == []
    for flag in flags:
        for lang in ("zh", "en"):
            for label, value in evidence_rows(flag.evidence, lang):
                assert label and value and not label.startswith(("ev.", "evv."))
                assert "evv." not in value and "ev." not in value


def test_rows_carry_units_signs_lead_order_and_translated_words() -> None:
    """Leads in the printed order, mV signed per lead, units from the key, None left out."""
    evidence = {
        "leads": ["II", "III", "aVF"],
        "st_j_mv": {"aVF": 0.301, "III": 0.352, "II": 0.25},
        "reciprocal_depression_mv": {"aVL": -0.225},
        "heart_rate_bpm": 163.4,
        "p_waves": "absent",
        "wide_beat_run": None,
        "thresholds": {"qrs_ms": 120.0, "rate_bpm": 100.0, "run_beats": 3},
        "rr_irregularity": 0.482,
    }
    assert evidence_rows(evidence, "zh") == [
        ("导联", "II、III、aVF"),
        ("J 点 ST", "II +0.25 mV，III +0.35 mV，aVF +0.30 mV"),
        ("对应导联 ST 压低", "aVL -0.23 mV"),
        ("心率", "163 次/分"),
        ("P 波", "无"),
        ("阈值", "QRS 时限 120 ms，心率 100 次/分，连续宽 QRS 心搏 3"),
        ("RR 不规则度 (RMSSD/平均 RR)", "0.482"),
    ]
    en = dict(evidence_rows(evidence, "en"))
    assert en["ST at J"] == "II +0.25 mV, III +0.35 mV, aVF +0.30 mV"
    assert en["Heart rate"] == "163 /min" and en["P waves"] == "absent"


def test_unknown_keys_and_words_show_as_they_are() -> None:
    """Evidence of a newer algorithm than this catalogue is still readable, never hidden."""
    rows = evidence_rows({"new_reading_ms": 42.0, "note": "a new phrase"}, "zh")
    assert rows == [("new_reading_ms", "42 ms"), ("说明", "a new phrase")]


def test_odd_values_render_plainly() -> None:
    """numpy scalars, booleans, tiny numbers, a rounded-away sign, thresholds per lead,
    alphabetically sorted lead lists and empty items, as a reader should see them."""
    evidence = {
        "age": np.float64(60.0),
        "beats": np.int64(3),
        "st_j_avr_mv": -0.004,
        "qrs_ms": 1.2e-05,
        "p_waves": True,
        "thresholds_mv": {"V2": 0.25, "II": 0.1},
        "leads": ["I", "V5", "V6", "aVL"],
        "territory_leads": (),
        "reciprocal_depression_mv": {"I": None},
    }
    assert evidence_rows(evidence, "en") == [
        ("Age", "60"),
        ("Beats", "3"),
        ("ST at J in aVR", "0.00 mV"),
        ("QRS duration", "0 ms"),
        ("P waves", "yes"),
        ("ST elevation thresholds (lead, sex, age)", "II 0.10 mV, V2 0.25 mV"),
        ("Leads", "I, aVL, V5, V6"),
    ]


def test_st_table_marks_elevation_and_depression() -> None:
    """ST at J and J+60 ms per lead in the standard order; ≥ 1 mm up red, ≥ 0.5 mm down blue."""
    e = simulate("inferior_stemi", seed=5)
    measurements = analyze(e.signals, e.fs, e.lead_names, sex="M", age=60).measurements
    leads, rows = st_table(measurements, {}, "zh")
    assert leads == STANDARD_LEADS
    assert [r.label for r in rows] == ["J 点", "J 点后 60 ms"]
    at_j = dict(zip(leads, rows[0].cells, strict=True))
    # The simulated inferior STEMI: III +0.35, aVF +0.30, II +0.25; aVL -0.23 reciprocal.
    assert {n for n, c in at_j.items() if c.css == "st-up"} == {"II", "III", "aVF"}
    assert {n for n, c in at_j.items() if c.css == "st-down"} >= {"aVL"}
    assert at_j["V1"].css == "" and at_j["III"].text.startswith("+0.3")
    assert st_table({"unreadable_reason": "too_short"}, {}, "zh") == ((), [])
    # Readings that round to zero carry no sign; a lead not measured reads as a dash.
    leads, rows = st_table({"st_j_mv": {"V1": -0.001, "V2": 0.004}}, {}, "en")
    assert leads == ("V1", "V2") and [c.text for c in rows[0].cells] == ["0.00", "0.00"]
    assert [c.text for c in rows[1].cells] == ["—", "—"]
    # A noisy lead's elevation is shown greyed, not marked as an elevation.
    _leads, rows = st_table({"st_j_mv": {"V2": 0.3, "V3": 0.3}}, {"V2": "noise"}, "en")
    assert [c.css for c in rows[0].cells] == ["st-poor", "st-up"]
