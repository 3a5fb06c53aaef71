"""ST-segment criteria: STEMI by territory (4th UDMI), aVR with diffuse depression, posterior
pattern and ischaemic ST depression, from ST levels measured on the median beats."""

from __future__ import annotations

from ecg_relay.analysis import criteria as c
from ecg_relay.analysis.leads import (
    CONTIGUOUS_PAIRS,
    RECIPROCAL_LEADS,
    TERRITORIES,
    TERRITORY_LEADS,
)
from ecg_relay.analysis.result import Flag, Severity


def st_flags(
    ok: set[str],
    st_j: dict[str, float],
    st_60: dict[str, float],
    *,
    sex: str | None,
    age: float | None,
    not_evaluated: list[str],
) -> list[Flag]:
    """ST flags from ST at J and J+60 ms (mV) in the leads ``ok`` for ST measurement."""
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
            if st_j[a] >= ta and st_j[b] >= tb:
                met[a], met[b] = round(st_j[a], 3), round(st_j[b], 3)
                thresholds[a], thresholds[b] = ta, tb
        if not evaluable:
            not_evaluated.append(f"{code}: contiguous leads missing or poor quality")
            continue
        if met:
            elevated_any = True
            reciprocal = {
                n: round(st_j[n], 3)
                for n in RECIPROCAL_LEADS[code]
                if n in ok and st_j[n] <= -c.RECIPROCAL_MV
            }
            flags.append(
                Flag(
                    code,
                    Severity.CRITICAL,
                    {
                        "leads": sorted(met),
                        "st_j_mv": met,
                        "thresholds_mv": thresholds,
                        "territory_leads": list(TERRITORY_LEADS[code]),
                        "reciprocal_depression_mv": reciprocal,
                        "criterion": "4th UDMI: new ST elevation at J in two contiguous leads",
                        "sex": sex,
                        "age": age,
                    },
                )
            )
    depressed = {n: round(st_60[n], 3) for n in ok if n != "aVR" and st_60[n] <= -c.DIFFUSE_STD_MV}
    if "aVR" in ok and st_j["aVR"] >= c.AVR_STE_MV and len(depressed) >= c.DIFFUSE_STD_LEADS:
        flags.append(
            Flag(
                "STE_AVR_DIFFUSE_STD",
                Severity.CRITICAL,
                {
                    "st_j_avr_mv": round(st_j["aVR"], 3),
                    "depressed_leads_mv": depressed,
                    "thresholds": {"avr_mv": c.AVR_STE_MV, "leads": c.DIFFUSE_STD_LEADS},
                },
            )
        )
    post = [
        n
        for n in ("V1", "V2", "V3")
        if n in ok
        and st_60[n] <= -2 * c.POSTERIOR_STD_MV
        and st_60[n] - st_j[n] <= c.STD_UPSLOPE_MV
    ]
    lateral_chest = [st_60[n] for n in ("V4", "V5", "V6") if n in ok]
    contiguous_post = any(a in post and b in post for a, b in (("V1", "V2"), ("V2", "V3")))
    if (
        contiguous_post
        and not elevated_any
        and min(st_60[n] for n in post) < min(lateral_chest, default=0.0)
    ):
        flags.append(
            Flag(
                "POSTERIOR_PATTERN",
                Severity.CRITICAL,
                {
                    "st_j60_mv": {n: round(st_60[n], 3) for n in post},
                    "note": "ST depression V1-V3: record V7-V9",
                },
            )
        )

    def depressed_flat(n: str) -> bool:
        at_j = st_j[n] <= -c.STD_MV and st_60[n] <= st_j[n] + c.STD_UPSLOPE_MV
        at_60 = st_60[n] <= -c.STD_MV and st_60[n] - st_j[n] <= c.STD_UPSLOPE_MV
        return at_j or at_60

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
                    "st_j_mv": {n: round(st_j[n], 3) for n in leads},
                    "st_j60_mv": {n: round(st_60[n], 3) for n in leads},
                    "threshold_mv": -c.STD_MV,
                    "shape": "horizontal or downsloping",
                },
            )
        )
    return flags
