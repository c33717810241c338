"""Write a gating strategy for every sample FCS file and record FlowKit's gate counts for it.

Usage (needs the optional ``interchange`` extra, FlowKit 1.3): ``python tests/data/flow/record_flowkit_counts.py``.

For each readable FCS/LMD file in ``tests/data/samples/fcs`` this writes ``strategies/<file stem>.xml``: a
seven-gate Gating-ML 2.0 strategy placed on that file's own events (rectangle with an open bound, polygon and
ellipsoid on the scatter channels; a quadrant gate on two fluorescence channels, compensated with the file's
spillover when it has a usable one and on the logicle scale; a fasinh rectangle below a quadrant; a
hyperlog rectangle; a Boolean gate with a complement). Files skipped: the Navios bit-mask file (every
channel holds one constant value) and the Stratedigm file (2 events). It then gates the file with FlowKit and writes every
population's event count to ``flowkit_counts.json``. The tests compare Secretome's counts with these, so CI
needs neither FlowKit nor this script.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np

from secretome.analysis.flow.gating import (
    FCS,
    UNCOMPENSATED,
    BooleanGate,
    Dimension,
    Divider,
    EllipsoidGate,
    EventTable,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantGate,
    RectangleGate,
    file_spillover,
)
from secretome.analysis.flow.transforms import AsinhTransform, HyperlogTransform, LogicleTransform
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import write_gating_ml

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[0] / "samples" / "fcs"


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _scatter(channels: tuple[str, ...]) -> tuple[str, str]:
    def pick(pattern: str) -> str | None:
        matches = [c for c in channels if re.match(pattern, c, re.IGNORECASE)]
        preferred = [c for c in matches if c.upper().endswith(("-A", "LIN", "LINA"))]
        chosen = preferred or matches
        return chosen[0] if chosen else None

    return (pick(r"^(FSC|FS)\b") or channels[0], pick(r"^(SSC|SS)\b") or channels[1])


def strategy_for(path: Path) -> GatingStrategy:
    data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
    channels = data_set.channels
    events = data_set.scaled()
    sx, sy = _scatter(channels)
    spill = data_set.spillover
    usable_spill = spill is not None and all(name in channels for name in spill[0])
    skip = re.compile(r"(FSC|SSC|^FS|^SS|TIME|WIDTH|HDR|DOUBLET|-W$)", re.IGNORECASE)
    fluorescence = (
        [c for c in spill[0] if c in channels]
        if usable_spill and spill
        else [c for c in channels if not skip.search(c)]
    )
    f1, f2 = fluorescence[0], fluorescence[1]
    compensation = FCS if usable_spill else UNCOMPENSATED
    top = max(float(data_set.keywords.get(f"p{channels.index(c) + 1}r", "262144")) for c in (f1, f2))
    logicle = LogicleTransform("Logicle", _round(top), 0.5, 4.5, 0.0)
    asinh = AsinhTransform("Asinh", _round(top), 4.5, 0.5)
    hyperlog = HyperlogTransform("Hyperlog", _round(top), 0.5, 4.5, 0.0)
    if data_set.event_count < 100:
        raise ValueError(f"{data_set.event_count} events: too few to place gates on")
    if np.linalg.matrix_rank(np.cov(events[:, [channels.index(sx), channels.index(sy)]].T)) < 2:
        # Scatter recorded as a constant (the Navios bit-mask file): place the scatter gates on the first
        # two channels that vary instead.
        varying = [c for c in channels if np.ptp(events[:, channels.index(c)]) > 0 and c.lower() != "time"]
        if len(varying) < 2:
            raise ValueError("every channel holds one constant value: nothing to gate")
        sx, sy = varying[0], varying[1]
    x, y = events[:, channels.index(sx)], events[:, channels.index(sy)]

    def q(values: np.ndarray, percent: float) -> float:
        return _round(float(np.percentile(values, percent)))

    X, Y = Dimension(sx), Dimension(sy)
    cells = RectangleGate("Cells", (X, Y), ((q(x, 3), None), (q(y, 2), q(y, 98))))
    cx, cy, dx, dy = q(x, 50), q(y, 50), q(x, 80) - q(x, 20), q(y, 80) - q(y, 20)
    hexagon = tuple(
        (_round(cx + dx * np.cos(a)), _round(cy + dy * np.sin(a))) for a in np.linspace(0, 2 * np.pi, 7)[:-1]
    )
    core = PolygonGate("Core", (X, Y), hexagon, parent="Cells")
    covariance = np.cov(np.vstack([x, y]))
    spread = EllipsoidGate(
        "Spread",
        (X, Y),
        (cx, cy),
        tuple(tuple(_round(v) for v in row) for row in covariance),
        2.0,
        parent="Cells",
    )
    D1, D2 = Dimension(f1, compensation, "Logicle"), Dimension(f2, compensation, "Logicle")
    strategy_so_far = GatingStrategy((cells,), {"Logicle": logicle}, {})
    table = EventTable(strategy_so_far, events, channels, file_spillover(spill) if usable_spill else None)
    m1, m2 = q(table.column(D1), 50), q(table.column(D2), 50)
    quadrant = QuadrantGate(
        "Quadrants",
        (Divider("D1", D1, (m1,)), Divider("D2", D2, (m2,))),
        tuple(
            Quadrant(
                f"Q{s1}{s2}",
                (("D1", m1 + (0.1 if s1 == "P" else -0.1)), ("D2", m2 + (0.1 if s2 == "P" else -0.1))),
            )
            for s1 in "PN"
            for s2 in "PN"
        ),
        parent="Cells",
    )
    A1 = Dimension(f1, compensation, "Asinh")
    asinh_values = EventTable(
        GatingStrategy((cells,), {"Asinh": asinh}), events, channels, table.file_spillover
    ).column(A1)
    bright = RectangleGate("Bright", (A1,), ((q(asinh_values, 75), None),), parent="QPN")
    H = Dimension(sy, UNCOMPENSATED, "Hyperlog")
    hyper_values = EventTable(
        GatingStrategy((cells,), {"Hyperlog": hyperlog}), events, channels, None
    ).column(H)
    mid = RectangleGate("MidScatter", (H,), ((q(hyper_values, 10), q(hyper_values, 90)),))
    combined = BooleanGate("CoreNotDoubleNegative", "and", (("Core", False), ("QNN", True)))
    return GatingStrategy(
        (cells, core, spread, quadrant, bright, mid, combined),
        {"Logicle": logicle, "Asinh": asinh, "Hyperlog": hyperlog},
        {},
    )


def flowkit_counts(path: Path, strategy_path: Path) -> dict[str, int]:
    import flowkit as fk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # FlowKit compensates every fluorescence channel; the ones the file's matrix leaves out (Width on
        # the Accuri) must be declared null channels. The strategies here never gate on them.
        data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
        spill = set(data_set.spillover[0]) if data_set.spillover else set()
        scatter = re.compile(r"(FSC|SSC|TIME)", re.IGNORECASE)
        null = [c for c in data_set.channels if spill and c not in spill and not scatter.search(c)]
        try:
            sample = fk.Sample(
                str(path),
                ignore_offset_error=True,
                ignore_offset_discrepancy=True,
                null_channel_list=null or None,
            )
        except Exception:
            sample = fk.read_multi_dataset_fcs(str(path), ignore_offset_error=True)[0]
        strategy = fk.parse_gating_xml(str(strategy_path))
        results = strategy.gate_sample(sample)
    report = results.report
    return {str(row.gate_name): int(row["count"]) for _, row in report.iterrows()}


def main() -> None:
    folder = HERE / "strategies"
    folder.mkdir(exist_ok=True)
    recorded: dict[str, dict[str, int]] = {}
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix not in (".fcs", ".lmd") or "truncated" in path.name:
            continue
        try:
            strategy = strategy_for(path)
        except (IndexError, ValueError, np.linalg.LinAlgError) as exc:
            print(f"{path.name}: no strategy ({exc})")
            continue
        target = folder / f"{path.stem}.xml"
        target.write_text(write_gating_ml(strategy))
        recorded[path.name] = flowkit_counts(path, target)
        print(path.name, recorded[path.name])
    (HERE / "flowkit_counts.json").write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
