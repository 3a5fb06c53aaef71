"""ECG analysis: pure numpy/scipy functions, no I/O.

`analyze()` measures one ECG and returns flags with severity and evidence; each flag
has a stable code and every result carries the algorithm version, so a
cardiologist's confirmation or rejection can be tied to the exact flag that raised it.
"""

from ecg_relay.analysis.pipeline import analyze
from ecg_relay.analysis.result import ALGORITHM_VERSION, AnalysisResult, Flag, Severity

__all__ = ["ALGORITHM_VERSION", "AnalysisResult", "Flag", "Severity", "analyze"]
