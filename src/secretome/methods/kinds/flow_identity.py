"""Method kind ``flow-identity``: the ISCT identity panel from the FCS files (tubes) of one run.

Settings (checked by :meth:`FlowIdentityKind.check_settings`):

``strategy``
    Gating-ML 2.0 XML text defining the population markers are read in.
``population``
    Id of that population (viable single cells).
``markers``
    ``{attribute code: {"channel", "tube", "control", "marker"?}}``: the detector (``$PnN``), the stained
    tube and the FMO/isotype control tube (tube names are the FCS ``TUBE NAME`` keyword, else the file name
    without extension).
``percentile``
    Percentile of the control that sets the threshold (default 99.5).
``criteria``
    ``{attribute code: {"min": %} or {"max": %}}``; ISCT limits by default for the known codes.
``compensation``
    ``"FCS"`` (default: each file's ``$SPILLOVER``), ``"uncompensated"``, a spectrum matrix id of the
    strategy, or ``"acquisition"`` (the default when ``spillover_csv`` is given).
``spillover_csv``
    Optional: an acquisition spillover matrix attached to the method as CSV text (a header row of detector
    names, one row per fluorochrome); gates name it with ``compensation-ref="acquisition"``.
``min_events``
    Fewer events than this in the population of a tube raises a flag (default 5000).

Tubes map to lots by their ``$SRC`` (through the run's sample-to-lot mapping, or a sample named like a lot),
else to the run's default lot. Each lot's tubes form one panel. An input is left out with the decision key
``"<import id>:<tube name>"``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.analysis.flow.gating import FCS, UNCOMPENSATED, GatingStrategy
from secretome.analysis.flow.identity import ISCT_CRITERIA, IdentityPanel, IdentityResult, Marker, Tube
from secretome.analysis.flow.plots import plot_gates
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml, parse_spillover_csv
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext
from secretome.methods.registry import register

ENGINE = "secretome.analysis.flow.identity 1.0"
ACQUISITION_MATRIX = "acquisition"
"""The compensation id of a matrix attached to the method as ``spillover_csv``."""


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    # No date in the metadata: the same numbers give the same SVG text.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


class FlowIdentityKind:
    """ISCT identity by flow cytometry (see the module docstring for the settings)."""

    name = "flow-identity"
    title = "Identity by flow cytometry (ISCT panel)"
    input_families: tuple[str, ...] = ("flow",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        text = settings.get("strategy")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("strategy: the Gating-ML 2.0 XML text is required")
        extras = []
        matrix_csv = settings.get("spillover_csv")
        if matrix_csv is not None:
            if not isinstance(matrix_csv, str) or not matrix_csv.strip():
                raise ValueError("spillover_csv: the acquisition matrix as CSV text (header of detectors)")
            try:
                extras.append(parse_spillover_csv(matrix_csv, ACQUISITION_MATRIX))
            except ValueError as exc:
                raise ValueError(f"spillover_csv: {exc}") from None
            checked["spillover_csv"] = matrix_csv
        try:
            strategy = parse_gating_ml(text, extras)
        except ValueError as exc:
            raise ValueError(f"strategy: {exc}") from None
        checked["strategy"] = text
        populations = [node for node, _, _ in strategy.nodes()]
        population = settings.get("population", populations[-1])
        if population not in populations:
            raise ValueError(
                f"population: {population!r} is not a gate of the strategy ({', '.join(populations)})"
            )
        checked["population"] = population
        markers = settings.get("markers")
        if not isinstance(markers, Mapping) or not markers:
            raise ValueError("markers: a mapping {attribute code: {channel, tube, control}} is required")
        checked_markers: dict[str, dict[str, str]] = {}
        for code, spec in markers.items():
            if not isinstance(spec, Mapping):
                raise ValueError(f"markers.{code}: must be a mapping with channel, tube and control")
            entry: dict[str, str] = {}
            for key in ("channel", "tube", "control"):
                value = spec.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"markers.{code}.{key}: required (a non-empty text)")
                entry[key] = value
            entry["marker"] = str(spec.get("marker") or code.upper())
            checked_markers[str(code)] = entry
        checked["markers"] = checked_markers
        percentile = settings.get("percentile", 99.5)
        if (
            isinstance(percentile, bool)
            or not isinstance(percentile, int | float)
            or not (50 <= float(percentile) < 100)
        ):
            raise ValueError(f"percentile: a number in [50, 100), got {percentile!r}")
        checked["percentile"] = float(percentile)
        compensation = settings.get("compensation", ACQUISITION_MATRIX if extras else FCS)
        if compensation not in (FCS, UNCOMPENSATED) and compensation not in strategy.compensations:
            raise ValueError(
                f"compensation: {compensation!r} is neither FCS, uncompensated nor a matrix of the strategy"
            )
        checked["compensation"] = compensation
        raw_criteria = settings.get("criteria", {})
        if not isinstance(raw_criteria, Mapping):
            raise ValueError("criteria: a mapping {attribute code: {min or max: percent}}")
        criteria: dict[str, dict[str, float]] = {}
        for code in checked_markers:
            rule = raw_criteria.get(code)
            if rule is None:
                if code not in ISCT_CRITERIA:
                    raise ValueError(f"criteria.{code}: no ISCT default for this attribute; give min or max")
                direction, limit = ISCT_CRITERIA[code]
                rule = {direction: limit}
            if not isinstance(rule, Mapping) or len(rule) != 1 or next(iter(rule)) not in ("min", "max"):
                raise ValueError(f"criteria.{code}: exactly one of min or max (percent positive)")
            direction, limit = next(iter(rule.items()))
            if (
                isinstance(limit, bool)
                or not isinstance(limit, int | float)
                or not (0 <= float(limit) <= 100)
            ):
                raise ValueError(f"criteria.{code}.{direction}: a percentage, got {limit!r}")
            criteria[code] = {str(direction): float(limit)}
        unknown = sorted(set(raw_criteria) - set(checked_markers))
        if unknown:
            raise ValueError(f"criteria.{unknown[0]}: not a marker of the panel")
        checked["criteria"] = criteria
        min_events = settings.get("min_events", 5000)
        if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 0:
            raise ValueError(f"min_events: a whole number >= 0, got {min_events!r}")
        checked["min_events"] = min_events
        return checked

    def panel(self, settings: Mapping[str, Any]) -> tuple[GatingStrategy, IdentityPanel]:
        """The strategy and the panel the (checked) settings describe."""
        extras = (
            [parse_spillover_csv(settings["spillover_csv"], ACQUISITION_MATRIX)]
            if settings.get("spillover_csv")
            else []
        )
        strategy = parse_gating_ml(settings["strategy"], extras)
        markers = []
        for code, spec in settings["markers"].items():
            direction, limit = next(iter(settings["criteria"][code].items()))
            markers.append(
                Marker(code, spec["channel"], spec["tube"], spec["control"], direction, limit, spec["marker"])
            )
        panel = IdentityPanel(
            strategy,
            settings["population"],
            markers,
            settings["percentile"],
            settings["compensation"],
            settings["min_events"],
        )
        return strategy, panel

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome:
        settings = self.check_settings(settings)
        strategy, panel = self.panel(settings)
        by_lot: dict[str, dict[str, tuple[Tube, str]]] = {}
        used: list[str] = []
        excluded: dict[str, str] = {}
        flags: list[str] = []
        for item in inputs:
            for tube, sample in _tubes(item):
                key = f"{item.import_id}:{tube.name}"
                if key in decisions.excluded:
                    excluded[key] = decisions.excluded[key]
                    continue
                lot = context.lot_of(sample) or context.default_lot
                if lot is None:
                    raise ValueError(
                        f"{item.filename}: sample {sample!r} maps to no lot; name the lot or map the sample"
                    )
                tubes = by_lot.setdefault(lot, {})
                if tube.name in tubes:
                    raise ValueError(
                        f"{item.filename}: lot {lot} has two tubes named {tube.name!r} "
                        f"({tubes[tube.name][1]} and {key}); exclude one"
                    )
                tubes[tube.name] = (tube, key)
                used.append(key)
        if not by_lot:
            raise ValueError("inputs: no FCS tubes to analyse")
        reportables: list[Reportable] = []
        results: dict[str, Any] = {}
        plots: list[tuple[str, str]] = []
        for lot in sorted(by_lot):
            tubes = by_lot[lot]
            result = panel.fit({name: tube for name, (tube, _) in tubes.items()})
            results[lot] = result.to_dict()
            flags.extend(f"lot {lot}: {flag}" for flag in result.flags)
            for marker in result.markers:
                value = marker.percent_positive
                reportables.append(
                    Reportable(
                        lot=lot,
                        attribute=marker.attribute,
                        value=value if math.isfinite(value) else None,
                        unit="%",
                        inputs=(tubes[marker.tube][1], tubes[marker.control][1]),
                        flags=()
                        if marker.complies
                        else (f"{marker.label} {value:.2f} % outside {marker.criterion}",),
                    )
                )
            plots.extend(_plots(lot, strategy, result, tubes))
        return KindOutcome(
            engine=ENGINE,
            result={
                "lots": results,
                "settings": {k: v for k, v in settings.items() if k != "strategy"},
                "strategy": strategy.to_dict(),
            },
            reportables=tuple(reportables),
            flags=tuple(flags),
            plots=tuple(plots),
            used=tuple(used),
            excluded=excluded,
        )


def _tubes(item: MethodInput) -> list[tuple[Tube, str]]:
    """The tubes of one input (one per FCS data set), named by TUBE NAME or the file name, with $SRC."""
    if item.content:
        data_sets = read_fcs_data_sets(item.content, item.filename)
    else:
        raise ValueError(f"{item.filename}: the raw FCS bytes are needed (keywords, gains, spillover)")
    stem = item.filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    tubes = []
    for number, data_set in enumerate(data_sets, start=1):
        keywords = data_set.keywords
        name = (keywords.get("tube name") or "").strip() or stem
        if len(data_sets) > 1:
            name = f"{name} ({number})"
        sample = (keywords.get("src") or keywords.get("smno") or "").strip()
        tubes.append(
            (
                # The events as stored (a view of the file's bytes where they are native): the panel
                # scales only what it reads.
                Tube(
                    name,
                    data_set.events,
                    data_set.channels,
                    data_set.spillover,
                    data_set.event_count,
                    data_set.scaling(),
                ),
                sample,
            )
        )
    return tubes


def _plots(
    lot: str, strategy: GatingStrategy, result: IdentityResult, tubes: Mapping[str, tuple[Tube, str]]
) -> list[tuple[str, str]]:
    import matplotlib

    plots = []
    # A fixed hash salt makes the SVG ids the same on every run; text stays text (smaller than glyph paths).
    with matplotlib.rc_context({"svg.hashsalt": "secretome", "svg.fonttype": "none"}):
        controls = sorted({m.control for m in result.markers})
        for name in controls[:1]:
            tube = tubes[name][0]
            figure = plot_gates(
                strategy,
                result.tubes[name],
                tube.events,
                tube.channels,
                tube.spillover,
                f"{lot}: {name}",
                scaling=tube.scaling,
            )
            plots.append((f"{lot}: gating of {name}", _svg(figure)))
        plots.append(
            (f"{lot}: marker histograms (stained vs control, threshold dashed)", _svg(result.plot()))
        )
    return plots


FLOW_IDENTITY = register(FlowIdentityKind())
