"""ST-segment criteria: STEMI by territory (4th UDMI), aVR with diffuse depression, posterior
pattern and ischaemic ST depression, from ST levels measured on the median beats; and the
concordant Sgarbossa criteria where LBBB or ventricular pacing hide the infarct's ST change.

Secondary ST-T changes are kept apart from primary ones, because the 4th UDMI table applies
"in the absence of LVH and LBBB": RBBB (ST-T discordant to the terminal R'), and LVH with
repolarisation change (anterior ST elevation discordant to deep S waves, lateral strain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.delineation import Fiducials
from ecg_relay.analysis.leads import (
    CONTIGUOUS_PAIRS,
    RECIPROCAL_LEADS,
    TERRITORIES,
    TERRITORY_LEADS,
)
from ecg_relay.analysis.result import Flag, Severity


@dataclass(frozen=True)
class StLevels:
    """Per-lead measurements of the median beats, mV from the PR-segment baseline."""

    j: Mapping[str, float]  # ST at the global J point
    jt: Mapping[str, float]  # ST at Jt (end of a J notch/slur): what ST elevation is read at
    j60: Mapping[str, float]  # ST at J + 60 ms
    t_max: Mapping[str, float]  # most positive value of the T window
    t_min: Mapping[str, float]  # most negative value of the T window
    terminal: Mapping[str, float]  # mean of the last 40 ms of the QRS (signed)
    r: Mapping[str, float]  # largest positive QRS deflection (>= 0)
    s: Mapping[str, float]  # deepest negative QRS deflection (<= 0)


def st_levels(fid: Fiducials, idx: Mapping[str, int]) -> StLevels:
    """The ST, T and QRS amplitudes of ``fid`` by lead name (``idx``: name -> column)."""

    def by_name(values: object) -> dict[str, float]:
        return {n: float(values[i]) for n, i in idx.items()}  # type: ignore[index]

    return StLevels(
        j=by_name(fid.st_j),
        jt=by_name(fid.st_jt),
        j60=by_name(fid.st_j60),
        t_max=by_name(fid.t_max),
        t_min=by_name(fid.t_min),
        terminal=by_name(fid.terminal_qrs),
        r=by_name(fid.r_amplitude),
        s=by_name(fid.s_amplitude),
    )


def lvh_voltage(lv: StLevels, ok: set[str], sex: str | None) -> dict[str, float]:
    """The LVH voltage criteria met (name -> measured mV); empty when none is met.

    Unknown sex takes the men's Cornell limit, so that LVH (which makes ST elevation less
    specific) is not assumed on the lower women's limit.
    """
    met: dict[str, float] = {}
    if {"V1", "V5", "V6"} <= ok:
        sokolow = -lv.s["V1"] + max(lv.r["V5"], lv.r["V6"])
        if sokolow >= c.SOKOLOW_LYON_MV:
            met["sokolow_lyon_mv"] = round(sokolow, 2)
    if {"aVL", "V3"} <= ok:
        cornell = lv.r["aVL"] - lv.s["V3"]
        limit = c.CORNELL_WOMEN_MV if sex == "F" else c.CORNELL_MEN_MV
        if cornell > limit:
            met["cornell_mv"] = round(cornell, 2)
    return met


def _lvh_discordant(leads: list[str], lv: StLevels, lvh: dict[str, float]) -> bool:
    """ST elevation only in V1-V3, each after a dominant S and < 25% of its depth (LVH)."""
    if not lvh or not leads:
        return False
    for n in leads:
        s_depth = -lv.s[n]
        if n not in c.LVH_STE_LEADS or s_depth <= lv.r[n]:
            return False
        if lv.jt[n] >= c.LVH_STE_TO_S_RATIO * s_depth:
            return False
    return True


def _territory_flags(
    ok: set[str],
    lv: StLevels,
    *,
    sex: str | None,
    age: float | None,
    lvh: dict[str, float],
    not_evaluated: list[str],
) -> tuple[list[Flag], bool]:
    """STEMI flags by territory, and whether any ST elevation criterion was met at all."""
    flags: list[Flag] = []
    elevated_any = False
    for code, pairs in TERRITORIES.items():
        met: dict[str, float] = {}
        thresholds: dict[str, float] = {}
        evaluable = False
        for a, b in pairs:
            if a not in ok or b not in ok:
                continue
            evaluable = True
            ta = c.ste_threshold_mv(a, sex=sex, age=age)
            tb = c.ste_threshold_mv(b, sex=sex, age=age)
            if lv.jt[a] >= ta and lv.jt[b] >= tb:
                met[a], met[b] = round(lv.jt[a], 3), round(lv.jt[b], 3)
                thresholds[a], thresholds[b] = ta, tb
        if not evaluable:
            not_evaluated.append(f"{code}: contiguous leads missing or poor quality")
            continue
        if not met:
            continue
        elevated_any = True
        leads = sorted(met)
        evidence = {
            "leads": leads,
            "st_j_mv": met,
            "st_at_global_j_mv": {n: round(lv.j[n], 3) for n in leads},
            "thresholds_mv": thresholds,
            "territory_leads": list(TERRITORY_LEADS[code]),
            "reciprocal_depression_mv": {
                n: round(lv.jt[n], 3)
                for n in RECIPROCAL_LEADS[code]
                if n in ok and lv.jt[n] <= -c.RECIPROCAL_MV
            },
            "criterion": "4th UDMI: new ST elevation at J in two contiguous leads",
            "sex": sex,
            "age": age,
        }
        if lvh:
            evidence["lvh_voltage_mv"] = lvh
        if code == "STEMI_ANTERIOR" and _lvh_discordant(leads, lv, lvh):
            evidence["s_wave_mv"] = {n: round(lv.s[n], 3) for n in leads}
            evidence["criterion"] = (
                "ST elevation in V1-V3 < 25% of the S wave with LVH voltage (Armstrong 2012): "
                "probably LVH repolarisation; compare with a previous ECG"
            )
            flags.append(Flag("STE_PROBABLE_LVH", Severity.URGENT, evidence))
        else:
            flags.append(Flag(code, Severity.CRITICAL, evidence))
    return flags, elevated_any


def _t_inverted(n: str, lv: StLevels) -> bool:
    """The T wave of ``n`` is negative: its negative extreme outweighs its positive one."""
    return -lv.t_min[n] > max(lv.t_max[n], 0.0)


def _t_upright(n: str, lv: StLevels) -> bool:
    """The T wave of ``n`` is positive and at least POSTERIOR_T_UPRIGHT_MV high."""
    return lv.t_max[n] >= c.POSTERIOR_T_UPRIGHT_MV and lv.t_max[n] > -lv.t_min[n]


def _secondary(n: str, lv: StLevels, *, rbbb: bool, lvh: dict[str, float]) -> bool:
    """ST depression in ``n`` is the expected secondary change of RBBB or LVH strain.

    RBBB: ST-T opposite the terminal R' (Surawicz 2009). LVH strain: ST depression with an
    inverted T after a dominant R (Hancock EW et al., AHA/ACCF/HRS part V, Circulation
    2009;119:e251).
    """
    discordant_t = _t_inverted(n, lv)
    if rbbb and lv.terminal[n] > 0 and discordant_t:
        return True
    return bool(lvh) and discordant_t and lv.r[n] > -lv.s[n]


def st_flags(
    ok: set[str],
    lv: StLevels,
    *,
    sex: str | None,
    age: float | None,
    rbbb: bool = False,
    not_evaluated: list[str],
) -> list[Flag]:
    """ST flags from the levels ``lv`` in the leads ``ok`` for ST measurement.

    Parameters
    ----------
    ok : leads with a usable signal and a stable PR-segment reference.
    lv : ST, T and QRS amplitudes per lead (mV).
    sex, age : 'M'/'F'/None and years/None, for the V2-V3 thresholds (4th UDMI).
    rbbb : the QRS is right bundle branch block (secondary ST-T in V1-V3 expected).
    not_evaluated : appended with the criteria that could not be evaluated.
    """
    lvh = lvh_voltage(lv, ok, sex)
    flags, elevated_any = _territory_flags(
        ok, lv, sex=sex, age=age, lvh=lvh, not_evaluated=not_evaluated
    )
    depressed = {
        n: round(lv.j60[n], 3) for n in ok if n != "aVR" and lv.j60[n] <= -c.DIFFUSE_STD_MV
    }
    if "aVR" in ok and lv.j["aVR"] >= c.AVR_STE_MV and len(depressed) >= c.DIFFUSE_STD_LEADS:
        flags.append(
            Flag(
                "STE_AVR_DIFFUSE_STD",
                Severity.CRITICAL,
                {
                    "st_j_avr_mv": round(lv.j["aVR"], 3),
                    "depressed_leads_mv": depressed,
                    "thresholds": {
                        "avr_mv": c.AVR_STE_MV,
                        "depression_mv": -c.DIFFUSE_STD_MV,
                        "depressed_leads": c.DIFFUSE_STD_LEADS,
                    },
                },
            )
        )
    post = [
        n
        for n in ("V1", "V2", "V3")
        if n in ok
        and lv.j60[n] <= -2 * c.POSTERIOR_STD_MV
        and lv.j60[n] - lv.j[n] <= c.STD_UPSLOPE_MV
        and not (rbbb and not _t_upright(n, lv))
    ]
    lateral_chest = [lv.j60[n] for n in ("V4", "V5", "V6") if n in ok]
    contiguous_post = any(a in post and b in post for a, b in (("V1", "V2"), ("V2", "V3")))
    if (
        contiguous_post
        and not elevated_any
        and min(lv.j60[n] for n in post) < min(lateral_chest, default=0.0)
    ):
        flags.append(
            Flag(
                "POSTERIOR_PATTERN",
                Severity.CRITICAL,
                {
                    "st_j60_mv": {n: round(lv.j60[n], 3) for n in post},
                    "t_peak_mv": {n: round(lv.t_max[n], 3) for n in post},
                    "note": "ST depression V1-V3: record V7-V9",
                },
            )
        )

    def depressed_flat(n: str) -> bool:
        # Horizontal or downsloping: still depressed 60 ms after J. J-point depression that
        # rises back by J+60 ms (upsloping, the normal tachycardia pattern) is not counted.
        held = lv.j60[n] <= -c.STD_MV and lv.j60[n] - lv.j[n] <= c.STD_UPSLOPE_MV
        return held and not _secondary(n, lv, rbbb=rbbb, lvh=lvh)

    depressed_pairs = [
        (a, b)
        for a, b in CONTIGUOUS_PAIRS
        if a in ok and b in ok and depressed_flat(a) and depressed_flat(b)
    ]
    if depressed_pairs and not elevated_any:
        leads = sorted({n for p in depressed_pairs for n in p})
        flags.append(
            Flag(
                "ST_DEPRESSION",
                Severity.URGENT,
                {
                    "leads": leads,
                    "st_j_mv": {n: round(lv.j[n], 3) for n in leads},
                    "st_j60_mv": {n: round(lv.j60[n], 3) for n in leads},
                    "threshold_mv": -c.STD_MV,
                    "shape": "horizontal or downsloping",
                    "secondary_excluded": "RBBB" if rbbb else ("LVH strain" if lvh else None),
                },
            )
        )
    return flags


def sgarbossa_flag(ok: set[str], lv: StLevels, *, conduction: str) -> Flag | None:
    """STEMI_SGARBOSSA when a concordant Sgarbossa criterion is met in a lead of ``ok``.

    For LBBB and ventricular pacing, where the 4th UDMI territory criteria do not apply:
    their ST-T change is discordant to the QRS, so ST elevation in the direction of the
    QRS, or ST depression in V1-V3 after their negative QRS, is the infarct's (criteria.py
    names the sources and why the discordant criteria are left out). ``conduction`` names
    the QRS for the evidence. A lead's QRS is positive where its R is at least
    SGARBOSSA_DOMINANCE times its S, negative where its S is that much deeper than its
    R; a nearly equiphasic lead (III, aVF with a left axis; the chest transition) has no
    direction for ST to be concordant with and is not read.
    """
    mv = c.SGARBOSSA_CONCORDANT_MV
    k = c.SGARBOSSA_DOMINANCE
    positive = {n for n in ok if lv.r[n] >= k * -lv.s[n] and lv.r[n] > 0}
    negative = {n for n in ok if -lv.s[n] >= k * lv.r[n] and lv.s[n] < 0}
    concordant_ste = {n: round(lv.j[n], 3) for n in sorted(positive) if lv.j[n] >= mv}
    concordant_std = {
        n: round(lv.j[n], 3) for n in c.SGARBOSSA_STD_LEADS if n in negative and lv.j[n] <= -mv
    }
    if not (concordant_ste or concordant_std):
        return None
    return Flag(
        "STEMI_SGARBOSSA",
        Severity.CRITICAL,
        {
            "conduction": conduction,
            "concordant_ste_mv": concordant_ste,
            "concordant_std_v1_v3_mv": concordant_std,
            "threshold_mv": mv,
            "criterion": "Sgarbossa: concordant ST elevation, or concordant ST depression V1-V3",
        },
    )
