"""Relative potency: parallel-line, slope-ratio and parallel-curve assays, similarity, suitability and the
combination of independent assays (Ph. Eur. 5.3, USP <1032>/<1034>).

Every model takes its configuration in the constructor and the data in ``fit``, and returns a frozen
result with ``to_dict()``/``from_dict()`` and ``plot(ax=None)``. See docs/potency.md.
"""

from secretome.analysis.potency.combination import (
    AssayEstimate,
    CombinationResult,
    Homogeneity,
    combine_assays,
)
from secretome.analysis.potency.parallel_curve import CurveParameters, ParallelCurveAssay, ParallelCurveResult
from secretome.analysis.potency.parallel_line import ParallelLineAssay, ParallelLineResult
from secretome.analysis.potency.results import (
    AnovaLine,
    ConfidenceInterval,
    PotencyEstimate,
    ValidityTest,
    fieller_interval,
)
from secretome.analysis.potency.similarity import (
    DerivedMargins,
    DifferenceTest,
    EquivalenceCheck,
    EquivalenceMargins,
    SimilarityAssessment,
    margins_from_history,
    tolerance_factor,
)
from secretome.analysis.potency.slope_ratio import SlopeRatioAssay, SlopeRatioResult
from secretome.analysis.potency.suitability import (
    Limit,
    SuitabilityCheck,
    SuitabilityCriteria,
    SuitabilityReport,
    evaluate_suitability,
)

__all__ = [
    "AnovaLine",
    "AssayEstimate",
    "CombinationResult",
    "ConfidenceInterval",
    "CurveParameters",
    "DerivedMargins",
    "DifferenceTest",
    "EquivalenceCheck",
    "EquivalenceMargins",
    "Homogeneity",
    "Limit",
    "ParallelCurveAssay",
    "ParallelCurveResult",
    "ParallelLineAssay",
    "ParallelLineResult",
    "PotencyEstimate",
    "SimilarityAssessment",
    "SlopeRatioAssay",
    "SlopeRatioResult",
    "SuitabilityCheck",
    "SuitabilityCriteria",
    "SuitabilityReport",
    "ValidityTest",
    "combine_assays",
    "evaluate_suitability",
    "fieller_interval",
    "margins_from_history",
    "tolerance_factor",
]
