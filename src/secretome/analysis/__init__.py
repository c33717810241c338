"""Pure analysis core: numpy, scipy and lmfit only; no Django, no files, no clock.

Data and time come in as arguments; results go out as frozen, serialisable objects.

Dose-response: :class:`CurveFitter` fits one standard curve (4PL, 5PL, linear, log-linear) and returns a
:class:`CurveFit`; :func:`fit_curves` fits many curves at once. Model functions live in
:mod:`secretome.analysis.logistic`.
"""

from secretome.analysis.batch import BatchFit, fit_curves
from secretome.analysis.doseresponse import (
    BackCalculation,
    CurveFit,
    CurveFitter,
    QuantitationRules,
    fit_curve,
)
from secretome.analysis.logistic import ASYMMETRY_BOUNDS, HILL_BOUNDS, ec50_5pl, five_pl, four_pl

__all__ = [
    "ASYMMETRY_BOUNDS",
    "HILL_BOUNDS",
    "BackCalculation",
    "BatchFit",
    "CurveFit",
    "CurveFitter",
    "QuantitationRules",
    "ec50_5pl",
    "fit_curve",
    "fit_curves",
    "five_pl",
    "four_pl",
]
