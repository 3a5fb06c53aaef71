"""Lead names: normalisation of common spellings and the contiguous-lead groups."""

from __future__ import annotations

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS = STANDARD_LEADS[:6]
CHEST_LEADS = STANDARD_LEADS[6:]

_ALIASES = {
    "MLII": "II",
    "ML2": "II",
    "D1": "I",
    "D2": "II",
    "D3": "III",
    "DI": "I",
    "DII": "II",
    "DIII": "III",
    "L1": "I",
    "L2": "II",
    "L3": "III",
    "-AVR": "-aVR",
}


# Exports from monitors and ECG management systems prefix the lead: "ECG II", "Lead V1".
_LEAD_PREFIXES = ("ECG", "LEAD")


def normalise_lead(name: str) -> str:
    """The standard spelling of a lead name ('ii' → 'II', 'AVF' → 'aVF', 'v1' → 'V1',
    'ECG II' → 'II', 'Lead V1' → 'V1'); a name it does not know is returned as given."""
    key = name.strip().upper().replace(" ", "").replace("_", "").replace("-", "")
    key = "-AVR" if name.strip().startswith("-") and key == "AVR" else key
    for prefix in _LEAD_PREFIXES:
        if key.startswith(prefix) and key != prefix:
            rest = normalise_lead(key[len(prefix) :])
            if rest in STANDARD_LEADS:
                return rest
    if key in _ALIASES:
        return _ALIASES[key]
    if key in ("I", "II", "III"):
        return key
    if key in ("AVR", "AVL", "AVF"):
        return "a" + key[1:]
    if key.startswith("V") and key[1:].isdigit():
        return "V" + key[1:]
    return name.strip()


# Signals that bedside monitors and polygraphs store beside the ECG in one record (WFDB
# names as PhysioNet databases use them): they are no ECG lead and are not analysed.
NON_ECG_SIGNALS = frozenset(
    {
        "ABP",
        "ART",
        "BP",
        "CO2",
        "CVP",
        "ETCO2",
        "FLOW",
        "HR",
        "ICP",
        "NBP",
        "PAP",
        "PLETH",
        "PULSE",
        "RESP",
        "SAO2",
        "SPO2",
        "TEMP",
    }
)
# Name stems of the same signals and of monitors' derived trends: "ARTm", "Pulse (SpO2)",
# "ST-II" (the monitor's ST-level trend of lead II, not lead II itself), "NBPsys".
_NON_ECG_PREFIXES = (
    "ABP",
    "ART",
    "CVP",
    "EEG",
    "EMG",
    "EOG",
    "ETCO2",
    "NBP",
    "PAP",
    "PLETH",
    "PULSE",
    "RESP",
    "SPO2",
    "ST-",
)


def is_ecg_lead(name: str) -> bool:
    """False for the known non-ECG signals of a record (PLETH, RESP, ABP, EEG ...)."""
    key = name.strip().upper().replace(" ", "").replace("_", "")
    return key not in NON_ECG_SIGNALS and not key.startswith(_NON_ECG_PREFIXES)


# Anatomically contiguous pairs (Cabrera order for the limb leads), 4th UDMI:
# "new ST elevation at the J point in two contiguous leads".
TERRITORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "STEMI_INFERIOR": (("II", "aVF"), ("aVF", "III"), ("II", "III")),
    "STEMI_ANTERIOR": (("V1", "V2"), ("V2", "V3"), ("V3", "V4")),
    "STEMI_LATERAL": (("aVL", "I"), ("V5", "V6"), ("V4", "V5")),
}
TERRITORY_LEADS: dict[str, tuple[str, ...]] = {
    "STEMI_INFERIOR": ("II", "III", "aVF"),
    "STEMI_ANTERIOR": ("V1", "V2", "V3", "V4"),
    "STEMI_LATERAL": ("I", "aVL", "V5", "V6"),
}
RECIPROCAL_LEADS: dict[str, tuple[str, ...]] = {
    "STEMI_INFERIOR": ("I", "aVL"),
    "STEMI_ANTERIOR": ("II", "III", "aVF"),
    "STEMI_LATERAL": ("II", "III", "aVF"),
}
# Every contiguous pair, for ST depression in two contiguous leads.
CONTIGUOUS_PAIRS: tuple[tuple[str, str], ...] = (
    ("aVL", "I"),
    ("I", "II"),
    ("II", "aVF"),
    ("aVF", "III"),
    ("V1", "V2"),
    ("V2", "V3"),
    ("V3", "V4"),
    ("V4", "V5"),
    ("V5", "V6"),
)
