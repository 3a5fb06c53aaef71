"""Clinical thresholds, each named and cited. Units: mV, ms, beats per minute.

Sources:
- Thygesen K et al. Fourth Universal Definition of Myocardial Infarction (2018).
  Eur Heart J 2019;40:237-269 (4th UDMI), Table "ECG manifestations of acute myocardial
  ischaemia (in absence of LVH and LBBB)".
- Rautaharju PM et al. AHA/ACCF/HRS recommendations for the standardization and
  interpretation of the ECG, part IV (ST segment, T and U waves, QT). Circulation 2009;119:e241.
- Surawicz B et al. Part III (intraventricular conduction disturbances). Circulation 2009;119:e235.
- 2022 China Chest Pain Center accreditation standard: critical rhythms for the green channel.
"""

from __future__ import annotations

# 4th UDMI: new ST elevation at the J point in two contiguous leads.
STE_DEFAULT_MV = 0.10  # >= 1 mm in all leads other than V2-V3
STE_V2V3_MEN_40_PLUS_MV = 0.20  # >= 2 mm in men >= 40 years
STE_V2V3_MEN_UNDER_40_MV = 0.25  # >= 2.5 mm in men < 40 years
STE_V2V3_WOMEN_MV = 0.15  # >= 1.5 mm in women regardless of age
STE_V2V3_UNKNOWN_MV = 0.15  # unknown sex or age: the most sensitive of the above
V2V3 = ("V2", "V3")

# 4th UDMI: new horizontal or downsloping ST depression >= 0.5 mm in two contiguous leads.
STD_MV = 0.05
STD_UPSLOPE_MV = 0.05  # a rise of more than this from J to J+60 ms is "upsloping"
RECIPROCAL_MV = 0.05  # reciprocal depression reported as supporting evidence
# ST elevation in aVR with depression in >= 6 leads: left main / multivessel ischaemia.
AVR_STE_MV = 0.10
DIFFUSE_STD_LEADS = 6
DIFFUSE_STD_MV = 0.10
# Posterior MI: ST depression in V1-V3 (4th UDMI "posterior leads" discussion), >= 0.5 mm.
POSTERIOR_STD_MV = 0.05
# Posterior MI is the mirror image of anterior STEMI: ST depression with an upright T wave
# in V1-V3 (Wagner GS et al. AHA/ACCF/HRS ECG standardization part VI, Circulation
# 2009;119:e262). In RBBB, ST depression with a negative T wave in leads with a terminal
# R' is the expected secondary ST-T change (Surawicz 2009), not posterior ischaemia.
POSTERIOR_T_UPRIGHT_MV = 0.05

# LVH with repolarisation change: the 4th UDMI ST criteria apply "in the absence of LVH".
# Voltage: Sokolow-Lyon S(V1) + max R(V5, V6) >= 3.5 mV (Sokolow M, Lyon TP, Am Heart J
# 1949;37:161); Cornell R(aVL) + S(V3) > 2.8 mV men, > 2.0 mV women (Casale PN et al.,
# Circulation 1987;75:565). In LVH, anterior ST elevation < 25% of the depth of the S wave
# before it is the expected discordant change; >= 25% identifies STEMI (Armstrong EJ et al.,
# Am J Cardiol 2012;110:977).
SOKOLOW_LYON_MV = 3.5
CORNELL_MEN_MV = 2.8
CORNELL_WOMEN_MV = 2.0
LVH_STE_TO_S_RATIO = 0.25
# Acute infarction through LBBB or ventricular pacing: the Sgarbossa criteria that score >= 3
# on their own (Sgarbossa EB et al., N Engl J Med 1996;334:481; for paced rhythms, Sgarbossa
# EB et al., Am J Cardiol 1996;77:423), in any one lead: concordant ST elevation >= 1 mm
# where the QRS is positive (5 points), concordant ST depression >= 1 mm in V1-V3 where it
# is negative (3 points). Discordant elevation (>= 5 mm, 2 points; or >= 25% of the S wave,
# Smith SW et al., Ann Emerg Med 2012;60:766) is not used: the J point of wide complexes
# runs 20-30 ms late against LUDB's paced beats, which puts it on the discordant T upslope.
SGARBOSSA_CONCORDANT_MV = 0.1
# A lead's QRS has a direction when R or S is at least 1.5 times the other (the usual
# "predominantly positive/negative" reading; equiphasic leads have none).
SGARBOSSA_DOMINANCE = 1.5
SGARBOSSA_STD_LEADS = ("V1", "V2", "V3")
LVH_STE_LEADS = ("V1", "V2", "V3")

# A QRS is told from noise when it stands at least this many noise RMS above it in the median
# beat: a complex 5 RMS tall is exceeded by Gaussian noise in fewer than 1 in 10^6 samples,
# and a real ECG under muscle tremor is far above it (a 1 mV QRS over 0.05 mV noise is 20).
MIN_QRS_TO_NOISE = 5.0

WIDE_QRS_MS = 120.0  # complete bundle branch block / ventricular origin (Surawicz 2009)
# A nonspecific intraventricular conduction delay rarely exceeds 140 ms; wider complexes
# without a bundle branch pattern are treated as possibly ventricular (no ST criteria).
IVCD_MAX_QRS_MS = 140.0
# Bundle branch block morphology (Surawicz 2009): the R' of RBBB lies 60-130 ms into the
# QRS; LBBB has no septal q in I, V5, V6 and an R-peak time > 60 ms in V5-V6.
RBBB_LATE_R_MV = 0.15
RBBB_LATE_R_FROM_S = 0.06
RBBB_LATE_R_TO_S = 0.13
# The broad terminal S: the second half of the QRS in I or V6 lies below the baseline by more
# than a quarter of a millimetre on average, clear of the median beat's noise, so that a
# baseline wobble at the end of a narrow-looking S is no S wave.
RBBB_TERMINAL_S_MV = 0.025
SEPTAL_Q_S = 0.03  # the septal q is in the first 30 ms of the QRS
SEPTAL_Q_MV = 0.05  # a q shallower than this counts as absent
LBBB_R_PEAK_TIME_MS = 60.0
QTC_LONG_MS = 500.0  # QTc > 500 ms: torsades risk (Rautaharju 2009)
# Prolonged QTc: >= 450 ms in men, >= 460 ms in women (Rautaharju 2009, part IV); unknown sex
# takes the lower, more sensitive limit.
QTC_PROLONGED_MEN_MS = 450.0
QTC_PROLONGED_WOMEN_MS = 460.0
BAZETT_MAX_BPM = 100.0  # above this Bazett over-corrects; Fridericia is used instead
BRADY_SEVERE_BPM = 40.0
PAUSE_S = 3.0
TACHY_SEVERE_BPM = 150.0
SINUS_BRADY_BPM = 60.0
SINUS_TACHY_BPM = 100.0
VT_MIN_BPM = 100.0  # three or more ventricular beats faster than 100/min
# Wide QRS at or above this rate is presumed VT (Zeppenfeld K et al., 2022 ESC guidelines for
# ventricular arrhythmias, Eur Heart J 2022;43:3997: treat wide-complex tachycardia as VT
# unless SVT is established).
WCT_PRESUMED_VT_BPM = 120.0
VT_RUN_BEATS = 3  # >= 3 consecutive ventricular beats > 100/min: (non-sustained) VT (ESC 2022)
VT_RUN_MAX_QRS_MS = 240.0  # a "QRS" wider than this in a 300 ms window is artefact
PR_LONG_MS = 200.0  # first-degree AV block
LOW_VOLTAGE_LIMB_MV = 0.5  # all limb leads QRS < 0.5 mV
LOW_VOLTAGE_CHEST_MV = 1.0  # all chest leads QRS < 1.0 mV
# No human QRS reaches 10 mV (100 mm) peak to peak in one lead: the largest voltages of
# hypertrophic hearts are 5-7 mV (an S in V1 plus an R in V5 of 7-8 mV is extreme LVH).
# Above it the recorder's gain is wrong, and no millivolt criterion is read.
QRS_IMPLAUSIBLE_MV = 10.0

# Rhythm features (set from physiology, not from the validation records).
AF_IRREGULARITY = 0.10  # normalised RMSSD of RR; sinus rhythm is typically < 0.06
# Median |ΔRR| / median RR (rhythm.rr_irregularity_robust): AF spreads the ΔRR distribution
# (Tateno K, Glass L. Med Biol Eng Comput 2001;39:664), so most successive differences exceed
# ~50 ms at 75/min (the pNN50 limit); sinus rhythm with isolated ectopics keeps most below.
AF_DRR_MEDIAN = 0.06
# A beat more than 20% earlier than the median RR is premature (the usual Holter definition of
# a supraventricular premature beat); its P wave is not the sinus P wave.
PREMATURE_FRACTION = 0.8
# PACs judged as a group of their own (arrhythmia._grouped_p_coherence) need this many beats
# in each group: random atrial activity scores about 1/beats on the P-wave coherence.
P_GROUP_MIN_BEATS = 5
# RR next to ectopic beats is left out of the AF irregularity only when ectopics are isolated
# (at least 70% of beats dominant); otherwise the "ectopics" are the rhythm itself.
DOMINANT_SHARE_FOR_ECTOPIC_REMOVAL = 0.7
# P waves conducted at a fixed PR (rhythm.p_wave_coherence): at least half the pre-QRS energy
# repeats beat to beat; independent fibrillatory waves give about 1/beats.
P_COHERENCE_MIN = 0.5
FLUTTER_HZ = (3.8, 6.5)  # atrial rate 230-390/min
FLUTTER_CONCENTRATION = 0.5
FLUTTER_AMPLITUDE_MV = 0.04
# Flutter with fixed conduction (rhythm.flutter_periodicity): a second difference over 40 ms
# of the signal with each QRS core bridged by a line (peak gain at 12.5 Hz, ~5.5x more gain
# at the 5 Hz F wave than at the 2 Hz T wave, and 3.5x more F-wave fundamental than over
# 20 ms: the sawtooth's ramp contributes, not only its corners),
# lags within 15% of a multiple of the RR are not used (every rhythm repeats there), and the
# autocorrelation must exceed 0.55 at the F period and its multiples, in two of II, III,
# aVF, V1 (the leads where F waves are seen, Cosio FG, Arrhythm Electrophysiol Rev 2017;6:55).
FLUTTER_DIFF_S = 0.04
FLUTTER_RR_MULTIPLE_TOLERANCE = 0.15
# "F waves" three to an RR interval in a regular rhythm are read as sinus P and T waves
# (arrhythmia.flutter_rate_hz). The band is wider than the multiple tolerance above: the
# autocorrelation peak is found at a lag quantised to 4 ms and the P-T spacing of sinus
# tachycardia only approximates a third of the cycle (2.84 at 135/min in the simulator).
FLUTTER_THIRD_TOLERANCE = 0.2
FLUTTER_PERIODICITY = 0.55
FLUTTER_LEADS = ("II", "III", "aVF", "V1")
FLUTTER_RATE_AGREEMENT_HZ = 0.2  # 12/min: one circuit, one rate in every lead
VF_SPECTRAL_FRACTION = 0.6
VF_MIN_AMPLITUDE_MV = 0.15
# "RR" irregularity of QRS detections on fibrillation waves. With its 250 ms refractory
# period (beats.REFRACTORY_S) the detector takes every first or second wave of a 4-6 Hz
# fibrillation (cycle T of 170-250 ms): RR alternating at random between T and 2T has mean
# 1.5 T and RMSSD T / sqrt(2), a normalised RMSSD of about 0.47. Half of it still lies well
# above a monomorphic VT's (regular, below AF_IRREGULARITY); the spectral test comes first.
VF_RR_CHAOS = 0.25
# Conducted, not fibrillating: at least 90% of the detected complexes narrow
# (rhythm.all_narrow). A short wide run may sit among them (one in ten); the detections on
# VF waves that start in the strip's second half are more than that.
NARROW_SHARE = 0.9
ASYSTOLE_MAX_MV = 0.3
AVB3_P_TO_QRS_RATIO = 1.3
AVB3_MAX_VENTRICULAR_BPM = 60.0
# Beside a pacemaker that holds the ventricles at its lower rate, P waves that do not
# conduct at a rate over 10% faster show the block it treats (reported with PACED).
AVB3_P_TO_QRS_RATIO_PACED = 1.1
# A paced rhythm: a pacing stimulus before at least half of the beats (fusion and own beats
# make up the rest in demand pacing).
PACED_BEAT_SHARE = 0.5


def ste_threshold_mv(lead: str, *, sex: str | None, age: float | None) -> float:
    """The 4th UDMI ST-elevation threshold at J for ``lead``, given sex ('M'/'F') and age."""
    if lead not in V2V3:
        return STE_DEFAULT_MV
    if sex == "F":
        return STE_V2V3_WOMEN_MV
    if sex == "M" and age is not None:
        return STE_V2V3_MEN_40_PLUS_MV if age >= 40 else STE_V2V3_MEN_UNDER_40_MV
    return STE_V2V3_UNKNOWN_MV


def qtc_prolonged_ms(sex: str | None) -> float:
    """The QTc above which the QT is called prolonged, for sex 'M', 'F' or unknown."""
    return QTC_PROLONGED_WOMEN_MS if sex == "F" else QTC_PROLONGED_MEN_MS
