"""Parallel-line assays (Ph. Eur. 5.3, section 3.2): ANOVA, validity tests, potency with Fieller limits.

The response (after an optional transformation) is linear in log dose, and the lines of the test
preparations are parallel to the reference line; the horizontal distance between them is the log
potency ratio. The analysis is a sequence of nested least-squares fits, so it handles completely
randomised, randomised-block and Latin-square designs, several test preparations against one
reference, unequal replication and missing values alike:

1. blocks, or rows and columns (removed from the error),
2. preparations, 3. regression (common slope), 4. non-parallelism (one slope per preparation),
5. non-linearity (one mean per treatment).

The residual variance comes from the full treatments model (step 5), the potency from the
common-slope model (step 3); Fieller's theorem gives the confidence limits (section 3.2.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from secretome.analysis.potency._data import AssayData, arrange, factor_codes, transform_response
from secretome.analysis.potency._linear import anova_line, dummies, ols, sequential_ss
from secretome.analysis.potency.results import (
    AnovaLine,
    ConfidenceInterval,
    PotencyEstimate,
    Serialisable,
    ValidityTest,
    fieller_interval,
    find_named,
    verdict,
)
from secretome.analysis.potency.similarity import (
    DifferenceTest,
    EquivalenceMargins,
    SimilarityAssessment,
    SimilarityMethod,
    assess,
    ratio_check,
)

FloatArray = NDArray[np.float64]

DESIGNS = ("completely randomised", "randomised block", "Latin square")


@dataclass(frozen=True)
class ParallelLineResult(Serialisable):
    """A parallel-line assay analysed: ANOVA, validity, similarity and potency of each test preparation.

    ``log_dose``, ``response`` and ``observation_preparation`` keep the analysed observations (natural
    log dose, transformed response) for plots.
    """

    reference: str
    tests: tuple[str, ...]
    design: str
    transform: str
    n: int
    anova: tuple[AnovaLine, ...]
    validity: tuple[ValidityTest, ...]
    potencies: tuple[PotencyEstimate, ...]
    similarity: tuple[SimilarityAssessment, ...]
    common_slope: float
    slopes: tuple[float, ...]
    s2: float
    df_residual: int
    alpha: float
    ci_level: float
    log_dose: tuple[float, ...]
    response: tuple[float, ...]
    observation_preparation: tuple[str, ...]
    model: str = "parallel-line"

    @property
    def valid(self) -> bool:
        """Every deciding validity test and every similarity assessment passed."""
        return all(t.passed for t in self.validity if t.decides) and all(s.passed for s in self.similarity)

    def anova_line(self, source: str) -> AnovaLine:
        """The ANOVA line named ``source`` (e.g. ``regression``, ``non-parallelism``)."""
        return find_named(self.anova, "source", source)

    def potency(self, preparation: str) -> PotencyEstimate:
        """The potency estimate of one test preparation."""
        return find_named(self.potencies, "preparation", preparation)

    def plot(self, ax: Any = None) -> Any:
        """Observations and the fitted parallel lines (response against log dose)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        x = np.asarray(self.log_dose)
        y = np.asarray(self.response)
        labels = np.asarray(self.observation_preparation)
        for name in (self.reference, *self.tests):
            mask = labels == name
            points = ax.scatter(x[mask], y[mask], s=14, label=name)
            grid = np.linspace(x[mask].min(), x[mask].max(), 2)
            centre_x, centre_y = x[mask].mean(), y[mask].mean()
            ax.plot(grid, centre_y + self.common_slope * (grid - centre_x), color=points.get_facecolor()[0])
        ax.set_xlabel("ln dose")
        ax.set_ylabel("response" if self.transform == "none" else f"{self.transform}(response)")
        ax.set_title("Parallel-line assay")
        ax.legend()
        return ax

    def plot_residuals(self, ax: Any = None) -> Any:
        """Residuals from the treatment means against log dose."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        x = np.asarray(self.log_dose)
        y = np.asarray(self.response)
        labels = np.asarray(self.observation_preparation)
        for name in (self.reference, *self.tests):
            mask = labels == name
            fitted = y[mask].mean() + self.common_slope * (x[mask] - x[mask].mean())
            ax.scatter(x[mask], y[mask] - fitted, s=14, label=name)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel("ln dose")
        ax.set_ylabel("residual (common-slope model)")
        ax.legend()
        return ax


def _check_common_series(data: AssayData) -> None:
    """Ph. Eur. 5.3 parallel-line designs: every preparation has the same number of doses, in the same
    ratios (within 10 %; dilution series made by hand are rarely exact)."""
    reference_steps = np.diff(np.log(data.doses_of(0)))
    for i, name in enumerate(data.preparations[1:], start=1):
        steps = np.diff(np.log(data.doses_of(i)))
        if steps.size != reference_steps.size:
            raise ValueError(
                f"doses are not in a common series: preparation {name!r} has {steps.size + 1} doses, "
                f"the reference {data.reference!r} has {reference_steps.size + 1}"
            )
        if not np.allclose(steps, reference_steps, rtol=0.1, atol=0.0):
            raise ValueError(
                f"doses are not in a common series: preparation {name!r} steps by "
                f"{', '.join(f'{r:.3g}' for r in np.exp(steps))}, the reference by "
                f"{', '.join(f'{r:.3g}' for r in np.exp(reference_steps))}"
            )


class ParallelLineAssay:
    """Ph. Eur. 5.3 parallel-line analysis of one assay.

    Parameters
    ----------
    reference
        Name of the reference (standard) preparation in the data.
    transform
        Response transformation: ``none``, ``ln``, ``log10``, ``sqrt`` or ``square``.
    alpha
        Significance level of the validity tests (Ph. Eur.: 0.05).
    ci_level
        Confidence level of the potency limits (0.95).
    similarity
        ``f-test``: the non-parallelism F-test decides parallelism (Ph. Eur.); ``equivalence``: the 90 %
        interval of each slope ratio must lie within ``margins.slope_ratio`` (USP <1032>).
    margins
        Equivalence margins; the default has slope ratio 0.80-1.25.
    """

    def __init__(
        self,
        reference: str,
        *,
        transform: str = "none",
        alpha: float = 0.05,
        ci_level: float = 0.95,
        similarity: SimilarityMethod = "f-test",
        margins: EquivalenceMargins | None = None,
    ) -> None:
        if not reference:
            raise ValueError("reference: name the reference preparation")
        transform_response(np.ones(1), transform)  # validates the name
        if not 0 < alpha < 0.5:
            raise ValueError("alpha must lie between 0 and 0.5")
        if not 0.5 < ci_level < 1:
            raise ValueError("ci_level must lie between 0.5 and 1")
        if similarity not in ("f-test", "equivalence"):
            raise ValueError(f"similarity must be 'f-test' or 'equivalence', not {similarity!r}")
        self.reference = reference
        self.transform = transform
        self.alpha = alpha
        self.ci_level = ci_level
        self.similarity: SimilarityMethod = similarity
        self.margins = margins or EquivalenceMargins()

    def fit(
        self,
        preparation: Sequence[str] | ArrayLike,
        dose: ArrayLike,
        response: ArrayLike,
        *,
        block: Sequence[object] | ArrayLike | None = None,
        row: Sequence[object] | ArrayLike | None = None,
        column: Sequence[object] | ArrayLike | None = None,
    ) -> ParallelLineResult:
        """Analyse one assay. ``block`` makes it a randomised-block design, ``row`` and ``column`` a Latin
        square; without them it is completely randomised."""
        data = arrange(preparation, dose, response, self.reference, min_doses=2)
        _check_common_series(data)
        y = transform_response(data.response, self.transform)
        x = np.log(data.dose)
        n = y.size
        nuisance, design = self._nuisance(data, block, row, column)

        h = len(data.preparations)
        prep_columns = dummies(data.preparation_index)
        # treatment = (preparation, dose): one indicator per treatment; the full model spans them all.
        treatment_keys = np.array(
            [f"{p}\x00{d!r}" for p, d in zip(data.preparation_index, data.dose, strict=True)]
        )
        _, treatment_codes = np.unique(treatment_keys, return_inverse=True)
        treatment_columns = dummies(treatment_codes.astype(np.intp), drop_first=False)
        blocks: list[tuple[str, FloatArray]] = [("intercept", np.ones((n, 1)))]
        blocks += nuisance
        blocks += [
            ("preparations", prep_columns),
            ("regression", x[:, None]),
            ("non-parallelism", prep_columns * x[:, None]),
            ("non-linearity", treatment_columns),
        ]
        sequence = sequential_ss(blocks, y)
        full = sequence[-1][3]
        df_residual = n - full.rank
        if df_residual < 1:
            raise ValueError(
                "the data leave no degrees of freedom for the residual error; replicate the doses"
            )
        s2 = full.rss / df_residual
        lines = {name: (df, ss) for name, df, ss, _ in sequence[1:]}
        anova: list[AnovaLine] = []
        for name in ("preparations", "regression", "non-parallelism", "non-linearity"):
            df, ss = lines[name]
            if df > 0:
                anova.append(anova_line(name, df, ss, s2, df_residual))
        anova += self._per_preparation_non_linearity(data, sequence, treatment_codes, y, s2, df_residual)
        for name, _ in nuisance:
            df, ss = lines[name]
            anova.append(anova_line(name, df, ss, s2, df_residual))
        treatments_df = sum(
            lines[k][0] for k in ("preparations", "regression", "non-parallelism", "non-linearity")
        )
        treatments_ss = sum(
            lines[k][1] for k in ("preparations", "regression", "non-parallelism", "non-linearity")
        )
        anova.append(anova_line("treatments", treatments_df, treatments_ss, s2, df_residual))
        anova.append(AnovaLine("residual", df_residual, full.rss, s2))
        total_ss = float(((y - y.mean()) ** 2).sum())
        anova.append(AnovaLine("total", n - 1, total_ss, total_ss / (n - 1)))

        validity = self._validity(anova)
        t = float(stats.t.ppf(0.5 + self.ci_level / 2, df_residual))
        n_nuisance = 1 + sum(c.shape[1] for _, c in nuisance)

        # Potency: common-slope model (nuisance, preparations, regression), s2 from the full model.
        restricted = next(fit for name, _, _, fit in sequence if name == "regression")
        covariance = s2 * restricted.unscaled_covariance()
        slope_at = n_nuisance + (h - 1)
        b = float(restricted.coefficients[slope_at])
        potencies = []
        for i, name in enumerate(data.tests):
            at = n_nuisance + i
            a = float(restricted.coefficients[at])
            low, high, g = fieller_interval(
                a, b, covariance[at, at], covariance[slope_at, slope_at], covariance[at, slope_at], t
            )
            m = a / b
            potencies.append(
                PotencyEstimate(
                    name,
                    float(np.exp(m)),
                    m,
                    ConfidenceInterval(
                        None if low is None else float(np.exp(low)),
                        None if high is None else float(np.exp(high)),
                        self.ci_level,
                        "fieller",
                    ),
                    g,
                )
            )

        separate = next(fit for name, _, _, fit in sequence if name == "non-parallelism")
        slopes, similarity = self._similarity(data, separate, slope_at, s2, df_residual, y)
        return ParallelLineResult(
            reference=data.reference,
            tests=data.tests,
            design=design,
            transform=self.transform,
            n=n,
            anova=tuple(anova),
            validity=tuple(validity),
            potencies=tuple(potencies),
            similarity=tuple(similarity),
            common_slope=b,
            slopes=tuple(slopes),
            s2=s2,
            df_residual=df_residual,
            alpha=self.alpha,
            ci_level=self.ci_level,
            log_dose=tuple(x.tolist()),
            response=tuple(y.tolist()),
            observation_preparation=tuple(data.preparations[i] for i in data.preparation_index),
        )

    @staticmethod
    def _nuisance(
        data: AssayData,
        block: Sequence[object] | ArrayLike | None,
        row: Sequence[object] | ArrayLike | None,
        column: Sequence[object] | ArrayLike | None,
    ) -> tuple[list[tuple[str, FloatArray]], str]:
        n = data.dose.size
        if block is not None and (row is not None or column is not None):
            raise ValueError("block: give either blocks or rows and columns, not both")
        if block is not None:
            codes = factor_codes(block, "block", n)
            if np.unique(codes).size < 2:
                raise ValueError("block: a randomised-block design needs at least two blocks")
            return [("blocks", dummies(codes))], "randomised block"
        if row is None and column is None:
            return [], "completely randomised"
        if row is None or column is None:
            raise ValueError("row, column: a Latin square needs both rows and columns")
        rows = factor_codes(row, "row", n)
        columns = factor_codes(column, "column", n)
        treatments = np.unique(
            [f"{p}\x00{d!r}" for p, d in zip(data.preparation_index, data.dose, strict=True)]
        )
        k = treatments.size
        cells = {(int(r), int(c)) for r, c in zip(rows, columns, strict=True)}
        if not (np.unique(rows).size == np.unique(columns).size == k and n == k * k and len(cells) == n):
            raise ValueError(
                f"row, column: a Latin square needs {k} rows and {k} columns with one observation per cell "
                f"for {k} treatments"
            )
        return [("rows", dummies(rows)), ("columns", dummies(columns))], "Latin square"

    @staticmethod
    def _per_preparation_non_linearity(
        data: AssayData,
        sequence: list[Any],
        treatment_codes: NDArray[np.intp],
        y: FloatArray,
        s2: float,
        df_residual: int,
    ) -> list[AnovaLine]:
        """Non-linearity of each preparation on its own (CombiStats reports these lines too)."""
        separate = next(fit for name, _, _, fit in sequence if name == "non-parallelism")
        lines = []
        for i, name in enumerate(data.preparations):
            if data.doses_of(i).size < 3:
                continue
            mask = data.preparation_index == i
            own = dummies(treatment_codes[mask].astype(np.intp), drop_first=False)
            columns = np.zeros((y.size, own.shape[1]))
            columns[mask] = own
            extended = ols(np.hstack([separate.design, columns]), y)
            lines.append(
                anova_line(
                    f"non-linearity {name}",
                    extended.rank - separate.rank,
                    separate.rss - extended.rss,
                    s2,
                    df_residual,
                )
            )
        return lines

    def _validity(self, anova: list[AnovaLine]) -> list[ValidityTest]:
        by_source = {line.source: line for line in anova}
        tests = []
        regression = by_source["regression"]
        tests.append(
            ValidityTest(
                "regression",
                regression.f,
                (regression.df, by_source["residual"].df),
                regression.p,
                verdict(regression.p, self.alpha, significant_is_good=True),
                True,
                "the response must depend on the dose (significant regression)",
            )
        )
        for source, name, description, decides in (
            (
                "non-parallelism",
                "parallelism",
                "the lines must not deviate from parallelism",
                self.similarity == "f-test",
            ),
            (
                "non-linearity",
                "linearity",
                "the dose-response lines must not deviate from straight lines",
                True,
            ),
            ("preparations", "preparations", "difference between preparations (for information)", False),
            ("blocks", "blocks", "difference between blocks (for information)", False),
            ("rows", "rows", "difference between rows (for information)", False),
            ("columns", "columns", "difference between columns (for information)", False),
        ):
            line = by_source.get(source)
            if line is None:
                if source == "non-linearity":
                    tests.append(
                        ValidityTest(
                            name, None, (), None, "not tested", False, "two doses: linearity cannot be tested"
                        )
                    )
                continue
            tests.append(
                ValidityTest(
                    name,
                    line.f,
                    (line.df, by_source["residual"].df),
                    line.p,
                    verdict(line.p, self.alpha, significant_is_good=False),
                    decides,
                    description,
                )
            )
        return tests

    def _similarity(
        self,
        data: AssayData,
        separate: Any,
        slope_at: int,
        s2: float,
        df_residual: int,
        y: FloatArray,
    ) -> tuple[list[float], list[SimilarityAssessment]]:
        """Slope of each preparation, and per test preparation the slope-ratio interval and the 1-df
        non-parallelism F-test of its own slope against the reference slope."""
        covariance = s2 * separate.unscaled_covariance()
        h = len(data.preparations)
        reference_slope = float(separate.coefficients[slope_at])
        slopes = [reference_slope]
        assessments = []
        for i, name in enumerate(data.tests):
            at = slope_at + 1 + i  # the slope-difference column of this preparation
            slope = reference_slope + float(separate.coefficients[at])
            slopes.append(slope)
            var_ref = covariance[slope_at, slope_at]
            var_test = var_ref + covariance[at, at] + 2 * covariance[slope_at, at]
            cov = var_ref + covariance[slope_at, at]
            check = ratio_check(
                "slope_ratio", slope, reference_slope, var_test, var_ref, cov, df_residual, self.margins
            )
            reduced = ols(np.delete(separate.design, at, axis=1), y)
            f = (reduced.rss - separate.rss) / s2
            p = float(stats.f.sf(f, 1, df_residual))
            difference = DifferenceTest(
                "F-test (non-parallelism)", float(f), (1, df_residual), p, p >= self.alpha
            )
            assessments.append(assess(name, self.similarity, [check], [difference]))
        assert len(slopes) == h
        return slopes, assessments
