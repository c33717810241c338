"""Batch-to-batch variability: control charts and run rules, capability, tolerance intervals,
secretome-fingerprint comparability and comparisons by factor. Pure: numpy and scipy only.

The conventions are part of the contract of ``secretome trend``; see ``docs/trending.md``.
"""

from secretome.analysis.trending.capability import Capability, CapabilityResult, IndexEstimate
from secretome.analysis.trending.charts import (
    D2,
    D4,
    ControlChart,
    IMRChart,
    LeveyJennings,
    LimitSegment,
    SegmentedChart,
    imr_limits,
    segmented_chart,
)
from secretome.analysis.trending.comparison import (
    DonorMixedModel,
    MixedModelResult,
    OneWayComparison,
    OneWayResult,
)
from secretome.analysis.trending.fingerprint import ComparabilityResult, HotellingT2
from secretome.analysis.trending.rules import all_flags, nelson_flags, western_electric_flags
from secretome.analysis.trending.tolerance import (
    ToleranceInterval,
    ToleranceResult,
    nonparametric_ranks,
    tolerance_factor,
)

__all__ = [
    "D2",
    "D4",
    "Capability",
    "CapabilityResult",
    "ComparabilityResult",
    "ControlChart",
    "DonorMixedModel",
    "HotellingT2",
    "IMRChart",
    "IndexEstimate",
    "LeveyJennings",
    "LimitSegment",
    "MixedModelResult",
    "OneWayComparison",
    "OneWayResult",
    "SegmentedChart",
    "ToleranceInterval",
    "ToleranceResult",
    "all_flags",
    "imr_limits",
    "nelson_flags",
    "nonparametric_ranks",
    "segmented_chart",
    "tolerance_factor",
    "western_electric_flags",
]
