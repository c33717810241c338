"""Slope-ratio assays (Ph. Eur. 5.3, section 3.3): response linear in dose, lines meeting at dose 0.

Observations at dose 0 are the blanks, shared by all preparations (the (hd + 1)-design; without blanks it
is the (hd)-design). Nested least-squares fits give the analysis of variance:

1. regression: a common intercept and one slope per preparation (blanks at dose 0 on that line),
2. blanks: the blanks may leave the common line,
3. intersection: each preparation its own intercept,
4. non-linearity: one mean per treatment.

The assay is valid when the regression is significant and blanks, intersection and non-linearity are not.
The potency ratio is ``b_test / b_reference`` from the common-intercept model, with Fieller limits and the
residual variance of the full treatments model (section 3.3.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from secretome.analysis.potency._data import arrange, transform_response
from secretome.analysis.potency._linear import anova_line, dummies, sequential_ss
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

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SlopeRatioResult(Serialisable):
    """A slope-ratio assay analysed: ANOVA, validity and potency of each test preparation."""

    reference: str
    tests: tuple[str, ...]
    transform: str
    n: int
    blanks: int
    anova: tuple[AnovaLine, ...]
    validity: tuple[ValidityTest, ...]
    potencies: tuple[PotencyEstimate, ...]
    intercept: float
    slopes: tuple[float, ...]
    s2: float
    df_residual: int
    alpha: float
    ci_level: float
    dose: tuple[float, ...]
    response: tuple[float, ...]
    observation_preparation: tuple[str, ...]
    model: str = "slope-ratio"

    @property
    def valid(self) -> bool:
        """Every deciding validity test passed."""
        return all(t.passed for t in self.validity if t.decides)

    def anova_line(self, source: str) -> AnovaLine:
        """The ANOVA line named ``source``."""
        return find_named(self.anova, "source", source)

    def potency(self, preparation: str) -> PotencyEstimate:
        """The potency estimate of one test preparation."""
        return find_named(self.potencies, "preparation", preparation)

    def plot(self, ax: Any = None) -> Any:
        """Observations and the fitted common-intercept lines."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        dose = np.asarray(self.dose)
        response = np.asarray(self.response)
        labels = np.asarray(self.observation_preparation)
        blank = labels == ""
        if blank.any():
            ax.scatter(dose[blank], response[blank], s=14, color="grey", label="blanks")
        for name, slope in zip((self.reference, *self.tests), self.slopes, strict=True):
            mask = labels == name
            points = ax.scatter(dose[mask], response[mask], s=14, label=name)
            grid = np.array([0.0, dose[mask].max()])
            ax.plot(grid, self.intercept + slope * grid, color=points.get_facecolor()[0])
        ax.set_xlabel("dose")
        ax.set_ylabel("response" if self.transform == "none" else f"{self.transform}(response)")
        ax.set_title("Slope-ratio assay")
        ax.legend()
        return ax


class SlopeRatioAssay:
    """Ph. Eur. 5.3 slope-ratio analysis (completely randomised design).

    Parameters
    ----------
    reference
        Name of the reference preparation.
    transform
        Response transformation (``none``, ``ln``, ``log10``, ``sqrt``, ``square``).
    alpha, ci_level
        Level of the validity tests and of the potency limits.
    """

    def __init__(
        self, reference: str, *, transform: str = "none", alpha: float = 0.05, ci_level: float = 0.95
    ) -> None:
        if not reference:
            raise ValueError("reference: name the reference preparation")
        transform_response(np.ones(1), transform)
        if not 0 < alpha < 0.5:
            raise ValueError("alpha must lie between 0 and 0.5")
        if not 0.5 < ci_level < 1:
            raise ValueError("ci_level must lie between 0.5 and 1")
        self.reference = reference
        self.transform = transform
        self.alpha = alpha
        self.ci_level = ci_level

    def fit(
        self, preparation: Sequence[str] | ArrayLike, dose: ArrayLike, response: ArrayLike
    ) -> SlopeRatioResult:
        """Analyse one assay; observations at dose 0 are the blanks, whatever their preparation label."""
        labels = np.asarray(preparation, dtype=str)
        dose_array = np.asarray(dose, dtype=float)
        response_array = np.asarray(response, dtype=float)
        if not (labels.shape == dose_array.shape == response_array.shape):
            raise ValueError("preparation, dose and response must be of equal length")
        blank = dose_array == 0
        data = arrange(
            labels[~blank], dose_array[~blank], response_array[~blank], self.reference, min_doses=2
        )
        self._check_series(data)
        y = transform_response(np.concatenate([data.response, response_array[blank]]), self.transform)
        dose_all = np.concatenate([data.dose, dose_array[blank]])
        index = np.concatenate([data.preparation_index, np.full(int(blank.sum()), -1)])
        n, h, n_blank = y.size, len(data.preparations), int(blank.sum())

        slope_columns = np.column_stack([np.where(index == i, dose_all, 0.0) for i in range(h)])
        treatment_keys = np.array([f"{i}\x00{d!r}" for i, d in zip(index, dose_all, strict=True)])
        _, treatment_codes = np.unique(treatment_keys, return_inverse=True)
        blocks: list[tuple[str, FloatArray]] = [
            ("intercept", np.ones((n, 1))),
            ("regression", slope_columns),
            ("blanks", (index == -1).astype(float)[:, None] if n_blank else np.zeros((n, 0))),
            ("intersection", dummies(np.where(index < 0, 0, index).astype(np.intp)) * (index >= 0)[:, None]),
            ("non-linearity", dummies(treatment_codes.astype(np.intp), drop_first=False)),
        ]
        sequence = sequential_ss(blocks, y)
        full = sequence[-1][3]
        df_residual = n - full.rank
        if df_residual < 1:
            raise ValueError(
                "the data leave no degrees of freedom for the residual error; replicate the doses"
            )
        s2 = full.rss / df_residual
        anova = [anova_line(name, df, ss, s2, df_residual) for name, df, ss, _ in sequence[1:] if df > 0]
        treatments_df = sum(df for _, df, _, _ in sequence[1:])
        treatments_ss = sum(ss for _, _, ss, _ in sequence[1:])
        anova.append(anova_line("treatments", treatments_df, treatments_ss, s2, df_residual))
        anova.append(AnovaLine("residual", df_residual, full.rss, s2))
        total = float(((y - y.mean()) ** 2).sum())
        anova.append(AnovaLine("total", n - 1, total, total / (n - 1)))
        validity = self._validity(anova)

        regression = sequence[1][3]
        covariance = s2 * regression.unscaled_covariance()
        t = float(stats.t.ppf(0.5 + self.ci_level / 2, df_residual))
        b_ref = float(regression.coefficients[1])
        potencies = []
        for i, name in enumerate(data.tests, start=1):
            at = 1 + i
            b = float(regression.coefficients[at])
            low, high, g = fieller_interval(
                b, b_ref, covariance[at, at], covariance[1, 1], covariance[at, 1], t
            )
            ratio = b / b_ref
            potencies.append(
                PotencyEstimate(
                    name,
                    ratio,
                    float(np.log(ratio)) if ratio > 0 else float("nan"),
                    ConfidenceInterval(low, high, self.ci_level, "fieller"),
                    g,
                )
            )
        return SlopeRatioResult(
            reference=data.reference,
            tests=data.tests,
            transform=self.transform,
            n=n,
            blanks=n_blank,
            anova=tuple(anova),
            validity=tuple(validity),
            potencies=tuple(potencies),
            intercept=float(regression.coefficients[0]),
            slopes=tuple(float(v) for v in regression.coefficients[1 : 1 + h]),
            s2=s2,
            df_residual=df_residual,
            alpha=self.alpha,
            ci_level=self.ci_level,
            dose=tuple(dose_all.tolist()),
            response=tuple(y.tolist()),
            observation_preparation=tuple("" if i < 0 else data.preparations[i] for i in index),
        )

    @staticmethod
    def _check_series(data: Any) -> None:
        """Ph. Eur. 5.3 slope-ratio designs: the same number of equally spaced doses for every preparation."""
        counts = {name: data.doses_of(i).size for i, name in enumerate(data.preparations)}
        if len(set(counts.values())) != 1:
            raise ValueError(
                "doses are not in a common series: the preparations have different numbers of doses ("
                + ", ".join(f"{k}: {v}" for k, v in counts.items())
                + ")"
            )
        for i, name in enumerate(data.preparations):
            steps = np.diff(data.doses_of(i))
            if steps.size > 1 and not np.allclose(steps, steps[0], rtol=0.1):
                raise ValueError(
                    f"doses are not in a common series: the doses of {name!r} are not equally spaced"
                )

    def _validity(self, anova: list[AnovaLine]) -> list[ValidityTest]:
        by_source = {line.source: line for line in anova}
        residual_df = by_source["residual"].df
        tests = []
        for source, significant_is_good, description in (
            ("regression", True, "the response must depend on the dose (significant regression)"),
            ("blanks", False, "the blanks must lie on the common line"),
            ("intersection", False, "the lines must meet at dose 0"),
            ("non-linearity", False, "the dose-response lines must be straight"),
        ):
            line = by_source.get(source)
            if line is None:
                tests.append(ValidityTest(source, None, (), None, "not tested", False, description))
                continue
            tests.append(
                ValidityTest(
                    source,
                    line.f,
                    (line.df, residual_df),
                    line.p,
                    verdict(line.p, self.alpha, significant_is_good=significant_is_good),
                    True,
                    description,
                )
            )
        return tests
