"""Relative gene expression from qPCR quantification cycles (Cq).

Conventions (MIQE; Livak & Schmittgen 2001; Pfaffl 2001; Vandesompele et al. 2002; Hellemans et al. 2007):

- **Efficiency** from a dilution series: ``Cq = slope x log10(quantity) + intercept`` by least squares;
  amplification efficiency ``E = 10^(-1/slope) - 1`` (1.0 = 100 %, doubling every cycle), amplification
  factor ``A = 1 + E``; a slope of -3.32 is 100 %.
- **Technical replicates**: mean and SD (``n - 1``) of the Cq of one sample and target; an SD above the
  limit (0.3 cycles by default) is flagged; undetermined wells (no Cq) are counted and left out.
- **Normalisation to several reference genes**: the normaliser is the geometric mean of the reference
  genes' relative quantities, i.e. the mean of ``log2(A_r) x Cq_r`` over the reference genes.
- **Livak** ``2^-ddCq``: ``dCq = Cq_target - mean(Cq_reference)``, ``ddCq = dCq_sample - dCq_calibrator``,
  fold ``= 2^-ddCq``; the range ``2^-(ddCq +/- s)`` with ``s = sqrt(s_target^2 + s_reference^2)`` of the
  sample (the paper's convention), every efficiency taken as 100 %.
- **Pfaffl** (efficiency-corrected, Hellemans' form for several reference genes):
  ``ratio = A_t^(Cq_t,cal - Cq_t,s) / geomean_r(A_r^(Cq_r,cal - Cq_r,s))``; with one reference gene this is
  Pfaffl's equation, with every ``A = 2`` it is Livak's.
- **geNorm M** of each reference gene: the mean over the other reference genes of the SD, across samples,
  of the log2 ratio of their relative quantities; lower is more stable (M < 0.5 typical of homogeneous
  samples, < 1.0 of heterogeneous ones).
- **Controls**: a no-template control (NTC) with a Cq below ``ntc_cq_limit`` fails; a no-RT control whose
  Cq is fewer than ``no_rt_min_delta`` cycles after its +RT sample fails (genomic DNA would then contribute
  more than ``2^-delta`` of the signal).

Pure: Cq values in, frozen results out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: Gene panels of the producer cells (HGNC symbols).
PLURIPOTENCY_GENES = ("POU5F1", "SOX2", "NANOG")
SENESCENCE_GENES = ("CDKN2A", "CDKN1A")
METHODS = ("livak", "pfaffl")


def _json(value: float | None) -> float | None:
    if value is None:
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class CqWell:
    """One reaction: a sample's Cq for one target in one well (NaN when undetermined)."""

    well: str
    sample: str
    target: str
    cq: float


@dataclass(frozen=True)
class EfficiencyResult:
    """A standard curve: Cq against log10 quantity, with the amplification efficiency it implies."""

    target: str
    log10_quantity: npt.NDArray[np.float64] = field(repr=False)
    cq: npt.NDArray[np.float64] = field(repr=False)
    slope: float
    intercept: float
    r_squared: float
    slope_se: float
    efficiency_range: tuple[float, float] = (0.9, 1.1)
    min_r_squared: float = 0.98

    @property
    def efficiency(self) -> float:
        """``10^(-1/slope) - 1`` (1.0 is 100 %)."""
        return float(10 ** (-1 / self.slope) - 1) if self.slope < 0 else math.nan

    @property
    def amplification(self) -> float:
        """Amplification factor per cycle, ``1 + E``."""
        return 1 + self.efficiency

    @property
    def flags(self) -> tuple[str, ...]:
        found = []
        low, high = self.efficiency_range
        if not (low <= self.efficiency <= high):
            found.append(
                f"{self.target}: efficiency {100 * self.efficiency:.1f} % outside {100 * low:g}-{100 * high:g} %"
            )
        if not self.r_squared >= self.min_r_squared:
            found.append(
                f"{self.target}: standard curve R^2 {self.r_squared:.4f} below {self.min_r_squared:g}"
            )
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "points": int(self.cq.size),
            "slope": _json(self.slope),
            "intercept": _json(self.intercept),
            "r_squared": _json(self.r_squared),
            "slope_se": _json(self.slope_se),
            "efficiency": _json(self.efficiency),
            "amplification": _json(self.amplification),
            "flags": list(self.flags),
        }

    def plot(self, ax: Any = None) -> Any:
        """Standards and the fitted line, with slope, efficiency and R^2 in the title."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(5.0, 3.6), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        ax.scatter(self.log10_quantity, self.cq, color="black", s=16, zorder=3, label="standards")
        grid = np.linspace(self.log10_quantity.min(), self.log10_quantity.max(), 2)
        ax.plot(grid, self.intercept + self.slope * grid, color="tab:blue", label="fit")
        ax.set_xlabel("log10 quantity")
        ax.set_ylabel("Cq")
        ax.set_title(
            f"{self.target}: slope {self.slope:.3f}, E {100 * self.efficiency:.1f} %, R² {self.r_squared:.4f}"
        )
        ax.legend(fontsize="small")
        return figure


def fit_efficiency(
    quantity: npt.ArrayLike,
    cq: npt.ArrayLike,
    target: str = "",
    *,
    efficiency_range: tuple[float, float] = (0.9, 1.1),
    min_r_squared: float = 0.98,
) -> EfficiencyResult:
    """Least-squares standard curve of ``cq`` on ``log10(quantity)`` (undetermined Cq left out).

    Raises ``ValueError`` naming ``quantity`` or ``cq`` when fewer than three usable points at two or more
    quantities remain, or a quantity is not positive.
    """
    q = np.asarray(quantity, dtype=np.float64)
    c = np.asarray(cq, dtype=np.float64)
    if q.shape != c.shape:
        raise ValueError(f"quantity: {q.size} quantities for {c.size} Cq values")
    if np.any(~(q > 0)):
        raise ValueError("quantity: standard quantities must be positive")
    keep = np.isfinite(c)
    x, y = np.log10(q[keep]), c[keep]
    if x.size < 3 or np.unique(x).size < 2:
        raise ValueError(
            f"cq: a standard curve needs 3 Cq values at 2 or more quantities ({target or 'target'})"
        )
    slope, intercept = np.polyfit(x, y, 1)
    fitted = intercept + slope * x
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    r_squared = 1 - ss_res / ss_tot if ss_tot > 0 else math.nan
    sxx = float(np.sum((x - np.mean(x)) ** 2))
    slope_se = math.sqrt(ss_res / (x.size - 2) / sxx) if x.size > 2 else math.nan
    return EfficiencyResult(
        target=target,
        log10_quantity=x,
        cq=y,
        slope=float(slope),
        intercept=float(intercept),
        r_squared=r_squared,
        slope_se=slope_se,
        efficiency_range=efficiency_range,
        min_r_squared=min_r_squared,
    )


@dataclass(frozen=True)
class ReplicateSet:
    """The technical replicates of one sample and target."""

    sample: str
    target: str
    wells: tuple[str, ...]
    cq: tuple[float, ...]
    sd_limit: float

    @property
    def determined(self) -> tuple[float, ...]:
        return tuple(c for c in self.cq if math.isfinite(c))

    @property
    def mean(self) -> float:
        values = self.determined
        return float(np.mean(values)) if values else math.nan

    @property
    def sd(self) -> float:
        values = self.determined
        return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan

    @property
    def flags(self) -> tuple[str, ...]:
        found = []
        undetermined = len(self.cq) - len(self.determined)
        if undetermined == len(self.cq):
            found.append(f"{self.sample} {self.target}: no replicate amplified")
        elif undetermined:
            found.append(
                f"{self.sample} {self.target}: {undetermined} of {len(self.cq)} replicates undetermined"
            )
        if math.isfinite(self.sd) and self.sd > self.sd_limit:
            found.append(
                f"{self.sample} {self.target}: replicate Cq SD {self.sd:.2f} exceeds {self.sd_limit:g} cycles"
            )
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "target": self.target,
            "wells": list(self.wells),
            "cq": [_json(c) for c in self.cq],
            "mean": _json(self.mean),
            "sd": _json(self.sd),
            "flags": list(self.flags),
        }


def replicate_sets(wells: Iterable[CqWell], *, sd_limit: float = 0.3) -> dict[tuple[str, str], ReplicateSet]:
    """Group wells by (sample, target), in file order."""
    if not (math.isfinite(sd_limit) and sd_limit > 0):
        raise ValueError(f"sd_limit: {sd_limit} must be a positive number of cycles")
    grouped: dict[tuple[str, str], list[CqWell]] = {}
    for well in wells:
        grouped.setdefault((well.sample, well.target), []).append(well)
    return {
        key: ReplicateSet(key[0], key[1], tuple(w.well for w in group), tuple(w.cq for w in group), sd_limit)
        for key, group in grouped.items()
    }


def genorm_m(log2_quantities: Mapping[str, npt.ArrayLike]) -> dict[str, float]:
    """geNorm stability M of each gene (Vandesompele et al. 2002).

    ``log2_quantities`` gives, per gene, log2 relative quantities over the same samples (for Cq data,
    ``-log2(A) x Cq``). M_j is the mean over the other genes k of the SD (``n - 1``) over samples of
    ``log2 q_j - log2 q_k``. Needs two genes and two samples.
    """
    genes = list(log2_quantities)
    if len(genes) < 2:
        raise ValueError("log2_quantities: geNorm M needs at least two reference genes")
    table = np.array([np.asarray(log2_quantities[g], dtype=np.float64) for g in genes])
    if table.shape[1] < 2:
        raise ValueError("log2_quantities: geNorm M needs at least two samples")
    if not np.all(np.isfinite(table)):
        raise ValueError("log2_quantities: every gene needs a value in every sample")
    stability = {}
    for j, gene in enumerate(genes):
        pairwise = [float(np.std(table[j] - table[k], ddof=1)) for k in range(len(genes)) if k != j]
        stability[gene] = float(np.mean(pairwise))
    return stability


@dataclass(frozen=True)
class ExpressionRow:
    """Expression of one target in one sample relative to the calibrator."""

    sample: str
    target: str
    cq: float
    cq_sd: float
    delta_cq: float
    delta_delta_cq: float
    fold: float
    fold_low: float
    fold_high: float
    flags: tuple[str, ...] = ()

    @property
    def log2_fold(self) -> float:
        return math.log2(self.fold) if self.fold > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "target": self.target,
            "cq": _json(self.cq),
            "cq_sd": _json(self.cq_sd),
            "delta_cq": _json(self.delta_cq),
            "delta_delta_cq": _json(self.delta_delta_cq),
            "fold": _json(self.fold),
            "fold_low": _json(self.fold_low),
            "fold_high": _json(self.fold_high),
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class ControlCheck:
    """One NTC or no-RT check: what was compared, whether it passed, and why."""

    kind: str
    sample: str
    target: str
    cq: float
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sample": self.sample,
            "target": self.target,
            "cq": _json(self.cq),
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ExpressionResult:
    """Relative expression of every target in every sample, with the checks it rests on."""

    method: str
    calibrator: str
    reference_genes: tuple[str, ...]
    amplification: Mapping[str, float]
    rows: tuple[ExpressionRow, ...]
    replicates: tuple[ReplicateSet, ...]
    stability: Mapping[str, float]
    controls: tuple[ControlCheck, ...]
    flags: tuple[str, ...]

    def fold(self, sample: str, target: str) -> float:
        """The fold change of ``target`` in ``sample`` (``KeyError`` when not computed)."""
        for row in self.rows:
            if row.sample == sample and row.target == target:
                return row.fold
        raise KeyError(f"{sample} {target}")

    def row(self, sample: str, target: str) -> ExpressionRow:
        for row in self.rows:
            if row.sample == sample and row.target == target:
                return row
        raise KeyError(f"{sample} {target}")

    @property
    def controls_passed(self) -> bool:
        return all(check.passed for check in self.controls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "calibrator": self.calibrator,
            "reference_genes": list(self.reference_genes),
            "amplification": {k: _json(v) for k, v in sorted(self.amplification.items())},
            "rows": [r.to_dict() for r in self.rows],
            "replicates": [r.to_dict() for r in self.replicates],
            "genorm_m": {k: _json(v) for k, v in self.stability.items()},
            "controls": [c.to_dict() for c in self.controls],
            "controls_passed": self.controls_passed,
            "flags": list(self.flags),
        }

    def plot(self, ax: Any = None) -> Any:
        """log2 fold change per target and sample, with the replicate range as error bars."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.4, 3.8), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        targets = sorted({r.target for r in self.rows})
        samples = sorted({r.sample for r in self.rows})
        width = 0.8 / max(len(samples), 1)
        for index, sample in enumerate(samples):
            rows = [r for r in self.rows if r.sample == sample]
            positions = [targets.index(r.target) + index * width for r in rows]
            heights = [r.log2_fold for r in rows]
            low = [
                h - math.log2(r.fold_low) if r.fold_low > 0 else 0 for h, r in zip(heights, rows, strict=True)
            ]
            high = [
                math.log2(r.fold_high) - h if r.fold_high > 0 else 0
                for h, r in zip(heights, rows, strict=True)
            ]
            ax.bar(positions, heights, width=width, label=sample, yerr=[low, high], capsize=2)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(targets))], targets)
        ax.set_ylabel(f"log2 fold vs {self.calibrator}")
        ax.set_title(f"{self.method.capitalize()}, normalised to {', '.join(self.reference_genes)}")
        if samples:
            ax.legend(fontsize="x-small")
        return figure


@dataclass(frozen=True)
class RelativeExpression:
    """Settings of a relative-expression analysis.

    Parameters
    ----------
    reference_genes
        Genes the targets are normalised to (geometric mean when several).
    calibrator
        Sample every fold change is relative to.
    method
        ``"livak"`` (every efficiency 100 %) or ``"pfaffl"`` (efficiency-corrected).
    amplification
        Amplification factor ``1 + E`` per target (``pfaffl`` needs one for every target and reference).
    sd_limit
        Technical-replicate Cq SD (cycles) above which a replicate set is flagged.
    ntc_samples
        Names of no-template-control samples.
    no_rt
        Maps a no-RT control sample to the +RT sample it controls.
    ntc_cq_limit
        An NTC amplifying before this cycle fails.
    no_rt_min_delta
        Fewest cycles a no-RT control must lag its +RT sample.
    require_ntc
        Flag every gene that has no NTC on the plate (MIQE asks for one per assay).
    """

    reference_genes: tuple[str, ...]
    calibrator: str
    method: str = "livak"
    amplification: Mapping[str, float] = field(default_factory=dict)
    sd_limit: float = 0.3
    ntc_samples: tuple[str, ...] = ("NTC",)
    no_rt: Mapping[str, str] = field(default_factory=dict)
    ntc_cq_limit: float = 35.0
    no_rt_min_delta: float = 5.0
    require_ntc: bool = False

    def __post_init__(self) -> None:
        if not self.reference_genes:
            raise ValueError("reference_genes: name at least one reference gene")
        if not self.calibrator:
            raise ValueError("calibrator: name the calibrator sample")
        if self.method not in METHODS:
            raise ValueError(f"method: {self.method!r} is not livak or pfaffl")
        for gene, factor in self.amplification.items():
            if not (math.isfinite(factor) and 1.0 < factor <= 2.2):
                raise ValueError(
                    f"amplification: {gene} has factor {factor}; expected 1 + E, between 1 and 2.2"
                )
        if not (math.isfinite(self.sd_limit) and self.sd_limit > 0):
            raise ValueError(f"sd_limit: {self.sd_limit} must be a positive number of cycles")
        if not (math.isfinite(self.ntc_cq_limit) and self.ntc_cq_limit > 0):
            raise ValueError(f"ntc_cq_limit: {self.ntc_cq_limit} must be a positive cycle number")
        if not (math.isfinite(self.no_rt_min_delta) and self.no_rt_min_delta >= 0):
            raise ValueError(
                f"no_rt_min_delta: {self.no_rt_min_delta} must be a non-negative number of cycles"
            )

    def factor(self, gene: str) -> float:
        if self.method == "livak":
            return 2.0
        try:
            return float(self.amplification[gene])
        except KeyError:
            raise ValueError(f"amplification: the pfaffl method needs the efficiency of {gene}") from None

    def fit(self, wells: Iterable[CqWell]) -> ExpressionResult:
        """Fold changes of every target in every sample (controls and calibrator included as rows)."""
        sets = replicate_sets(wells, sd_limit=self.sd_limit)
        controls = set(self.ntc_samples) | set(self.no_rt)
        samples = list(dict.fromkeys(s for s, _ in sets if s not in controls))
        targets = list(dict.fromkeys(t for _, t in sets if t not in self.reference_genes))
        if self.calibrator not in samples:
            raise ValueError(f"calibrator: sample {self.calibrator!r} is not in the data")
        for gene in self.reference_genes:
            if (self.calibrator, gene) not in sets:
                raise ValueError(
                    f"reference_genes: {gene} was not measured in the calibrator {self.calibrator}"
                )
        flags: list[str] = []
        for replicate in sets.values():
            if replicate.sample not in controls:
                flags.extend(replicate.flags)

        def mean_cq(sample: str, gene: str) -> float:
            found = sets.get((sample, gene))
            return found.mean if found is not None else math.nan

        def sd_cq(sample: str, gene: str) -> float:
            found = sets.get((sample, gene))
            return found.sd if found is not None else math.nan

        def log2_reference(sample: str) -> float:
            # log2 of the geometric mean of the reference genes' quantities, up to a constant.
            values = [-math.log2(self.factor(g)) * mean_cq(sample, g) for g in self.reference_genes]
            return float(np.mean(values))

        def reference_mean(sample: str) -> float:
            return float(np.mean([mean_cq(sample, g) for g in self.reference_genes]))

        def reference_sd(sample: str) -> float:
            sds = [sd_cq(sample, g) for g in self.reference_genes]
            sds = [s if math.isfinite(s) else 0.0 for s in sds]
            return math.sqrt(sum(s * s for s in sds)) / len(sds)

        rows: list[ExpressionRow] = []
        calibrator_ref = log2_reference(self.calibrator)
        for target in targets:
            factor = math.log2(self.factor(target))
            calibrator_cq = mean_cq(self.calibrator, target)
            calibrator_delta = calibrator_cq - reference_mean(self.calibrator)
            for sample in samples:
                if (sample, target) not in sets:
                    continue
                cq = mean_cq(sample, target)
                sample_ref = log2_reference(sample)
                log2_fold = factor * (calibrator_cq - cq) + (calibrator_ref - sample_ref)
                delta = cq - reference_mean(sample)
                delta_delta = delta - calibrator_delta
                s_target = sd_cq(sample, target)
                s = math.sqrt((s_target if math.isfinite(s_target) else 0.0) ** 2 + reference_sd(sample) ** 2)
                row_flags = tuple(sets[(sample, target)].flags)
                if not math.isfinite(log2_fold):
                    row_flags += (f"{sample} {target}: no fold change (a Cq is undetermined)",)
                fold = 2.0**log2_fold if math.isfinite(log2_fold) else math.nan
                rows.append(
                    ExpressionRow(
                        sample=sample,
                        target=target,
                        cq=cq,
                        cq_sd=s_target,
                        delta_cq=delta,
                        delta_delta_cq=delta_delta,
                        fold=fold,
                        fold_low=2.0 ** (log2_fold - s) if math.isfinite(log2_fold) else math.nan,
                        fold_high=2.0 ** (log2_fold + s) if math.isfinite(log2_fold) else math.nan,
                        flags=row_flags,
                    )
                )
        stability: dict[str, float] = {}
        if len(self.reference_genes) >= 2:
            usable = [s for s in samples if all(math.isfinite(mean_cq(s, g)) for g in self.reference_genes)]
            if len(usable) >= 2:
                stability = genorm_m(
                    {
                        g: [-math.log2(self.factor(g)) * mean_cq(s, g) for s in usable]
                        for g in self.reference_genes
                    }
                )
        checks = self._controls(sets, samples, mean_cq)
        if self.require_ntc:
            with_ntc = {t for s, t in sets if s in self.ntc_samples}
            flags.extend(
                f"{gene}: no NTC on the plate"
                for gene in (*self.reference_genes, *targets)
                if gene not in with_ntc
            )
        flags.extend(f"{c.kind} {c.sample} {c.target}: {c.detail}" for c in checks if not c.passed)
        return ExpressionResult(
            method=self.method,
            calibrator=self.calibrator,
            reference_genes=tuple(self.reference_genes),
            amplification={g: self.factor(g) for g in (*self.reference_genes, *targets)},
            rows=tuple(rows),
            replicates=tuple(sets.values()),
            stability=stability,
            controls=tuple(checks),
            flags=tuple(dict.fromkeys(flags)),
        )

    def _controls(
        self,
        sets: Mapping[tuple[str, str], ReplicateSet],
        samples: Sequence[str],
        mean_cq: Any,
    ) -> list[ControlCheck]:
        checks = []
        for (sample, target), replicate in sets.items():
            if sample in self.ntc_samples:
                earliest = min(replicate.determined) if replicate.determined else math.nan
                passed = not earliest < self.ntc_cq_limit
                detail = (
                    "no amplification"
                    if not replicate.determined
                    else f"Cq {earliest:.2f} {'>=' if passed else '<'} {self.ntc_cq_limit:g}"
                )
                checks.append(ControlCheck("NTC", sample, target, earliest, passed, detail))
            elif sample in self.no_rt:
                plus = self.no_rt[sample]
                earliest = min(replicate.determined) if replicate.determined else math.nan
                plus_cq = mean_cq(plus, target)
                if not replicate.determined:
                    checks.append(ControlCheck("no-RT", sample, target, earliest, True, "no amplification"))
                    continue
                lag = earliest - plus_cq
                passed = lag >= self.no_rt_min_delta
                detail = (
                    f"{lag:.2f} cycles after {plus} ({'>=' if passed else '<'} {self.no_rt_min_delta:g})"
                    if math.isfinite(lag)
                    else f"{plus} has no Cq for {target} to compare with"
                )
                checks.append(
                    ControlCheck("no-RT", sample, target, earliest, passed and math.isfinite(lag), detail)
                )
        return checks


@dataclass(frozen=True)
class PanelTrend:
    """Fold changes of a gene panel across passages (and cumulative population doublings) of one cell line."""

    title: str
    genes: tuple[str, ...]
    samples: tuple[str, ...]
    passage: tuple[float, ...]
    cpd: tuple[float, ...]
    fold: Mapping[str, tuple[float, ...]]
    alert_fold: float | None = None

    @property
    def alerts(self) -> tuple[str, ...]:
        if self.alert_fold is None:
            return ()
        found = []
        for gene in self.genes:
            for sample, value in zip(self.samples, self.fold[gene], strict=True):
                if math.isfinite(value) and value >= self.alert_fold:
                    found.append(f"{sample}: {gene} {value:.2f}-fold >= {self.alert_fold:g}")
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "genes": list(self.genes),
            "samples": list(self.samples),
            "passage": [_json(p) for p in self.passage],
            "cpd": [_json(c) for c in self.cpd],
            "fold": {g: [_json(v) for v in values] for g, values in self.fold.items()},
            "alert_fold": self.alert_fold,
            "alerts": list(self.alerts),
        }

    def plot(self, ax: Any = None) -> Any:
        """log2 fold against passage (and against CPD when known, in a second panel)."""
        from matplotlib.figure import Figure

        with_cpd = any(math.isfinite(c) for c in self.cpd)
        if ax is None:
            figure = Figure(figsize=(7.2 if with_cpd else 4.8, 3.6), layout="constrained")
            made: Any = figure.subplots(1, 2 if with_cpd else 1, sharey=True, squeeze=False)
            axes: list[Any] = list(made[0])
        else:
            figure = ax.figure
            axes = [ax]
        for axis, x, label in zip(
            axes, (self.passage, self.cpd), ("passage", "cumulative population doublings"), strict=False
        ):
            order = np.argsort(np.asarray(x, dtype=np.float64))
            for gene in self.genes:
                values = np.asarray(self.fold[gene], dtype=np.float64)
                y = np.log2(np.where(values > 0, values, np.nan))
                axis.plot(np.asarray(x)[order], y[order], marker="o", label=gene)
            if self.alert_fold is not None:
                axis.axhline(math.log2(self.alert_fold), color="tab:red", linestyle="--", linewidth=0.8)
            axis.axhline(0, color="black", linewidth=0.6)
            axis.set_xlabel(label)
        axes[0].set_ylabel("log2 fold vs calibrator")
        axes[0].set_title(self.title)
        axes[0].legend(fontsize="small")
        return figure


def panel_trend(
    result: ExpressionResult,
    genes: Sequence[str],
    passage: Mapping[str, float],
    cpd: Mapping[str, float] | None = None,
    *,
    title: str = "",
    alert_fold: float | None = None,
) -> PanelTrend:
    """The panel's fold changes for the samples whose passage is known, ordered by passage."""
    measured = [g for g in genes if any(r.target == g for r in result.rows)]
    samples = sorted({r.sample for r in result.rows if r.sample in passage}, key=lambda s: (passage[s], s))
    fold = {g: tuple(_fold_or_nan(result, s, g) for s in samples) for g in measured}
    return PanelTrend(
        title=title,
        genes=tuple(measured),
        samples=tuple(samples),
        passage=tuple(float(passage[s]) for s in samples),
        cpd=tuple(float((cpd or {}).get(s, math.nan)) for s in samples),
        fold=fold,
        alert_fold=alert_fold,
    )


def _fold_or_nan(result: ExpressionResult, sample: str, gene: str) -> float:
    try:
        return result.fold(sample, gene)
    except KeyError:
        return math.nan


def passage_of(sample: str, pattern: str = r"\bP(\d+)\b") -> float | None:
    """The passage number a sample name carries (``"CM-001 P4"`` -> 4), or None."""
    match = re.search(pattern, sample)
    return float(match.group(1)) if match else None
