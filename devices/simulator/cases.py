"""Simulated township cases: a scenario, a made-up patient and the times a cart reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from devices.simulator import simulate, write_record

# Share of each scenario among simulated township ECGs; acute ones are over-represented
# so a demo visitor sees the green channel open within a minute.
CASE_MIX: dict[str, float] = {
    "normal": 0.32,
    "sinus_brady": 0.05,
    "sinus_tachy": 0.07,
    "af": 0.08,
    "avb1": 0.04,
    "rbbb": 0.03,
    "lbbb": 0.03,
    "long_qt": 0.02,
    "diffuse_st_depression": 0.04,
    "noisy": 0.03,
    "lead_off": 0.02,
    "arm_leads_swapped": 0.02,
    "inferior_stemi": 0.08,
    "anterior_stemi": 0.07,
    "lateral_stemi": 0.04,
    "vt": 0.02,
    "avb3": 0.02,
    "paced": 0.01,
    "flutter": 0.02,
}
PRELIMINARY = {
    "inferior_stemi": "胸痛 1 小时，II、III、aVF 导联 ST 段抬高？",
    "anterior_stemi": "胸闷胸痛，V1–V4 ST 段抬高？",
    "lateral_stemi": "胸痛，I、aVL、V5–V6 ST 抬高？",
    "af": "心律绝对不齐",
    "vt": "宽 QRS 心动过速",
    "avb3": "心率慢，头晕",
}
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马胡朱郭何罗高林"


@dataclass(frozen=True)
class Case:
    scenario: str
    seed: int
    metadata: dict[str, Any]


def make_case(
    rng: np.random.Generator, *, now: datetime, scenario: str | None = None, number: int = 0
) -> Case:
    """A made-up case (clearly marked 演示) with plausible first-contact and onset times."""
    names = list(CASE_MIX)
    probs = np.array([CASE_MIX[n] for n in names])
    chosen = scenario or str(rng.choice(names, p=probs / probs.sum()))
    sex = "M" if rng.random() < 0.6 else "F"
    age = int(rng.integers(38, 86))
    fmc = now - timedelta(minutes=float(rng.uniform(3, 15)))
    acute = chosen in ("inferior_stemi", "anterior_stemi", "lateral_stemi", "vt", "avb3")
    onset = fmc - timedelta(minutes=float(rng.uniform(20, 240)))
    metadata: dict[str, Any] = {
        "patient": {
            "name": f"演示患者{SURNAMES[int(rng.integers(len(SURNAMES)))]}{number:03d}",
            "sex": sex,
            "birth_date": date(
                now.year - age, int(rng.integers(1, 13)), int(rng.integers(1, 29))
            ).isoformat(),
        },
        "acquired_at": (now - timedelta(seconds=float(rng.uniform(20, 90)))).isoformat(),
        "first_medical_contact_at": fmc.isoformat(),
        "symptom_onset_at": onset.isoformat() if acute or rng.random() < 0.5 else None,
        "chest_pain": bool(acute or rng.random() < 0.3),
        "preliminary_read": PRELIMINARY.get(chosen),
    }
    return Case(scenario=chosen, seed=int(rng.integers(1, 2**31 - 1)), metadata=metadata)


def write_case(case: Case, folder: Path, record_name: str) -> list[Path]:
    """Write the record as a cart exports it: sidecar metadata first, the .hea last."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{record_name}.json").write_text(
        json.dumps(case.metadata, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return write_record(simulate(case.scenario, seed=case.seed), folder, record_name)
