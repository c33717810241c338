"""Secretome panels: reported concentrations with their quantitation rules, blank subtraction, normalisation,
and the panel heat-map.

From a fitted standard curve (:class:`~secretome.analysis.doseresponse.CurveFit`) and the replicate responses
of one sample at one or more dilutions, :func:`quantify` gives one :class:`Quantity`: the concentration in
the sample (dilution applied), or a censored value when no dilution reads inside the quantitation range:

- below the LLOQ: qualifier ``"<"`` with ``value = LLOQ x dilution`` (the smallest such bound over the
  dilutions) and the interval ``[0, value]``; ``0`` or ``LLOQ/2`` only when the rules say so (then the
  qualifier is ``"="`` and a flag says the value is imputed);
- above the ULOQ: qualifier ``">"`` with ``value = ULOQ x dilution`` (the largest bound).

Readings inside the range at several dilutions are averaged (standard errors combined as for a mean).
:func:`subtract_blank` removes a medium-only blank measured on the same plate, propagating its standard
error (``se = sqrt(se_sample^2 + se_blank^2)``); :func:`normalisation_factor` turns a per-mL value into
pg per 10^6 cells per 24 h (``value x V / (N / 10^6) / (t / 24)``) or per ug of total protein
(``value / protein``). Pure: numpy and scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from secretome.analysis.doseresponse import BackCalculation, CurveFit

BELOW_LLOQ_RULES = ("lloq", "half_lloq", "zero")
NORMALISATIONS = ("per_ml", "per_million_cells_per_24h", "per_ug_protein", "none")

#: Mass and amount prefixes a reporting unit may change (``pg/mL`` -> ``ng/mL``).
_PREFIXES = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "\u00b5": 1e-6, "\u03bc": 1e-6, "m": 1e-3, "": 1.0}


@dataclass(frozen=True)
class Quantity:
    """One reported concentration of one sample and analyte.

    ``value`` is after the dilution (and, once :func:`subtract_blank` ran, net of the blank); ``qualifier``
    is ``"="``, ``"<"`` (``value`` is the bound LLOQ x dilution) or ``">"`` (ULOQ x dilution); ``se`` and
    ``interval`` are for ``"="`` values (``interval`` is ``[0, bound]`` below the LLOQ and ``None`` above the
    ULOQ); ``readings`` are the back-calculations of each dilution.
    """

    sample: str
    value: float | None
    qualifier: str
    se: float | None
    interval: tuple[float, float] | None
    readings: tuple[BackCalculation, ...] = ()
    flags: tuple[str, ...] = ()
    blank: float | None = None
    blank_se: float | None = None

    def scaled(self, factor: float) -> Quantity:
        """The same quantity times ``factor`` (normalisation, unit change); ``ValueError`` unless positive."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"factor: must be a positive number, not {factor}")
        return replace(
            self,
            value=None if self.value is None else self.value * factor,
            se=None if self.se is None else self.se * factor,
            interval=None
            if self.interval is None
            else (self.interval[0] * factor, self.interval[1] * factor),
            blank=None if self.blank is None else self.blank * factor,
            blank_se=None if self.blank_se is None else self.blank_se * factor,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "value": _finite(self.value),
            "qualifier": self.qualifier,
            "se": _finite(self.se),
            "interval": None if self.interval is None else [_finite(v) for v in self.interval],
            "blank": _finite(self.blank),
            "blank_se": _finite(self.blank_se),
            "flags": list(self.flags),
            "readings": [r.to_dict() for r in self.readings],
        }

    def text(self, unit: str = "") -> str:
        """``"< 125 pg/mL"``, ``"1.53e+03 pg/mL"``: how the value reads on a report."""
        if self.value is None:
            return "not reportable"
        prefix = "" if self.qualifier == "=" else f"{self.qualifier} "
        return f"{prefix}{self.value:.4g} {unit}".strip()


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _side(fit: CurveFit, response: float) -> str:
    """Whether a response no curve value reaches lies below the lowest or above the highest concentration."""
    low, high = fit.predict(np.array([1e-300, 1e300]))
    return "below" if abs(response - float(low)) < abs(response - float(high)) else "above"


def quantify(
    fit: CurveFit,
    readings: Sequence[tuple[float, ArrayLike]],
    *,
    sample: str = "",
    below_lloq: str = "lloq",
) -> Quantity:
    """The concentration of ``sample`` from its replicate responses at each dilution.

    Parameters
    ----------
    fit
        The standard curve (with its LLOQ and ULOQ).
    readings
        ``(dilution factor, replicate responses)`` pairs, one per dilution.
    sample
        The sample's name, carried into the result.
    below_lloq
        ``"lloq"`` (report ``< LLOQ x dilution``), ``"half_lloq"`` or ``"zero"`` (impute that value, flagged).

    Returns
    -------
    Quantity
        ``"="`` with the mean over the dilutions read inside [LLOQ, ULOQ]; otherwise ``"<"``/``">"``.
    """
    if below_lloq not in BELOW_LLOQ_RULES:
        raise ValueError(f"below_lloq: {below_lloq!r} is not one of {', '.join(BELOW_LLOQ_RULES)}")
    if not readings:
        raise ValueError(f"readings: sample {sample!r} has no readings")
    calculations = tuple(
        fit.back_calculate(np.asarray(responses, dtype=float), sample=sample, dilution=float(dilution))
        for dilution, responses in readings
    )
    inside: list[BackCalculation] = []
    below: list[float] = []
    above: list[float] = []
    flags: list[str] = []
    for calc in calculations:
        for flag in calc.flags:
            if flag in ("cv_over_limit", "replicate_outside_asymptotes", "no_quantitation_range"):
                flags.append(flag)
        if fit.lloq is None or fit.uloq is None:
            if calc.concentration is not None:
                inside.append(calc)
            continue
        if calc.concentration is None:
            mean = float(np.mean(calc.responses))
            (below if _side(fit, mean) == "below" else above).append(
                (fit.lloq if _side(fit, mean) == "below" else fit.uloq) * calc.dilution
            )
        elif "below_lloq" in calc.flags:
            below.append(fit.lloq * calc.dilution)
        elif "above_uloq" in calc.flags:
            above.append(fit.uloq * calc.dilution)
        else:
            inside.append(calc)
    flags = list(dict.fromkeys(flags))
    if inside:
        values = np.array([c.concentration for c in inside], dtype=float)
        errors = np.array([c.se if c.se is not None else math.nan for c in inside], dtype=float)
        value = float(np.mean(values))
        se = float(np.sqrt(np.sum(errors**2)) / values.size)
        half = fit.t_quantile * se
        interval = (value - half, value + half) if math.isfinite(half) else None
        if below or above:
            flags.append("dilutions_outside_range")
        return Quantity(sample, value, "=", _finite(se), interval, calculations, tuple(flags))
    if below and not above:
        bound = min(below)
        if below_lloq == "lloq":
            return Quantity(sample, bound, "<", None, (0.0, bound), calculations, (*flags, "below_lloq"))
        imputed = bound / 2 if below_lloq == "half_lloq" else 0.0
        return Quantity(
            sample,
            imputed,
            "=",
            None,
            (0.0, bound),
            calculations,
            (*flags, "below_lloq", f"imputed_{below_lloq}"),
        )
    if above:
        if below:
            flags.append("dilutions_disagree")
        return Quantity(sample, max(above), ">", None, None, calculations, (*flags, "above_uloq"))
    return Quantity(sample, None, "=", None, None, calculations, (*flags, "not_reportable"))


def subtract_blank(quantity: Quantity, blank: Quantity) -> Quantity:
    """``quantity`` net of a medium-only ``blank`` measured on the same plate, with propagated error.

    A blank read inside the range is subtracted from ``"="`` and ``">"`` values (a lower bound ``U`` of the
    gross value gives the lower bound ``U - blank`` of the net value) and its standard error is added in
    quadrature. A blank below the LLOQ is not subtracted (flag ``blank_below_lloq``); a ``"<"`` value is kept
    as it is (the bound of the gross value bounds the net value too). A net value below zero is flagged
    ``below_medium_blank``.
    """
    if blank.qualifier != "=" or blank.value is None or "below_lloq" in blank.flags:
        flag = (
            "blank_below_lloq" if blank.qualifier == "<" or "below_lloq" in blank.flags else "blank_not_read"
        )
        return replace(quantity, flags=(*quantity.flags, flag))
    if quantity.value is None or quantity.qualifier == "<" or "below_lloq" in quantity.flags:
        return replace(quantity, blank=blank.value, blank_se=blank.se)
    value = quantity.value - blank.value
    flags = list(quantity.flags)
    if value < 0:
        flags.append("below_medium_blank")
    if quantity.qualifier == ">":
        return replace(quantity, value=value, blank=blank.value, blank_se=blank.se, flags=tuple(flags))
    se = math.hypot(quantity.se or 0.0, blank.se or 0.0)
    interval = None
    if quantity.interval is not None and quantity.se:
        t = (quantity.interval[1] - quantity.value) / quantity.se
        interval = (value - t * se, value + t * se)
    return replace(
        quantity,
        value=value,
        se=se,
        interval=interval,
        blank=blank.value,
        blank_se=blank.se,
        flags=tuple(flags),
    )


def normalisation_factor(
    normalisation: str,
    *,
    volume_ml: float | None = None,
    viable_cells: float | None = None,
    hours: float | None = None,
    protein_ug_per_ml: float | None = None,
) -> float:
    """The factor that turns a per-mL concentration into the normalised value.

    ``per_ml`` (and ``none``): 1; ``per_million_cells_per_24h``: ``V / (N / 10^6) / (t / 24)`` (V mL of medium conditioned
    by N viable cells for t hours); ``per_ug_protein``: ``1 / protein`` (ug/mL). ``ValueError`` naming what is
    missing.
    """
    if normalisation in ("per_ml", "none"):
        return 1.0
    if normalisation == "per_million_cells_per_24h":
        for name, value in (("volume_ml", volume_ml), ("viable_cells", viable_cells), ("hours", hours)):
            if value is None or not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: normalisation per 10^6 cells per 24 h needs a positive {name}")
        assert volume_ml is not None and viable_cells is not None and hours is not None
        return volume_ml / (viable_cells / 1e6) / (hours / 24.0)
    if normalisation == "per_ug_protein":
        if protein_ug_per_ml is None or not (math.isfinite(protein_ug_per_ml) and protein_ug_per_ml > 0):
            raise ValueError("protein_ug_per_ml: normalisation per ug protein needs the total protein")
        return 1.0 / protein_ug_per_ml
    raise ValueError(f"normalisation: {normalisation!r} is not one of {', '.join(NORMALISATIONS)}")


def normalised_unit(concentration_unit: str, normalisation: str) -> str:
    """``pg/mL`` -> ``pg/mL``, ``pg/10^6 cells/24 h``, ``pg/ug protein``."""
    amount = concentration_unit.split("/", 1)[0].strip() or concentration_unit
    if normalisation in ("per_ml", "none"):
        return concentration_unit
    if normalisation == "per_million_cells_per_24h":
        return f"{amount}/10^6 cells/24 h"
    if normalisation == "per_ug_protein":
        return f"{amount}/ug protein"
    raise ValueError(f"normalisation: {normalisation!r} is not one of {', '.join(NORMALISATIONS)}")


def unit_factor(source: str, target: str) -> float:
    """The factor from ``source`` to ``target`` when they differ only by an SI prefix of the numerator
    (``pg/mL`` -> ``ng/mL`` is 1e-3); ``ValueError`` otherwise."""
    if source == target:
        return 1.0
    source_head, _, source_tail = source.partition("/")
    target_head, _, target_tail = target.partition("/")
    if source_tail != target_tail:
        raise ValueError(f"unit: cannot convert {source!r} to {target!r}")
    for base in ("g", "M", "mol", "U", "IU"):
        if source_head.endswith(base) and target_head.endswith(base):
            a, b = source_head[: -len(base)], target_head[: -len(base)]
            if a in _PREFIXES and b in _PREFIXES:
                return _PREFIXES[a] / _PREFIXES[b]
    raise ValueError(f"unit: cannot convert {source!r} to {target!r}")


# ---------------------------------------------------------------------------------------------------------
# Heat-map of panels
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PanelHeatmap:
    """Panels of one or more lots on a log10 scale, analytes in the order of their hierarchical clustering.

    ``log10`` is ``lots x analytes`` (NaN where a lot has no value); ``censored`` marks ``<``/``>`` values
    (drawn at their bound and annotated); ``order`` the analytes' leaf order; ``linkage`` the scipy linkage
    matrix (average linkage, Euclidean distance between the analytes' standardised log profiles across the
    lots; with one lot, between their log values).
    """

    lots: tuple[str, ...]
    analytes: tuple[str, ...]
    log10: np.ndarray[Any, np.dtype[np.float64]] = field(repr=False, compare=False)
    qualifiers: tuple[tuple[str, ...], ...]
    linkage: tuple[tuple[float, ...], ...]
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "lots": list(self.lots),
            "analytes": list(self.analytes),
            "log10": [[_finite(float(v)) for v in row] for row in self.log10],
            "qualifiers": [list(row) for row in self.qualifiers],
            "linkage": [list(row) for row in self.linkage],
            "unit": self.unit,
        }

    def plot(self, ax: Any = None) -> Any:
        """Draw the heat-map (lots as rows, clustered analytes as columns); returns the figure."""
        from matplotlib.figure import Figure

        if ax is None:
            width = 1.6 + 0.55 * len(self.analytes)
            figure = Figure(figsize=(max(width, 4.0), 1.4 + 0.45 * len(self.lots)), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        masked = np.ma.masked_invalid(self.log10)
        image = ax.imshow(masked, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(self.analytes)), self.analytes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(self.lots)), self.lots, fontsize=8)
        for i, row in enumerate(self.qualifiers):
            for j, qualifier in enumerate(row):
                if qualifier in ("<", ">"):
                    ax.text(j, i, qualifier, ha="center", va="center", color="white", fontsize=9)
        colorbar = figure.colorbar(image, ax=ax)
        colorbar.set_label(f"log10 {self.unit}".strip(), fontsize=8)
        ax.set_title("secretome panel (analytes clustered)", fontsize=9)
        return figure


def panel_heatmap(
    panels: Mapping[str, Mapping[str, float | None]],
    qualifiers: Mapping[str, Mapping[str, str]] | None = None,
    *,
    unit: str = "",
) -> PanelHeatmap:
    """The heat-map of ``panels`` (lot -> analyte -> value, positive); analytes clustered hierarchically.

    Values that are missing or not positive cannot go on a log scale and are left empty (NaN).
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    if not panels:
        raise ValueError("panels: no lot to draw")
    lots = tuple(panels)
    analytes = tuple(sorted({a for panel in panels.values() for a in panel}))
    if not analytes:
        raise ValueError("panels: the lots have no analyte values")
    matrix = np.full((len(lots), len(analytes)), np.nan)
    for i, lot in enumerate(lots):
        for j, analyte in enumerate(analytes):
            value = panels[lot].get(analyte)
            if value is not None and math.isfinite(value) and value > 0:
                matrix[i, j] = math.log10(value)
    order = np.arange(len(analytes))
    tree = np.zeros((0, 4))
    if len(analytes) > 2:
        profiles = matrix.T.copy()
        if len(lots) > 1:
            # Standardised profiles: analytes cluster by how they vary across lots, not by their abundance.
            mean = np.nanmean(profiles, axis=1, keepdims=True)
            spread = np.nanstd(profiles, axis=1, keepdims=True)
            profiles = (profiles - mean) / np.where(spread > 0, spread, 1.0)
        profiles = np.nan_to_num(profiles, nan=0.0)
        tree = linkage(profiles, method="average", metric="euclidean")
        order = leaves_list(tree)
    given = qualifiers or {}
    ordered = tuple(analytes[k] for k in order)
    return PanelHeatmap(
        lots=lots,
        analytes=ordered,
        log10=matrix[:, order],
        qualifiers=tuple(tuple(given.get(lot, {}).get(a, "=") for a in ordered) for lot in lots),
        linkage=tuple(tuple(float(v) for v in row) for row in tree),
        unit=unit,
    )


__all__: Sequence[str] = [
    "BELOW_LLOQ_RULES",
    "NORMALISATIONS",
    "PanelHeatmap",
    "Quantity",
    "normalisation_factor",
    "normalised_unit",
    "panel_heatmap",
    "quantify",
    "subtract_blank",
    "unit_factor",
]
