"""Relative potency: parallel-line, slope-ratio and parallel-curve assays, similarity, suitability and the
combination of independent assays (Ph. Eur. 5.3, USP <1032>/<1034>)."""

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

__all__ = [
    "AnovaLine",
    "ConfidenceInterval",
    "DerivedMargins",
    "DifferenceTest",
    "EquivalenceCheck",
    "EquivalenceMargins",
    "ParallelLineAssay",
    "ParallelLineResult",
    "PotencyEstimate",
    "SimilarityAssessment",
    "ValidityTest",
    "fieller_interval",
    "margins_from_history",
    "tolerance_factor",
]
