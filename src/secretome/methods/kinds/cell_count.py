"""The ``cell-count`` kind: cell-counter results (viability, viable cell density) per lot, the mean of the
sample's replicate counts with their SD and CV."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from secretome.methods.base import Decisions, KindOutcome, MethodInput, Reportable, RunContext, json_number
from secretome.methods.registry import register
from secretome.methods.svg import figure_svg


class CellCountKind:
    name = "cell-count"
    title = "Cell count and viability"
    input_families = ("cell_counter",)

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {"quantities": {"viability": "viability"}, "max_cv_percent": 10.0}
        unknown = set(settings) - set(checked)
        if unknown:
            raise ValueError(
                f"{sorted(unknown)[0]}: not a setting of {self.name} (known: {', '.join(checked)})"
            )
        checked.update(settings)
        quantities = checked["quantities"]
        if not isinstance(quantities, Mapping) or not quantities:
            raise ValueError(
                "quantities: a mapping of attribute code -> counter quantity, e.g. {'viability': 'viability'}"
            )
        checked["quantities"] = {str(k): str(v) for k, v in quantities.items()}
        limit = checked["max_cv_percent"]
        if not isinstance(limit, int | float) or limit <= 0:
            raise ValueError(f"max_cv_percent: {limit!r} must be a positive number")
        return checked

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome:
        quantities: Mapping[str, str] = settings["quantities"]
        # sample -> quantity -> [(input key, value)], replicate counts in file order
        values: dict[str, dict[str, list[tuple[str, float]]]] = {}
        units: dict[str, str] = {}
        for item in inputs:
            for index, m in enumerate(item.reading.measurements):
                if m.quantity not in quantities.values() or not m.sample or math.isnan(m.value):
                    continue
                key = f"{item.import_id}:{m.sample}#{index}"
                if key in decisions.excluded or decisions.is_excluded(item.import_id, m.sample):
                    continue
                values.setdefault(m.sample, {}).setdefault(m.quantity, []).append((key, m.value))
                units[m.quantity] = m.unit
        samples: dict[str, Any] = {}
        reportables: list[Reportable] = []
        flags: list[str] = []
        for sample in sorted(values):
            lot = context.lot_of(sample) or (context.default_lot if len(values) == 1 else None)
            per_quantity: dict[str, Any] = {}
            for attribute, quantity in quantities.items():
                rows = values[sample].get(quantity, [])
                if not rows:
                    continue
                numbers = [v for _, v in rows]
                mean = statistics.fmean(numbers)
                sd = statistics.stdev(numbers) if len(numbers) > 1 else None
                cv = 100 * sd / mean if sd is not None and mean else None
                row_flags: tuple[str, ...] = ()
                if cv is not None and cv > float(settings["max_cv_percent"]):
                    row_flags = (f"replicate CV {cv:.1f} % above {settings['max_cv_percent']} %",)
                    flags.append(f"{sample} {quantity}: {row_flags[0]}")
                per_quantity[quantity] = {
                    "n": len(numbers),
                    "values": numbers,
                    "mean": mean,
                    "sd": json_number(sd),
                    "cv_percent": json_number(cv),
                    "unit": units.get(quantity, ""),
                }
                if lot is not None:
                    reportables.append(
                        Reportable(
                            lot=lot,
                            attribute=attribute,
                            value=mean,
                            unit=units.get(quantity, ""),
                            inputs=tuple(k for k, _ in rows),
                            flags=row_flags,
                        )
                    )
            samples[sample] = {"lot": lot, "quantities": per_quantity}
        if not reportables:
            raise ValueError(
                "no sample of the files names a lot of the run (name the lot with --lot or map samples)"
            )

        def draw(ax: Any) -> None:
            names = sorted(samples)
            for offset, quantity in enumerate(sorted({q for s in samples.values() for q in s["quantities"]})):
                for position, name in enumerate(names):
                    stats = samples[name]["quantities"].get(quantity)
                    if stats:
                        ax.scatter(
                            [position + 0.1 * offset] * stats["n"],
                            stats["values"],
                            s=16,
                            label=quantity if position == 0 else None,
                        )
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_title("Replicate counts per sample")
            ax.legend()

        return KindOutcome(
            engine="secretome.methods.kinds.cell_count",
            result={"samples": samples, "quantities": dict(quantities)},
            reportables=tuple(reportables),
            flags=tuple(flags),
            plots=(("Replicate counts", figure_svg(draw)),),
            used=tuple(k for s in values.values() for rows in s.values() for k, _ in rows),
        )


register(CellCountKind())
