"""Rhythm and morphology of each scenario, and the ground truth it carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from devices.simulator import morphology as m

QTC_NORMAL_S = 0.410


@dataclass
class Plan:
    """What to render: QRS onsets with shapes, P-wave centres, extra atrial activity."""

    rhythm: str
    qrs_onsets_s: list[float] = field(default_factory=list)
    shapes: list[m.BeatShape] = field(default_factory=list)
    p_centres_s: list[float] = field(default_factory=list)
    ectopic_p_centres_s: list[float] = field(default_factory=list)  # low atrial P' waves
    atrial: Callable[[np.ndarray], np.ndarray] | None = None  # (t) -> (n, 8) mV
    stimuli_s: list[float] = field(default_factory=list)  # pacing stimuli
    flat_leads: tuple[str, ...] = ()
    arm_electrodes_swapped: bool = False  # LA and RA cables exchanged at the cart
    noise_factor: float = 1.0
    pr_ms: float | None = None
    qt_ms: float | None = None
    expected_flags: tuple[str, ...] = ()
    st_j_mv: tuple[float, ...] = (0.0,) * 8


def _sinus_onsets(rng: np.random.Generator, hr: float, duration: float) -> list[float]:
    rr = 60.0 / hr
    onsets, t, i = [], rng.uniform(0.15, 0.15 + rr), 0
    while t < duration - 0.5:
        onsets.append(t)
        # Respiratory sinus arrhythmia plus a little jitter.
        t += rr * (1 + 0.03 * np.sin(2 * np.pi * i / 4.5) + 0.01 * rng.standard_normal())
        i += 1
    return onsets


def _qt_s(hr: float, qtc_s: float = QTC_NORMAL_S) -> float:
    return qtc_s * np.sqrt(60.0 / hr)  # Bazett, so QTc stays at qtc_s


def _sinus(
    rng: np.random.Generator,
    duration: float,
    hr: float,
    *,
    pr_s: float = 0.16,
    shape: m.BeatShape | None = None,
    rhythm: str = "sinus",
    qtc_s: float = QTC_NORMAL_S,
    flags: tuple[str, ...] = (),
    st: tuple[float, ...] = (0.0,) * 8,
) -> Plan:
    qt = _qt_s(hr, qtc_s)
    beat = shape or m.normal_shape(qt_s=qt, st_j_mv=st)
    onsets = _sinus_onsets(rng, hr, duration)
    return Plan(
        rhythm=rhythm,
        qrs_onsets_s=onsets,
        shapes=[beat] * len(onsets),
        p_centres_s=[o - pr_s + 0.05 for o in onsets],
        pr_ms=pr_s * 1000,
        qt_ms=qt * 1000,
        expected_flags=flags,
        st_j_mv=beat.st_j_mv,
    )


# ST shifts at J (mV) for I, II, V1..V6; III/aVR/aVL/aVF follow from I and II.
ST_INFERIOR = (-0.10, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # III +0.35, aVF +0.30, aVL -0.23
ST_ANTERIOR = (0.05, -0.05, 0.20, 0.35, 0.35, 0.25, 0.08, 0.0)
ST_LATERAL = (0.20, -0.05, 0.0, 0.0, 0.0, 0.05, 0.20, 0.20)  # aVL +0.23, III -0.25
ST_LBBB_LATERAL_INFARCT = (0.25, 0.0, 0.0, 0.0, 0.0, 0.05, 0.25, 0.25)  # on top of LBBB's own
# LVH with repolarisation change ("strain"): ST elevation in V1-V3 discordant to the deep S
# waves (< 25% of the S depth) with lateral ST depression and inverted T; not an infarct.
ST_LVH_STRAIN = (-0.06, -0.03, 0.15, 0.30, 0.28, 0.0, -0.10, -0.10)
T_LVH_STRAIN = (-0.20, -0.10, 0.40, 0.60, 0.50, 0.10, -0.35, -0.35)
# Anterior STEMI on LVH voltage: V2-V3 elevation >= 25% of the S depth and V4 involved.
ST_ANTERIOR_LVH = (0.05, -0.05, 0.35, 0.80, 0.75, 0.40, 0.05, 0.0)
T_ANTERIOR_LVH = (0.20, 0.20, 0.30, 0.70, 0.70, 0.60, 0.30, 0.25)
ST_DIFFUSE_DEPRESSION = (-0.10, -0.15, 0.0, 0.0, -0.12, -0.15, -0.15, -0.12)  # aVR +0.13


def build(scenario: str, rng: np.random.Generator, duration: float, hr: float | None) -> Plan:
    if scenario == "normal":
        return _sinus(rng, duration, hr or rng.uniform(62, 85))
    if scenario == "sinus_brady":
        return _sinus(
            rng, duration, hr or rng.uniform(46, 54), rhythm="sinus_brady", flags=("SINUS_BRADY",)
        )
    if scenario == "sinus_tachy":
        return _sinus(
            rng,
            duration,
            hr or rng.uniform(110, 128),
            rhythm="sinus_tachy",
            pr_s=0.14,
            flags=("SINUS_TACHY",),
        )
    if scenario == "inferior_stemi":
        return _sinus(
            rng, duration, hr or rng.uniform(60, 90), st=ST_INFERIOR, flags=("STEMI_INFERIOR",)
        )
    if scenario == "anterior_stemi":
        return _sinus(
            rng, duration, hr or rng.uniform(65, 95), st=ST_ANTERIOR, flags=("STEMI_ANTERIOR",)
        )
    if scenario == "lateral_stemi":
        return _sinus(
            rng, duration, hr or rng.uniform(65, 95), st=ST_LATERAL, flags=("STEMI_LATERAL",)
        )
    if scenario in ("lvh_strain", "anterior_stemi_lvh"):
        rate = hr or rng.uniform(62, 85)
        strain = scenario == "lvh_strain"
        shape = m.lvh_shape(
            qt_s=_qt_s(rate),
            st_j_mv=ST_LVH_STRAIN if strain else ST_ANTERIOR_LVH,
            t_amplitude=T_LVH_STRAIN if strain else T_ANTERIOR_LVH,
        )
        flag = "STE_PROBABLE_LVH" if strain else "STEMI_ANTERIOR"
        return _sinus(rng, duration, rate, shape=shape, flags=(flag,))
    if scenario == "diffuse_st_depression":
        return _sinus(
            rng,
            duration,
            hr or rng.uniform(62, 85),
            st=ST_DIFFUSE_DEPRESSION,
            flags=("ST_DEPRESSION",),
        )
    if scenario == "long_qt":
        return _sinus(
            rng,
            duration,
            hr or rng.uniform(62, 72),
            qtc_s=0.560,
            rhythm="sinus",
            flags=("QTC_LONG",),
        )
    if scenario == "avb1":
        return _sinus(rng, duration, hr or rng.uniform(60, 80), pr_s=0.28, flags=("AVB1",))
    if scenario == "lbbb":
        rate = hr or rng.uniform(65, 85)
        return _sinus(
            rng, duration, rate, shape=m.lbbb_shape(qt_s=_qt_s(rate, 0.44)), flags=("LBBB",)
        )
    if scenario == "lbbb_lateral_stemi":
        # Concordant ST elevation in I, aVL, V5, V6, where the LBBB's QRS is positive.
        rate = hr or rng.uniform(65, 85)
        shape = m.lbbb_shape(qt_s=_qt_s(rate, 0.44), infarct_st_mv=ST_LBBB_LATERAL_INFARCT)
        return _sinus(rng, duration, rate, shape=shape, flags=("LBBB", "STEMI_SGARBOSSA"))
    if scenario == "rbbb":
        rate = hr or rng.uniform(65, 85)
        return _sinus(
            rng, duration, rate, shape=m.rbbb_shape(qt_s=_qt_s(rate, 0.43)), flags=("RBBB",)
        )
    if scenario == "lead_off":
        plan = _sinus(rng, duration, hr or rng.uniform(62, 85), flags=("POOR_QUALITY",))
        plan.flat_leads = ("V3",)
        return plan
    if scenario == "arm_leads_swapped":
        # The commonest cable mistake: a normal ECG recorded with LA and RA exchanged.
        plan = _sinus(rng, duration, hr or rng.uniform(62, 85), flags=("POOR_QUALITY",))
        plan.arm_electrodes_swapped = True
        return plan
    if scenario == "noisy":
        plan = _sinus(rng, duration, hr or rng.uniform(62, 85))
        plan.noise_factor = 5.0
        return plan
    if scenario == "af":
        return _af(rng, duration, hr or rng.uniform(85, 125))
    if scenario == "flutter":
        return _flutter(rng, duration)
    if scenario == "flutter_2to1":
        return _flutter(rng, duration, fixed_ratio=2)
    if scenario == "flutter_4to1":
        return _flutter(rng, duration, fixed_ratio=4)
    if scenario == "sinus_pacs":
        return _sinus_pacs(rng, duration, hr or rng.uniform(65, 85))
    if scenario == "atrial_bigeminy":
        return _sinus_pacs(rng, duration, hr or rng.uniform(70, 90), bigeminy=True)
    if scenario == "vt":
        return _vt(rng, duration, hr or rng.uniform(160, 200))
    if scenario == "vf":
        return _vf(rng)
    if scenario == "asystole":
        return Plan(rhythm="asystole", expected_flags=("VF_ASYSTOLE",))
    if scenario == "avb3":
        return _avb3(rng, duration)
    if scenario == "paced":
        return _paced(rng, duration)
    raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")


def _af(rng: np.random.Generator, duration: float, hr: float) -> Plan:
    rr_mean = 60.0 / hr
    onsets, t = [], rng.uniform(0.1, 0.6)
    while t < duration - 0.4:
        onsets.append(t)
        t += float(np.clip(rr_mean * np.exp(rng.normal(0, 0.22)), 0.33, 1.8))
    qt = _qt_s(hr)
    freqs = rng.uniform(5.0, 7.5, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    amps = np.array([0.02, 0.05, 0.08, 0.04, 0.03, 0.02, 0.02, 0.02])

    def fwaves(t_s: np.ndarray) -> np.ndarray:
        wave = sum(np.sin(2 * np.pi * f * t_s + p) for f, p in zip(freqs, phases, strict=True))
        return (wave / 3.0)[:, None] * amps[None, :]

    beat = m.normal_shape(qt_s=qt)
    return Plan(
        rhythm="af",
        qrs_onsets_s=onsets,
        shapes=[beat] * len(onsets),
        atrial=fwaves,
        qt_ms=qt * 1000,
        expected_flags=("AF",),
    )


def _flutter(rng: np.random.Generator, duration: float, fixed_ratio: int | None = None) -> Plan:
    """Typical flutter, F waves ~270-320/min, with variable 2:1-4:1 or fixed conduction.

    Fixed 2:1 uses F waves at 264-294/min so the ventricles run at 132-147/min (below the
    150/min TACHY_SEVERE line, so the expected flags stay AFL alone); fixed 4:1 at 282-318/min
    gives a regular 70-80/min that looks like sinus rhythm on the RR alone.
    """
    f_rate = rng.uniform(4.4, 4.9) if fixed_ratio == 2 else rng.uniform(4.7, 5.3)
    period = 1.0 / f_rate
    onsets, t = [], rng.uniform(0.1, 0.4)
    while t < duration - 0.4:
        onsets.append(float(t))
        ratio = fixed_ratio or int(rng.choice([2, 3, 4], p=[0.5, 0.2, 0.3]))
        t += period * ratio
    hr = 60.0 / float(np.mean(np.diff(onsets)))
    qt = _qt_s(hr)
    amps = np.array([0.03, 0.15, 0.10, 0.05, 0.03, 0.02, 0.02, 0.02])
    phase0 = rng.uniform(0, 1)

    def sawtooth(t_s: np.ndarray) -> np.ndarray:
        phase = (t_s * f_rate + phase0) % 1.0
        wave = np.where(phase < 0.8, -phase / 0.8, (phase - 1.0) / 0.2) + 0.5
        return wave[:, None] * amps[None, :]

    beat = m.normal_shape(qt_s=qt)
    return Plan(
        rhythm="flutter_variable" if fixed_ratio is None else f"flutter_{fixed_ratio}to1",
        qrs_onsets_s=onsets,
        shapes=[beat] * len(onsets),
        atrial=sawtooth,
        qt_ms=qt * 1000,
        expected_flags=("AFL",),
    )


def _sinus_pacs(
    rng: np.random.Generator, duration: float, hr: float, *, bigeminy: bool = False
) -> Plan:
    """Sinus rhythm with frequent premature atrial contractions: the classic AF mimic.

    Every third to fifth beat is a PAC coupled at 60-75% of the sinus RR, with its own
    (earlier, shorter-PR) P wave; the sinus node is reset, so the next sinus beat follows
    one sinus RR later (a non-compensatory pause). Ground truth: sinus rhythm, no AF.

    ``bigeminy``: every second beat is a PAC, coupled at 55-70%, from a low atrial focus
    (P' negative in the inferior leads, PR 130 ms), the next sinus beat a little over one
    sinus RR later: short-long RR pairs and two P shapes, half the beats each, so a test
    that asks for one P wave at one PR before most beats fails. Ground truth: sinus rhythm
    with atrial bigeminy, no AF.
    """
    rr = 60.0 / hr
    qt = _qt_s(hr)
    onsets: list[float] = []
    p_centres: list[float] = []
    ectopic_p: list[float] = []
    t = rng.uniform(0.3, 0.3 + rr)
    next_pac = 1 if bigeminy else int(rng.integers(2, 5))
    while t < duration - 0.5:
        onsets.append(t)
        p_centres.append(t - 0.16 + 0.05)
        next_pac -= 1
        if next_pac == 0:
            pac = t + rr * rng.uniform(*((0.55, 0.70) if bigeminy else (0.60, 0.75)))
            if pac >= duration - 0.5:
                break
            onsets.append(pac)
            if bigeminy:
                ectopic_p.append(pac - 0.13 + 0.05)
                t = pac + rr * (1.05 + 0.02 * rng.standard_normal())
                next_pac = 1
            else:
                p_centres.append(pac - 0.12 + 0.05)
                t = pac + rr * (1 + 0.02 * rng.standard_normal())
                next_pac = int(rng.integers(3, 6))
        else:
            t += rr * (1 + 0.01 * rng.standard_normal())
    beat = m.normal_shape(qt_s=qt)
    return Plan(
        rhythm="atrial_bigeminy" if bigeminy else "sinus_pacs",
        qrs_onsets_s=onsets,
        shapes=[beat] * len(onsets),
        p_centres_s=p_centres,
        ectopic_p_centres_s=ectopic_p,
        pr_ms=160.0,
        qt_ms=qt * 1000,
        expected_flags=(),
    )


def _vt(rng: np.random.Generator, duration: float, hr: float) -> Plan:
    rr = 60.0 / hr
    onsets = list(np.arange(rng.uniform(0.05, 0.3), duration - 0.35, rr))
    flags = ("VT", "TACHY_SEVERE") if hr > 150 else ("VT",)
    return Plan(
        rhythm="vt",
        qrs_onsets_s=[float(o) for o in onsets],
        shapes=[m.vt_shape()] * len(onsets),
        expected_flags=flags,
    )


def _vf(rng: np.random.Generator) -> Plan:
    freqs = rng.uniform(4.0, 6.0, 4)
    phases = rng.uniform(0, 2 * np.pi, (4, 8))
    mod_f = rng.uniform(0.2, 0.5)

    def chaos(t_s: np.ndarray) -> np.ndarray:
        env = 0.35 * (1.0 + 0.5 * np.sin(2 * np.pi * mod_f * t_s))[:, None]
        wave = sum(
            np.sin(2 * np.pi * f * t_s[:, None] + phases[i][None, :]) for i, f in enumerate(freqs)
        )
        return env * wave / 2.0

    return Plan(rhythm="vf", atrial=chaos, expected_flags=("VF_ASYSTOLE",))


def _avb3(rng: np.random.Generator, duration: float) -> Plan:
    atrial_rate = rng.uniform(72, 85)
    escape_rate = rng.uniform(34, 39)
    p_centres = list(np.arange(rng.uniform(0.05, 0.6), duration, 60.0 / atrial_rate))
    onsets = list(np.arange(rng.uniform(0.2, 1.0), duration - 0.5, 60.0 / escape_rate))
    qt = _qt_s(escape_rate, 0.44)
    beat = m.normal_shape(qt_s=min(qt, 0.55))
    return Plan(
        rhythm="avb3",
        qrs_onsets_s=[float(o) for o in onsets],
        shapes=[beat] * len(onsets),
        p_centres_s=[float(p) for p in p_centres],
        qt_ms=min(qt, 0.55) * 1000,
        expected_flags=("AVB3", "BRADY_SEVERE"),
    )


def _paced(rng: np.random.Generator, duration: float) -> Plan:
    """Complete heart block with a VVI pacemaker at 60/min: every QRS is paced, starting at
    its stimulus, while the sinus P waves march through at their own rate."""
    atrial_rate = rng.uniform(72, 85)
    p_centres = list(np.arange(rng.uniform(0.05, 0.6), duration, 60.0 / atrial_rate))
    stimuli = [float(s) for s in np.arange(rng.uniform(0.2, 1.0), duration - 0.5, 1.0)]
    qt = _qt_s(60.0, 0.46)
    beat = m.paced_shape(qt_s=qt)
    return Plan(
        rhythm="paced",
        qrs_onsets_s=[s + 0.002 for s in stimuli],
        shapes=[beat] * len(stimuli),
        p_centres_s=[float(p) for p in p_centres],
        stimuli_s=stimuli,
        qt_ms=qt * 1000,
        expected_flags=("PACED",),
    )


SCENARIOS: tuple[str, ...] = (
    "normal",
    "sinus_brady",
    "sinus_tachy",
    "af",
    "flutter",
    "flutter_2to1",
    "flutter_4to1",
    "sinus_pacs",
    "atrial_bigeminy",
    "vt",
    "vf",
    "asystole",
    "inferior_stemi",
    "anterior_stemi",
    "lateral_stemi",
    "diffuse_st_depression",
    "lvh_strain",
    "anterior_stemi_lvh",
    "lbbb",
    "lbbb_lateral_stemi",
    "rbbb",
    "long_qt",
    "avb1",
    "avb3",
    "paced",
    "lead_off",
    "arm_leads_swapped",
    "noisy",
)
