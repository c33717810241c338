"""Parallel-curve assays with the 4PL and 5PL (Ph. Eur. 5.3 section 3.4, USP <1034>).

Two fits of all preparations, with the model functions and analytic derivatives of
:mod:`secretome.analysis.logistic` (see :mod:`secretome.analysis.potency._curve_fits` for how they are
solved: both at once with MINPACK from a start built from the data, and the engine's multi-start grid and
bounded Levenberg-Marquardt whenever that solution looks doubtful):

* **constrained**: shared bottom, top, hill (and asymmetry for the 5PL), one inflection per preparation,
  one residual variance;
* **unconstrained**: every preparation its own curve (its sum of squares never exceeds the constrained
  one: the thorough path restarts it from the constrained solution when it would).

The relative potency of test T is ``RP = inflection(reference) / inflection(T)`` from the constrained fit
(the horizontal shift of parallel curves; for the 5PL the EC50s shift by the same factor), with Fieller
limits on the ratio and log-scale delta-method limits. One extra-sum-of-squares F-test (and a likelihood
ratio test) compares the two fits over all preparations; equivalence intervals of hill ratio, asymptote
differences and span ratio come from the unconstrained fits with the pooled residual variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from secretome.analysis import logistic
from secretome.analysis.models import get_model
from secretome.analysis.potency._curve_fits import Curve, JointFit, fit_assay, fit_joint
from secretome.analysis.potency._data import AssayData, arrange
from secretome.analysis.potency._distributions import f_upper_tail, t_quantile
from secretome.analysis.potency.results import (
    ConfidenceInterval,
    PotencyEstimate,
    Serialisable,
    fieller_interval,
    find_named,
)
from secretome.analysis.potency.similarity import (
    DifferenceTest,
    EquivalenceCheck,
    EquivalenceMargins,
    SimilarityAssessment,
    SimilarityMethod,
    assess,
    difference_check,
    f_test,
    likelihood_ratio_test,
    ratio_check,
)
from secretome.analysis.potency.suitability import (
    SuitabilityCriteria,
    SuitabilityReport,
    evaluate_suitability,
)

FloatArray = NDArray[np.float64]
CURVE_MODELS = ("4pl", "5pl")


# The defaults are frozen, so every assay can share one instance instead of validating a new one.
_DEFAULT_MARGINS = EquivalenceMargins()
_DEFAULT_SUITABILITY = SuitabilityCriteria()


def _exp(value: float) -> float:
    """``e^value``, infinite instead of an overflow error (a limit of an unusable fit's interval)."""
    return math.exp(value) if value < 709.0 else math.inf


@dataclass(frozen=True)
class CurveParameters(Serialisable):
    """One preparation's curve: parameters (natural scale) and standard errors by name."""

    preparation: str
    parameters: dict[str, float]
    standard_errors: dict[str, float]


@dataclass(frozen=True)
class ParallelCurveResult(Serialisable):
    """Joint constrained and unconstrained fits of a parallel-curve assay, with potency, similarity and
    suitability of every test preparation."""

    model: str
    reference: str
    tests: tuple[str, ...]
    n: int
    constrained: tuple[CurveParameters, ...]
    unconstrained: tuple[CurveParameters, ...]
    rss_constrained: float
    df_constrained: int
    rss_unconstrained: float
    df_unconstrained: int
    parallelism: tuple[DifferenceTest, ...]
    potencies: tuple[PotencyEstimate, ...]
    similarity: tuple[SimilarityAssessment, ...]
    suitability: SuitabilityReport
    converged: bool
    ci_level: float
    alpha: float
    dose: tuple[float, ...]
    response: tuple[float, ...]
    observation_preparation: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """Suitability is not 'invalid' (similarity of every test preparation is one of its criteria)."""
        return self.converged and self.suitability.status != "invalid"

    def potency(self, preparation: str) -> PotencyEstimate:
        """The potency estimate of one test preparation."""
        return find_named(self.potencies, "preparation", preparation)

    def curve(self, preparation: str, *, constrained: bool = True) -> CurveParameters:
        """Fitted parameters of one preparation."""
        return find_named(self.constrained if constrained else self.unconstrained, "preparation", preparation)

    def predict(self, preparation: str, dose: ArrayLike, *, constrained: bool = True) -> FloatArray:
        """Fitted response of one preparation at ``dose``."""
        p = self.curve(preparation, constrained=constrained).parameters
        return logistic.five_pl(dose, p["bottom"], p["top"], p["inflection"], p["hill"], p["asymmetry"])

    def plot(self, ax: Any = None) -> Any:
        """Observations of every preparation with the constrained (parallel) curves, log dose axis."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        dose = np.asarray(self.dose)
        response = np.asarray(self.response)
        labels = np.asarray(self.observation_preparation)
        grid = np.geomspace(dose[dose > 0].min(), dose.max(), 200)
        for name in (self.reference, *self.tests):
            mask = labels == name
            points = ax.scatter(dose[mask], response[mask], s=14, label=name)
            ax.plot(grid, self.predict(name, grid), color=points.get_facecolor()[0])
        ax.set_xscale("log")
        ax.set_xlabel("dose")
        ax.set_ylabel("response")
        ax.set_title(f"Parallel-curve assay ({self.model.upper()}, constrained fit)")
        ax.legend()
        return ax

    def plot_residuals(self, ax: Any = None) -> Any:
        """Residuals of the constrained fit against dose."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        dose = np.asarray(self.dose)
        response = np.asarray(self.response)
        labels = np.asarray(self.observation_preparation)
        for name in (self.reference, *self.tests):
            mask = labels == name
            ax.scatter(dose[mask], response[mask] - self.predict(name, dose[mask]), s=14, label=name)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("dose")
        ax.set_ylabel("residual (constrained fit)")
        ax.legend()
        return ax


class ParallelCurveAssay:
    """Relative potency from a joint 4PL or 5PL fit.

    Parameters
    ----------
    reference
        Name of the reference preparation.
    model
        ``4pl`` or ``5pl``.
    similarity
        ``equivalence`` (USP <1032>, default) or ``f-test``: which evidence decides similarity.
    margins
        Equivalence margins (default: hill ratio and span ratio within 0.80-1.25).
    suitability
        System and sample suitability criteria (default: :class:`SuitabilityCriteria`).
    control
        Name of an assay-control preparation whose RP must fall within ``suitability.control_relative_potency``.
    alpha, ci_level
        Level of the difference tests and of the potency limits.
    ci_method
        ``fieller`` or ``delta``: which interval is the reported one (the other is kept as the alternative).
    """

    def __init__(
        self,
        reference: str,
        *,
        model: str = "4pl",
        similarity: SimilarityMethod = "equivalence",
        margins: EquivalenceMargins | None = None,
        suitability: SuitabilityCriteria | None = None,
        control: str | None = None,
        alpha: float = 0.05,
        ci_level: float = 0.95,
        ci_method: str = "fieller",
    ) -> None:
        if not reference:
            raise ValueError("reference: name the reference preparation")
        if model not in CURVE_MODELS:
            raise ValueError(f"model must be one of {', '.join(CURVE_MODELS)}, not {model!r}")
        if similarity not in ("equivalence", "f-test"):
            raise ValueError(f"similarity must be 'equivalence' or 'f-test', not {similarity!r}")
        if not 0 < alpha < 0.5:
            raise ValueError("alpha must lie between 0 and 0.5")
        if not 0.5 < ci_level < 1:
            raise ValueError("ci_level must lie between 0.5 and 1")
        if ci_method not in ("fieller", "delta"):
            raise ValueError(f"ci_method must be 'fieller' or 'delta', not {ci_method!r}")
        self.reference = reference
        self.model = model
        self.similarity: SimilarityMethod = similarity
        self.margins = margins or _DEFAULT_MARGINS
        self.suitability = suitability or _DEFAULT_SUITABILITY
        self.control = control
        self.alpha = alpha
        self.ci_level = ci_level
        self.ci_method = ci_method
        self._size = get_model(model).size

    # -- public -------------------------------------------------------------------------------------------
    def fit(
        self, preparation: Sequence[str] | ArrayLike, dose: ArrayLike, response: ArrayLike
    ) -> ParallelCurveResult:
        """Fit all preparations jointly and analyse every test preparation against the reference."""
        data = arrange(preparation, dose, response, self.reference, min_doses=self._size)
        if self.control is not None and self.control not in data.tests:
            raise ValueError(f"control: no preparation named {self.control!r} in the data")
        n = data.dose.size
        shape_size = self._size - 1  # shared parameters: all but the inflection
        h = len(data.preparations)
        df_unconstrained = n - h * self._size
        df_constrained = n - shape_size - h
        if df_unconstrained < 1:
            raise ValueError(
                "the data leave no degrees of freedom for the unconstrained fit; replicate the doses"
            )

        joint, separate = fit_assay(data, self._size, self.alpha)
        assert joint.df == df_constrained
        rss_u = float(sum(fit.rss for fit in separate))
        s2_u = rss_u / df_unconstrained

        parallelism = (
            f_test(joint.rss, df_constrained, rss_u, df_unconstrained, self.alpha),
            likelihood_ratio_test(joint.rss, rss_u, n, df_constrained - df_unconstrained, self.alpha),
        )
        t = t_quantile(0.5 + self.ci_level / 2, joint.df)
        potencies = [self._potency(data, joint, i, t) for i in range(1, h)]
        similarity = []
        for i in range(1, h):
            partial = self._partial_f(data, separate, joint, i, s2_u, df_unconstrained)
            checks = self._equivalence(separate[0], separate[i], s2_u, df_unconstrained)
            similarity.append(assess(data.preparations[i], self.similarity, checks, [partial, *parallelism]))
        suitability = self._suitability(data, separate, potencies, similarity)
        converged = joint.converged and all(fit.converged for fit in separate)
        return ParallelCurveResult(
            model=self.model,
            reference=data.reference,
            tests=data.tests,
            n=n,
            constrained=tuple(self._joint_curves(data, joint)),
            unconstrained=tuple(
                self._separate_curve(data.preparations[i], fit, s2_u) for i, fit in enumerate(separate)
            ),
            rss_constrained=joint.rss,
            df_constrained=joint.df,
            rss_unconstrained=rss_u,
            df_unconstrained=df_unconstrained,
            parallelism=parallelism,
            potencies=tuple(potencies),
            similarity=tuple(similarity),
            suitability=suitability,
            converged=converged,
            ci_level=self.ci_level,
            alpha=self.alpha,
            dose=tuple(data.dose.tolist()),
            response=tuple(data.response.tolist()),
            observation_preparation=tuple(data.preparations[i] for i in data.preparation_index.tolist()),
        )

    # -- potency, similarity, suitability ----------------------------------------------------------------
    def _potency(self, data: AssayData, joint: JointFit, index: int, t: float) -> PotencyEstimate:
        at_ref, at_test = self._size - 1, self._size - 1 + index
        cov = joint.covariance
        m = float(joint.log_inflection[0] - joint.log_inflection[index])
        var_m = cov[at_ref, at_ref] + cov[at_test, at_test] - 2 * cov[at_ref, at_test]
        se = math.sqrt(max(var_m, 0.0))
        delta = ConfidenceInterval(_exp(m - t * se), _exp(m + t * se), self.ci_level, "delta (log scale)")
        c_ref, c_test = math.exp(joint.log_inflection[0]), math.exp(joint.log_inflection[index])
        low, high, g = fieller_interval(
            c_ref,
            c_test,
            c_ref * c_ref * cov[at_ref, at_ref],
            c_test * c_test * cov[at_test, at_test],
            c_ref * c_test * cov[at_ref, at_test],
            t,
        )
        fieller = ConfidenceInterval(low, high, self.ci_level, "fieller")
        primary, alternative = (fieller, delta) if self.ci_method == "fieller" else (delta, fieller)
        return PotencyEstimate(data.preparations[index], math.exp(m), m, primary, g, alternative)

    def _partial_f(
        self,
        data: AssayData,
        separate: list[Curve],
        joint: JointFit,
        index: int,
        s2_u: float,
        df_u: int,
    ) -> DifferenceTest:
        """F-test of this preparation's own shape: the constrained fit against the fit in which only this
        preparation is free (the others stay constrained), over the pooled unconstrained variance."""
        h = len(data.preparations)
        if h == 2:
            rss_free = separate[0].rss + separate[1].rss
        else:
            # Started from the constrained solution without this preparation, so the fit of the others can
            # only improve on what the constrained fit gives them.
            others = [i for i in range(h) if i != index]
            start = np.delete(joint.internal(self._size), self._size - 1 + index)
            rss_free = fit_joint(data, others, self._size, (), [start]).rss + separate[index].rss
        extra = self._size - 1
        f = ((joint.rss - rss_free) / extra) / s2_u
        p = f_upper_tail(f, extra, df_u)
        return DifferenceTest("F-test (this preparation)", float(f), (extra, df_u), p, p >= self.alpha)

    def _equivalence(
        self, reference: Curve, test: Curve, s2_pooled: float, df: int
    ) -> list[EquivalenceCheck]:
        """Equivalence intervals from the unconstrained fits, their covariances rescaled to the pooled
        residual variance (the fits are independent, so comparisons have no covariance term)."""
        names = list(reference.parameter_names)
        ref_cov = reference.unscaled * s2_pooled
        test_cov = test.unscaled * s2_pooled
        ref, tst = reference.parameters, test.parameters
        b, tp, hl = names.index("bottom"), names.index("top"), names.index("hill")
        # Lower / upper asymptote: for the 5PL 'bottom' is the dose-0 end, which is the upper one when the
        # curve falls; use the reference's order for both.
        lower, upper = ("bottom", "top") if ref["bottom"] <= ref["top"] else ("top", "bottom")
        checks = [
            ratio_check(
                "hill_ratio",
                tst["hill"],
                ref["hill"],
                test_cov[hl, hl],
                ref_cov[hl, hl],
                0.0,
                df,
                self.margins,
            )
        ]
        for name, key in (("lower_asymptote_difference", lower), ("upper_asymptote_difference", upper)):
            i = names.index(key)
            se = math.sqrt(max(test_cov[i, i] + ref_cov[i, i], 0.0))
            checks.append(difference_check(name, tst[key] - ref[key], se, df, self.margins))

        def span_var(cov: FloatArray) -> float:
            return float(cov[tp, tp] + cov[b, b] - 2 * cov[tp, b])

        checks.append(
            ratio_check(
                "span_ratio",
                tst["top"] - tst["bottom"],
                ref["top"] - ref["bottom"],
                span_var(test_cov),
                span_var(ref_cov),
                0.0,
                df,
                self.margins,
            )
        )
        return checks

    def _suitability(
        self,
        data: AssayData,
        separate: list[Curve],
        potencies: list[PotencyEstimate],
        similarity: list[SimilarityAssessment],
    ) -> SuitabilityReport:
        reference = separate[0]
        ref = reference.parameters
        y = data.response[data.preparation_index == 0]
        total = float(((y - y.mean()) ** 2).sum())
        system: dict[str, float] = {
            "r_squared": 1.0 - reference.rss / total if total > 0 else float("nan"),
            "lower_asymptote": min(ref["bottom"], ref["top"]),
            "upper_asymptote": max(ref["bottom"], ref["top"]),
            "span": abs(ref["top"] - ref["bottom"]),
            "hill": abs(ref["hill"]),
        }
        if self.control is not None:
            system["control_relative_potency"] = next(
                p.relative_potency for p in potencies if p.preparation == self.control
            )
        groups = data.dose_groups
        ref_means = groups.mean[0][groups.size[0] > 0]
        low, high = ref_means.min(), ref_means.max()
        samples: dict[str, dict[str, float | bool]] = {}
        for i, assessment in zip(range(1, len(data.preparations)), similarity, strict=True):
            if data.preparations[i] == self.control:
                continue
            means = groups.mean[i][groups.size[i] > 0]
            inside = int(((means >= low) & (means <= high)).sum())
            samples[data.preparations[i]] = {
                "similarity": assessment.passed,
                "response_within_reference_range": inside / means.size,
            }
        return evaluate_suitability(self.suitability, system, samples)

    # -- reporting ----------------------------------------------------------------------------------------
    def _joint_curves(self, data: AssayData, joint: JointFit) -> list[CurveParameters]:
        se_internal = np.sqrt(np.maximum(joint.covariance.diagonal(), 0.0))
        bottom, top, hill, asymmetry = (float(v) for v in joint.shape)
        shared_se = {
            "bottom": float(se_internal[0]),
            "top": float(se_internal[1]),
            "hill": float(se_internal[2]),
        }
        shared_se["asymmetry"] = float(se_internal[3] * asymmetry) if self._size == 5 else 0.0
        inflections = np.exp(joint.log_inflection)
        ec50s = logistic.ec50_5pl(inflections, hill, asymmetry).tolist()
        curves = []
        for i, name in enumerate(data.preparations):
            inflection = float(inflections[i])
            at = self._size - 1 + i
            parameters = {
                "bottom": bottom,
                "top": top,
                "hill": hill,
                "asymmetry": asymmetry,
                "inflection": inflection,
                "ec50": ec50s[i],
            }
            errors = {**shared_se, "inflection": float(se_internal[at] * inflection)}
            curves.append(CurveParameters(name, parameters, errors))
        return curves

    @staticmethod
    def _separate_curve(name: str, fit: Curve, s2_pooled: float) -> CurveParameters:
        covariance = fit.unscaled * s2_pooled
        errors = {
            k: math.sqrt(max(v, 0.0))
            for k, v in zip(fit.parameter_names, covariance.diagonal().tolist(), strict=True)
        }
        errors.setdefault("asymmetry", 0.0)
        return CurveParameters(name, fit.parameters, errors)
