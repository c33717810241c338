"""NTA particle analysis: EV concentration and size of a lot from NanoSight (or ZetaView) readings.

Each input file is one NTA measurement of one EV preparation: several videos, each with a concentration,
size statistics and a size distribution (the reader's tidy ``concentration``, ``mean size``, ``mode size``,
``D10``/``D50``/``D90`` rows with the video as ``well``, and ``size distribution <video>`` series). Files
naming the same lot are pooled video by video. Videos excluded by the analyst (``"<import>:<video>"``) are
left out. The statistics are :class:`secretome.analysis.ev.NtaAnalyzer`'s.

Settings
--------
``concentration_attribute`` (``"ev-concentration"``, particles/mL), ``size_attribute`` (``"ev-size"``, nm),
``size_statistic`` (``"mode"``, ``"d50"`` or ``"mean"``), ``purity_attribute`` (None, or the attribute
reporting particles per ug protein), ``dilution_source`` (``"file"``: the instrument already applied the
dilution it recorded; ``"setting"``: the file's concentrations are divided by the dilution it recorded and
multiplied by ``dilution``), ``dilution``, ``cv_limit`` (%), ``min_videos``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from secretome.analysis.ev import NtaAnalyzer, NtaResult
from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext, json_number
from secretome.methods.registry import register

ENGINE = "secretome.analysis.ev.NtaAnalyzer"
SIZE_QUANTITIES = {"mean": "mean size", "mode": "mode size", "d10": "D10", "d50": "D50", "d90": "D90"}
_NOT_VIDEOS = {"average", "standard error", ""}

DEFAULTS: dict[str, Any] = {
    "concentration_attribute": "ev-concentration",
    "size_attribute": "ev-size",
    "size_statistic": "mode",
    "purity_attribute": None,
    "dilution_source": "file",
    "dilution": 1.0,
    "cv_limit": 20.0,
    "min_videos": 3,
}


def figure_svg(figure: Any) -> str:
    """SVG text of a matplotlib figure, without the timestamp so the same plot gives the same text."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


class NtaKind:
    """The ``nta`` method kind."""

    name = "nta"
    title = "NTA particle analysis (EV concentration and size)"
    input_families: tuple[str, ...] = ("nta",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{unknown[0]}: not a setting of the nta kind (known: {', '.join(DEFAULTS)})")
        checked = {**DEFAULTS, **settings}
        for key in ("concentration_attribute", "size_attribute"):
            if checked[key] is not None and not (isinstance(checked[key], str) and checked[key].strip()):
                raise ValueError(f"{key}: must be an attribute code or null")
        if checked["purity_attribute"] is not None and not str(checked["purity_attribute"]).strip():
            raise ValueError("purity_attribute: must be an attribute code or null")
        if checked["size_statistic"] not in ("mode", "d50", "mean"):
            raise ValueError(f"size_statistic: {checked['size_statistic']!r} is not mode, d50 or mean")
        if checked["dilution_source"] not in ("file", "setting"):
            raise ValueError(f"dilution_source: {checked['dilution_source']!r} is not file or setting")
        try:
            checked["dilution"] = float(checked["dilution"])
            checked["cv_limit"] = float(checked["cv_limit"])
            checked["min_videos"] = int(checked["min_videos"])
        except (TypeError, ValueError):
            raise ValueError("dilution, cv_limit, min_videos: must be numbers") from None
        # The analyser names the parameter that is out of range.
        NtaAnalyzer(
            dilution=checked["dilution"], cv_limit=checked["cv_limit"], min_videos=checked["min_videos"]
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
            raise ValueError("inputs: an NTA analysis needs at least one NTA file")
        by_lot: dict[str, list[MethodInput]] = {}
        for item in inputs:
            if item.reading.family != "nta":
                raise ValueError(f"inputs: {item.filename} is a {item.reading.family} file, not NTA")
            sample = next((m.sample for m in item.reading.measurements if m.sample), "")
            lot = context.lot_of(sample) or context.default_lot
            if lot is None:
                raise ValueError(f"lot: {item.filename} (sample {sample!r}) names no lot; give the run's lot")
            by_lot.setdefault(lot, []).append(item)
        results: dict[str, Any] = {}
        reportables: list[Reportable] = []
        flags: list[str] = []
        plots: list[tuple[str, str]] = []
        used: list[str] = []
        excluded: dict[str, str] = {}
        for lot in sorted(by_lot):
            result, lot_used, lot_excluded, file_dilutions = self._lot(
                by_lot[lot], checked, decisions, context, lot
            )
            used += lot_used
            excluded.update(lot_excluded)
            entry = result.to_dict()
            entry["file_dilution"] = file_dilutions
            entry["size_statistic"] = checked["size_statistic"]
            results[lot] = entry
            lot_flags = tuple(result.flags)
            flags += [f"{lot}: {flag}" for flag in lot_flags]
            inputs_used = tuple(lot_used)
            if checked["concentration_attribute"]:
                reportables.append(
                    Reportable(
                        lot=lot,
                        attribute=checked["concentration_attribute"],
                        value=json_number(result.concentration),
                        unit="particles/mL",
                        inputs=inputs_used,
                        flags=lot_flags,
                    )
                )
            if checked["size_attribute"]:
                reportables.append(
                    Reportable(
                        lot=lot,
                        attribute=checked["size_attribute"],
                        value=json_number(result.size.get(checked["size_statistic"], math.nan)),
                        unit="nm",
                        inputs=inputs_used,
                        flags=lot_flags,
                    )
                )
            if checked["purity_attribute"]:
                ratio = result.particles_per_ug
                if ratio is None:
                    flags.append(f"{lot}: no total protein known; particles per ug not reported")
                else:
                    reportables.append(
                        Reportable(
                            lot=lot,
                            attribute=checked["purity_attribute"],
                            value=json_number(ratio),
                            unit="particles/ug",
                            inputs=inputs_used,
                            flags=lot_flags,
                        )
                    )
            plots.append((f"Size distribution, {lot}", figure_svg(result.plot())))
        return KindOutcome(
            engine=ENGINE,
            result={"settings": checked, "lots": results},
            reportables=tuple(reportables),
            flags=tuple(flags),
            plots=tuple(plots),
            used=tuple(used),
            excluded=excluded,
        )

    def _lot(
        self,
        items: list[MethodInput],
        checked: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
        lot: str,
    ) -> tuple[NtaResult, list[str], dict[str, str], dict[str, float | None]]:
        names: list[str] = []
        concentration: list[float] = []
        sizes: dict[str, list[float]] = {k: [] for k in SIZE_QUANTITIES}
        centres: tuple[float, ...] | None = None
        distributions: list[list[float]] = []
        have_distribution = True
        used: list[str] = []
        excluded: dict[str, str] = {}
        file_dilutions: dict[str, float | None] = {}
        for item in items:
            reading = item.reading
            dilution_rows = [m.value for m in reading.measurements if m.quantity == "dilution factor"]
            file_dilution = dilution_rows[0] if dilution_rows and math.isfinite(dilution_rows[0]) else None
            file_dilutions[item.label] = file_dilution
            scale = 1.0
            if checked["dilution_source"] == "setting":
                scale = checked["dilution"] / (file_dilution or 1.0)
            values = {
                (m.quantity, m.well): m.value for m in reading.measurements if m.well not in _NOT_VIDEOS
            }
            videos = [
                m.well
                for m in reading.measurements
                if m.quantity == "concentration" and m.well not in _NOT_VIDEOS
            ]
            for video in videos:
                key = f"{item.import_id}:{video}"
                if key in decisions.excluded:
                    excluded[key] = decisions.excluded[key]
                    continue
                used.append(key)
                names.append(video if len(items) == 1 else f"{item.import_id}:{video}")
                concentration.append(values[("concentration", video)] * scale)
                for name, quantity in SIZE_QUANTITIES.items():
                    sizes[name].append(values.get((quantity, video), math.nan))
                curve = reading.series.get(f"size distribution {video}")
                if curve is None:
                    have_distribution = False
                    continue
                these = tuple(float(x) for x, _ in curve)
                if centres is None:
                    centres = these
                elif these != centres:
                    raise ValueError(
                        f"inputs: {item.filename} uses other size bins than the first file of {lot}"
                    )
                distributions.append([float(y) * scale for _, y in curve])
        if not names:
            raise ValueError(f"decisions: every video of lot {lot} is excluded; nothing left to analyse")
        video_size = {k: v for k, v in sizes.items() if v and all(math.isfinite(x) for x in v)}
        analyzer = NtaAnalyzer(cv_limit=checked["cv_limit"], min_videos=checked["min_videos"])
        lot_context = context.lots.get(lot)
        use_distribution = have_distribution and centres is not None
        result = analyzer.fit(
            names,
            np.asarray(concentration),
            bin_centres=centres if use_distribution and centres is not None else (),
            distributions=distributions if use_distribution else (),
            video_size=video_size,
            protein_ug_per_ml=lot_context.protein_ug_per_ml if lot_context else None,
        )
        return result, used, excluded, file_dilutions


KIND = register(NtaKind())
