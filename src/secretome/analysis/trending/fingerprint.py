"""Secretome-fingerprint comparability: Hotelling T^2 of new lots against a reference set, the
Mason-Young-Tracy unconditional terms, and PCA on the reference correlation matrix.

Conventions (the contract of ``secretome trend compare``): values are used as given (log-transform
before, if the analytes are concentrations). The reference covariance has denominator n - 1. A new lot's
T^2 = (y - mean)' S^-1 (y - mean) is compared with the Phase II limit
p (n + 1)(n - 1) / (n (n - p)) F(1 - alpha; p, n - p) and flagged when strictly above. Each analyte's
unconditional MYT term T_j^2 = (y_j - mean_j)^2 / s_j^2 is compared with (n + 1)/n F(1 - alpha; 1, n - 1),
naming the analytes responsible. PCA: eigenvectors of the reference correlation matrix, components in
decreasing eigenvalue order, each component's sign chosen so that its largest-magnitude loading is
positive; scores are the autoscaled values (reference means and SDs) times the loadings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from secretome.analysis.trending.rules import FloatArray


@dataclass(frozen=True)
class FingerprintPCA:
    """PCA of the reference lots on their correlation matrix, with every lot's scores."""

    analytes: tuple[str, ...]
    eigenvalues: FloatArray
    loadings: FloatArray  # analytes x components
    reference_scores: FloatArray
    new_scores: FloatArray

    @property
    def explained(self) -> FloatArray:
        result: FloatArray = self.eigenvalues / self.eigenvalues.sum()
        return result

    def to_dict(self, reference_ids: Sequence[str], new_ids: Sequence[str]) -> dict[str, Any]:
        return {
            "basis": "correlation matrix of the reference lots",
            "eigenvalues": self.eigenvalues.tolist(),
            "explained_variance_ratio": self.explained.tolist(),
            "loadings": {a: self.loadings[j].tolist() for j, a in enumerate(self.analytes)},
            "reference_scores": [
                {"lot_id": lot, "scores": self.reference_scores[i].tolist()}
                for i, lot in enumerate(reference_ids)
            ],
            "new_scores": [
                {"lot_id": lot, "scores": self.new_scores[i].tolist()} for i, lot in enumerate(new_ids)
            ],
        }


@dataclass(frozen=True)
class ComparabilityResult:
    """Hotelling T^2 of each new lot against the reference set, with MYT terms and PCA."""

    analytes: tuple[str, ...]
    reference_ids: tuple[str, ...]
    new_ids: tuple[str, ...]
    alpha: float
    reference_mean: FloatArray
    covariance: FloatArray
    t2: FloatArray
    ucl: float
    myt_unconditional: FloatArray  # new lots x analytes
    myt_ucl: float
    pca: FingerprintPCA

    @property
    def n_reference(self) -> int:
        return len(self.reference_ids)

    @property
    def flagged(self) -> tuple[bool, ...]:
        return tuple(bool(v > self.ucl) for v in self.t2)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``secretome trend compare``."""
        return {
            "n_reference": self.n_reference,
            "p": len(self.analytes),
            "alpha": self.alpha,
            "analytes": list(self.analytes),
            "ucl": self.ucl,
            "myt_ucl": self.myt_ucl,
            "lots": [
                {
                    "lot_id": lot,
                    "t2": float(self.t2[i]),
                    "flagged": self.flagged[i],
                    "myt_unconditional": {
                        a: float(self.myt_unconditional[i, j]) for j, a in enumerate(self.analytes)
                    },
                    "analytes_responsible": [
                        a for j, a in enumerate(self.analytes) if self.myt_unconditional[i, j] > self.myt_ucl
                    ],
                }
                for i, lot in enumerate(self.new_ids)
            ],
            "pca": self.pca.to_dict(self.reference_ids, self.new_ids),
        }

    def plot(self, ax: Any = None) -> Any:
        """PCA score plot (PC1 vs PC2) of reference and new lots; new lots flagged by T^2 in red."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(5.6, 4.6), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        ref, new = self.pca.reference_scores, self.pca.new_scores
        second = 1 if ref.shape[1] > 1 else 0
        ax.scatter(ref[:, 0], ref[:, second], color="0.5", s=18, label="reference lots")
        colours = ["tab:red" if f else "tab:blue" for f in self.flagged]
        ax.scatter(new[:, 0], new[:, second], c=colours, marker="D", s=26, label="new lots")
        for i, lot in enumerate(self.new_ids):
            ax.annotate(lot, (new[i, 0], new[i, second]), fontsize=7)
        explained = self.pca.explained
        ax.set_xlabel(f"PC1 ({100 * explained[0]:.0f} %)")
        ax.set_ylabel(f"PC{second + 1} ({100 * explained[second]:.0f} %)")
        ax.axhline(0, color="0.8", linewidth=0.7)
        ax.axvline(0, color="0.8", linewidth=0.7)
        ax.legend(fontsize=7)
        return figure


def _matrix(values: Any, name: str, p: int | None = None) -> FloatArray:
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"{name}: expected a table of lots x analytes")
    if p is not None and matrix.shape[1] != p:
        raise ValueError(f"{name}: {matrix.shape[1]} analytes, the reference has {p}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name}: every value must be a finite number")
    return matrix


def correlation_pca(reference: Any, new: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Eigenvalues, loadings (sign convention applied) and scores of reference and new lots."""
    mean = reference.mean(axis=0)
    sd = reference.std(axis=0, ddof=1)
    z_ref = (reference - mean) / sd
    z_new = (new - mean) / sd
    correlation = np.corrcoef(reference, rowvar=False).reshape(reference.shape[1], reference.shape[1])
    eigenvalues, vectors = np.linalg.eigh(correlation)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    biggest = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[biggest, np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    return np.clip(eigenvalues, 0.0, None), vectors, z_ref @ vectors, z_new @ vectors


class HotellingT2:
    """Phase II Hotelling T^2 comparability of new lots against a reference set of lots.

    Parameters
    ----------
    alpha
        False-signal probability per lot for the T^2 and MYT limits (default 0.05).
    """

    def __init__(self, alpha: float = 0.05) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha: a probability strictly between 0 and 1")
        self.alpha = alpha

    def fit(
        self,
        reference: Any,
        new: Any,
        analytes: Sequence[str],
        reference_ids: Sequence[str] | None = None,
        new_ids: Sequence[str] | None = None,
    ) -> ComparabilityResult:
        """T^2, MYT terms and PCA scores.

        Parameters
        ----------
        reference, new
            Tables (lots x analytes) of the reference lots and of the lots to compare.
        analytes
            Analyte names, one per column.
        """
        names = tuple(str(a) for a in analytes)
        ref = _matrix(reference, "reference", len(names))
        new_lots = _matrix(new, "new", len(names))
        n, p = ref.shape
        if n <= p + 1:
            raise ValueError(f"reference: {n} lots for {p} analytes; T^2 needs more lots than analytes + 1")
        mean = ref.mean(axis=0)
        covariance = np.cov(ref, rowvar=False, ddof=1).reshape(p, p)
        sd = np.sqrt(np.diag(covariance))
        if np.any(~(sd > 0)):
            raise ValueError("reference: an analyte is constant across the reference lots")
        if np.linalg.matrix_rank(covariance) < p:
            raise ValueError("reference: the analytes are linearly dependent; the covariance is singular")
        deviation = new_lots - mean
        t2 = np.einsum("ij,ij->i", deviation @ np.linalg.inv(covariance), deviation)
        ucl = p * (n + 1) * (n - 1) / (n * (n - p)) * float(stats.f.ppf(1 - self.alpha, p, n - p))
        myt = (deviation / sd) ** 2
        myt_ucl = (n + 1) / n * float(stats.f.ppf(1 - self.alpha, 1, n - 1))
        eigenvalues, loadings, ref_scores, new_scores = correlation_pca(ref, new_lots)
        ref_ids = tuple(str(i) for i in (reference_ids or [f"R{i + 1}" for i in range(n)]))
        ids = tuple(str(i) for i in (new_ids or [f"N{i + 1}" for i in range(new_lots.shape[0])]))
        if len(ref_ids) != n or len(ids) != new_lots.shape[0]:
            raise ValueError("reference_ids: one id per lot")
        return ComparabilityResult(
            analytes=names,
            reference_ids=ref_ids,
            new_ids=ids,
            alpha=self.alpha,
            reference_mean=mean,
            covariance=covariance,
            t2=t2,
            ucl=ucl,
            myt_unconditional=myt,
            myt_ucl=myt_ucl,
            pca=FingerprintPCA(names, eigenvalues, loadings, ref_scores, new_scores),
        )
