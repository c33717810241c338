"""qPCR gene expression: fold changes of the producer cells' genes, per lot, from Cq readings.

Input: qPCR readings (QuantStudio / ViiA 7, CFX Maestro, RDML): ``cycle threshold`` rows with the sample,
well and target (``analyte``). Sample names carry the roles: the ``calibrator`` sample, the no-template
controls (``ntc_samples``), no-RT controls (the +RT sample's name with ``no_rt_suffix``), standards
(``standards``: sample -> quantity, for efficiency) and, for everything else, the producer-cell samples.
A sample reports for the lot the run maps it to, or the lot whose number its name starts with
(``"CM-2026-001 P4 CPD 14.2"``); its passage and cumulative population doublings are read from the name
with ``passage_pattern`` and ``cpd_pattern``. When several samples of a lot are on the plate, the lot's
reported values are those of its latest passage; all of them feed the panel plots against passage and CPD.

Analyst decisions exclude a well (``"<import>:<well>"``, every target of it) or one reaction
(``"<import>:<well>:<target>"``). The engine is :class:`secretome.analysis.qpcr.RelativeExpression`.

Settings
--------
``reference_genes`` (list, required), ``calibrator`` (sample, required), ``method`` (``livak`` or
``pfaffl``), ``efficiencies`` (target -> efficiency in %, for ``pfaffl``; standards on the plate override),
``standards`` (sample -> quantity), ``ntc_samples``, ``require_ntc`` (flag genes without an NTC),
``no_rt_suffix``, ``sd_limit`` (cycles),
``ntc_cq_limit``, ``no_rt_min_delta`` (cycles), ``efficiency_range`` ([low, high] in %),
``min_r_squared``, ``attributes`` (attribute code -> target gene), ``passage_pattern``, ``cpd_pattern``,
``alert_fold`` (senescence alert, fold over the calibrator), ``pluripotency_genes``, ``senescence_genes``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.qpcr import (
    PLURIPOTENCY_GENES,
    SENESCENCE_GENES,
    CqWell,
    EfficiencyResult,
    ExpressionResult,
    RelativeExpression,
    fit_efficiency,
    panel_trend,
)
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext, json_number
from secretome.methods.kinds.nta import figure_svg
from secretome.methods.registry import register

ENGINE = "secretome.analysis.qpcr.RelativeExpression"
REQUIRED = ("reference_genes", "calibrator")
DEFAULTS: dict[str, Any] = {
    "reference_genes": [],
    "calibrator": "",
    "method": "livak",
    "efficiencies": {},
    "standards": {},
    "ntc_samples": ["NTC"],
    "require_ntc": True,
    "no_rt_suffix": " noRT",
    "sd_limit": 0.3,
    "ntc_cq_limit": 35.0,
    "no_rt_min_delta": 5.0,
    "efficiency_range": [90.0, 110.0],
    "min_r_squared": 0.98,
    "attributes": {},
    "passage_pattern": r"\bP(\d+)\b",
    "cpd_pattern": r"\bCPD\s*(\d+(?:\.\d+)?)",
    "alert_fold": 2.0,
    "pluripotency_genes": list(PLURIPOTENCY_GENES),
    "senescence_genes": list(SENESCENCE_GENES),
}
_RDML_ROLES = {"sample type ntc": "ntc", "sample type nrt": "nrt", "sample type std": "std"}


class QpcrKind:
    """The ``qpcr`` method kind."""

    name = "qpcr"
    title = "qPCR gene expression (relative quantification)"
    input_families: tuple[str, ...] = ("qpcr",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{unknown[0]}: not a setting of the qpcr kind (known: {', '.join(DEFAULTS)})")
        for key in REQUIRED:
            if not settings.get(key):
                raise ValueError(f"{key}: required by the qpcr kind")
        checked = {**DEFAULTS, **settings}
        if isinstance(checked["reference_genes"], str):
            checked["reference_genes"] = [checked["reference_genes"]]
        checked["reference_genes"] = [str(g) for g in checked["reference_genes"]]
        checked["ntc_samples"] = [str(s) for s in checked["ntc_samples"]]
        for key in ("efficiencies", "standards", "attributes"):
            if not isinstance(checked[key], Mapping):
                raise ValueError(f"{key}: must be a mapping")
        try:
            checked["efficiencies"] = {str(k): float(v) for k, v in checked["efficiencies"].items()}
            checked["standards"] = {str(k): float(v) for k, v in checked["standards"].items()}
            for key in ("sd_limit", "ntc_cq_limit", "no_rt_min_delta", "min_r_squared", "alert_fold"):
                checked[key] = float(checked[key])
            low, high = (float(v) for v in checked["efficiency_range"])
        except (TypeError, ValueError):
            raise ValueError(
                "efficiencies, standards, efficiency_range and the limits: must be numbers"
            ) from None
        if not 0 < low < high:
            raise ValueError(f"efficiency_range: [{low}, {high}] is not an increasing range of percentages")
        checked["efficiency_range"] = [low, high]
        if any(q <= 0 for q in checked["standards"].values()):
            raise ValueError("standards: quantities must be positive")
        checked["attributes"] = {str(k): str(v) for k, v in checked["attributes"].items()}
        for key in ("passage_pattern", "cpd_pattern"):
            try:
                if re.compile(checked[key]).groups < 1:
                    raise ValueError(f"{key}: the pattern needs one group capturing the number")
            except re.error as exc:
                raise ValueError(f"{key}: not a regular expression ({exc})") from None
        # The engine checks the rest and names the parameter.
        RelativeExpression(
            reference_genes=tuple(checked["reference_genes"]),
            calibrator=str(checked["calibrator"]),
            method=str(checked["method"]),
            amplification={g: 1 + e / 100 for g, e in checked["efficiencies"].items()},
            sd_limit=checked["sd_limit"],
            ntc_cq_limit=checked["ntc_cq_limit"],
            no_rt_min_delta=checked["no_rt_min_delta"],
        )
        return checked

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome:
        checked = self.check_settings(settings)
        if not inputs:
            raise ValueError("inputs: a qPCR analysis needs at least one qPCR result file")
        wells: list[CqWell] = []
        standards: dict[str, list[tuple[float, float]]] = {}
        ntc = set(checked["ntc_samples"])
        rdml_nrt: set[str] = set()
        used: list[str] = []
        excluded: dict[str, str] = {}
        quantities = {}
        for item in inputs:
            if item.reading.family != "qpcr":
                raise ValueError(f"inputs: {item.filename} is a {item.reading.family} file, not qPCR")
            for m in item.reading.measurements:
                if m.quantity == "starting copies":
                    quantities[(item.import_id, m.well, m.analyte)] = m.value
            for m in item.reading.measurements:
                if m.quantity != "cycle threshold":
                    continue
                well_key = f"{item.import_id}:{m.well}"
                reaction_key = f"{well_key}:{m.analyte}"
                reason = decisions.excluded.get(reaction_key) or decisions.excluded.get(well_key)
                if reason is not None:
                    excluded[reaction_key] = reason
                    continue
                used.append(reaction_key)
                roles = {_RDML_ROLES[f] for f in m.flags if f in _RDML_ROLES}
                if "ntc" in roles:
                    ntc.add(m.sample)
                if "nrt" in roles:
                    rdml_nrt.add(m.sample)
                quantity = checked["standards"].get(m.sample)
                if quantity is None and "std" in roles:
                    quantity = quantities.get((item.import_id, m.well, m.analyte))
                if quantity is not None:
                    standards.setdefault(m.analyte, []).append((quantity, m.value))
                    continue
                # Well names repeat across files: prefix the import so replicate sets stay apart per well.
                wells.append(CqWell(well_key, m.sample, m.analyte, m.value))
        curves: dict[str, EfficiencyResult] = {}
        flags: list[str] = []
        low, high = checked["efficiency_range"]
        for target, points in sorted(standards.items()):
            try:
                curves[target] = fit_efficiency(
                    [q for q, _ in points],
                    [c for _, c in points],
                    target,
                    efficiency_range=(low / 100, high / 100),
                    min_r_squared=checked["min_r_squared"],
                )
            except ValueError as exc:
                flags.append(f"standard curve {target}: {exc}")
        amplification = {g: 1 + e / 100 for g, e in checked["efficiencies"].items()}
        amplification.update({t: c.amplification for t, c in curves.items() if 1.0 < c.amplification <= 2.2})
        for curve in curves.values():
            flags.extend(curve.flags)
        samples = list(dict.fromkeys(w.sample for w in wells))
        suffix = checked["no_rt_suffix"]
        no_rt = {s: s.removesuffix(suffix) for s in samples if suffix and s.endswith(suffix)}
        for sample in rdml_nrt - set(no_rt):
            no_rt[sample] = sample
        engine = RelativeExpression(
            reference_genes=tuple(checked["reference_genes"]),
            calibrator=str(checked["calibrator"]),
            method=str(checked["method"]),
            amplification=amplification,
            sd_limit=checked["sd_limit"],
            ntc_samples=tuple(sorted(ntc)),
            no_rt=no_rt,
            ntc_cq_limit=checked["ntc_cq_limit"],
            no_rt_min_delta=checked["no_rt_min_delta"],
            require_ntc=bool(checked["require_ntc"]),
        )
        result = engine.fit(wells)
        flags.extend(result.flags)
        passage, cpd = self._passages(result, checked)
        lots = self._lots(result, context, passage, checked)
        reportables = self._reportables(result, lots, passage, checked, curves)
        plots = [("Relative expression", figure_svg(result.plot()))]
        trends: dict[str, Any] = {}
        panels = (
            ("pluripotency", checked["pluripotency_genes"], None),
            ("senescence", checked["senescence_genes"], checked["alert_fold"]),
        )
        for lot, lot_samples in sorted(lots.items()):
            with_passage = {s: passage[s] for s in lot_samples if s in passage}
            if checked["calibrator"] in passage:
                with_passage[checked["calibrator"]] = passage[checked["calibrator"]]
            for title, genes, alert in panels:
                trend = panel_trend(
                    result, genes, with_passage, cpd, title=f"{lot}: {title} genes", alert_fold=alert
                )
                if not trend.genes or not trend.samples:
                    continue
                trends.setdefault(lot, {})[title] = trend.to_dict()
                flags.extend(f"{lot}: senescence alert, {a}" for a in trend.alerts)
        # One figure per panel for the whole plate: the lots' producer cells at their passages side by side
        # show the trend a single lot's two points cannot (and a figure per lot would dominate the run time).
        plotted = {
            s: passage[s]
            for s in (*(s for ss in lots.values() for s in ss), checked["calibrator"])
            if s in passage
        }
        for title, genes, alert in panels:
            trend = panel_trend(result, genes, plotted, cpd, title=f"{title} genes", alert_fold=alert)
            if trend.genes and len(trend.samples) > 1:
                plots.append((f"{title.capitalize()} genes against passage", figure_svg(trend.plot())))
        for curve in curves.values():
            plots.append((f"Standard curve, {curve.target}", figure_svg(curve.plot())))
        return KindOutcome(
            engine=ENGINE,
            result={
                "settings": checked,
                "expression": result.to_dict(),
                "standard_curves": {t: c.to_dict() for t, c in sorted(curves.items())},
                "lots": {lot: sorted(s) for lot, s in sorted(lots.items())},
                "passage": dict(sorted(passage.items())),
                "cpd": dict(sorted(cpd.items())),
                "panels": trends,
            },
            reportables=tuple(reportables),
            flags=tuple(dict.fromkeys(flags)),
            plots=tuple(plots),
            used=tuple(used),
            excluded=excluded,
        )

    @staticmethod
    def _passages(
        result: ExpressionResult, checked: Mapping[str, Any]
    ) -> tuple[dict[str, float], dict[str, float]]:
        passage: dict[str, float] = {}
        cpd: dict[str, float] = {}
        for sample in dict.fromkeys(r.sample for r in result.rows):
            found = re.search(checked["passage_pattern"], sample)
            if found:
                passage[sample] = float(found.group(1))
            found = re.search(checked["cpd_pattern"], sample)
            if found:
                cpd[sample] = float(found.group(1))
        return passage, cpd

    @staticmethod
    def _lots(
        result: ExpressionResult,
        context: RunContext,
        passage: Mapping[str, float],
        checked: Mapping[str, Any],
    ) -> dict[str, list[str]]:
        lots: dict[str, list[str]] = {}
        unmapped = []
        for sample in dict.fromkeys(r.sample for r in result.rows):
            lot = context.lot_of(sample) or next(
                (
                    name
                    for name in sorted(context.lots, key=len, reverse=True)
                    if sample.startswith(name + " ")
                ),
                None,
            )
            if lot is not None:
                lots.setdefault(lot, []).append(sample)
            elif sample != checked["calibrator"]:
                unmapped.append(sample)
        if context.default_lot is not None and not lots and len(unmapped) == 1:
            lots[context.default_lot] = unmapped
        return lots

    @staticmethod
    def _reportables(
        result: ExpressionResult,
        lots: Mapping[str, list[str]],
        passage: Mapping[str, float],
        checked: Mapping[str, Any],
        curves: Mapping[str, EfficiencyResult],
    ) -> list[Reportable]:
        failed = {(c.target): c for c in result.controls if not c.passed}
        reportables = []
        for lot, samples in sorted(lots.items()):
            # The latest passage stands for the lot's producer cells at harvest.
            latest = max(samples, key=lambda s: (passage.get(s, -math.inf), s))
            for attribute, gene in sorted(checked["attributes"].items()):
                try:
                    row = result.row(latest, gene)
                except KeyError:
                    continue
                row_flags = list(row.flags)
                for target in (gene, *checked["reference_genes"]):
                    if target in failed:
                        check = failed[target]
                        row_flags.append(f"{check.kind} {check.sample} {target}: {check.detail}")
                    if target in curves:
                        row_flags.extend(curves[target].flags)
                reportables.append(
                    Reportable(
                        lot=lot,
                        attribute=attribute,
                        value=json_number(row.fold),
                        unit="fold",
                        inputs=(latest,),
                        flags=tuple(dict.fromkeys(row_flags)),
                    )
                )
        return reportables


KIND = register(QpcrKind())
