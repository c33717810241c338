"""Flow gating speed and memory: read + compensate + logicle + a 6-gate strategy on 1,000,000 x 14 events.

The file is an FCS 3.1 float32 file written here (FSC-A, FSC-H, SSC-A, ten fluorescence detectors with a
``$SPILLOVER``, Time). The strategy (Gating-ML 2.0) has six gates: cells (polygon on scatter), singlets
(polygon FSC-A x FSC-H), viable (rectangle, compensated logicle viability dye), CD3+ (open rectangle,
logicle), a CD4 x CD8 polygon and an ellipsoid, all fluorescence compensated with the file's matrix and on
the logicle scale.

Reports, from the same run (best of several repeats, the two taking turns):

* ours: read the file, :func:`~secretome.instruments.flow.read_fcs_data_sets`,
  :func:`~secretome.analysis.flow.gating.apply_strategy` on the stored events with the file's ``scaling()``
  (the gating scales, compensates and transforms only what the gates read, block by block);
* FlowKit 1.3 (when installed: the ``interchange`` extra): ``Sample`` + ``GatingStrategy.gate_sample``.

Targets: ours <= 0.2 s and >= 9x faster than FlowKit; peak memory (tracemalloc, file bytes excluded) at most
three copies of the event matrix (float64, as computed on). The counts of both must be equal.
"""

from __future__ import annotations

import tempfile
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_fcs import REPEATS, _best
from secretome.analysis.flow import gating
from secretome.analysis.flow.transforms import LogicleTransform
from secretome.demo.flow_files import fcs_bytes
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml, write_gating_ml

EVENTS = 1_000_000
FLUORESCENCE = tuple(f"FL{i}-A" for i in range(1, 11))
CHANNELS = (("FSC-A", ""), ("FSC-H", ""), ("SSC-A", ""), *((name, "") for name in FLUORESCENCE), ("Time", ""))

LOGICLE = LogicleTransform("L", 262144.0, 0.5, 4.5, 0.0)


def _marker(channel: str) -> gating.Dimension:
    return gating.Dimension(channel, gating.FCS, LOGICLE.id)


#: The strategy, as the Gating-ML both gating engines read.
STRATEGY = write_gating_ml(
    gating.GatingStrategy(
        (
            *gating.live_single_cells(
                cells=((30000, 5000), (250000, 5000), (250000, 200000), (30000, 120000)),
                singlets=((20000, 13000), (262144, 170000), (262144, 262144), (20000, 21000)),
                viability=_marker("FL10-A"),
                viability_max=0.55,
            ),
            gating.RectangleGate("CD3", (_marker("FL1-A"),), ((0.5, None),), "Viable"),
            gating.PolygonGate(
                "CD4",
                (_marker("FL2-A"), _marker("FL3-A")),
                ((0.5, 0.1), (1.0, 0.1), (1.0, 0.5), (0.5, 0.5)),
                "CD3",
            ),
            gating.EllipsoidGate(
                "Activated",
                (_marker("FL4-A"), _marker("FL5-A")),
                (0.7, 0.7),
                ((0.01, 0.004), (0.004, 0.01)),
                1.0,
                "Viable",
            ),
        ),
        {LOGICLE.id: LOGICLE},
    )
)


def _write_file(directory: Path) -> Path:
    rng = np.random.default_rng(2026)
    events = np.empty((EVENTS, len(CHANNELS)), dtype=np.float32)
    fsc = rng.normal(110000, 25000, EVENTS)
    events[:, 0] = fsc
    events[:, 1] = fsc * rng.normal(0.8, 0.05, EVENTS)
    events[:, 2] = rng.lognormal(np.log(50000), 0.5, EVENTS)
    bright = rng.random((EVENTS, len(FLUORESCENCE))) < 0.4
    true = rng.lognormal(np.log(300), 0.6, (EVENTS, len(FLUORESCENCE)))
    true[bright] += rng.lognormal(np.log(20000), 0.5, int(bright.sum()))
    spill = np.eye(len(FLUORESCENCE)) + np.diag(np.full(len(FLUORESCENCE) - 1, 0.12), 1)
    events[:, 3:13] = true @ spill + rng.normal(0, 50, true.shape)
    events[:, 13] = np.arange(EVENTS) / 1000.0
    spillover = ",".join([str(len(FLUORESCENCE)), *FLUORESCENCE, *(f"{v:g}" for v in spill.ravel())])
    path = directory / "bench_gating_1M_x14.fcs"
    path.write_bytes(fcs_bytes(events, {"$SPILLOVER": spillover, "$TIMESTEP": "0.001"}, CHANNELS))
    return path


def _ours(path: Path, strategy: Any) -> dict[str, int]:
    data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
    result = gating.apply_strategy(
        strategy, data_set.events, data_set.channels, data_set.spillover, scaling=data_set.scaling()
    )
    return {gate.id: gate.count for gate in result.gates}


def _flowkit(path: Path, strategy: Any) -> dict[str, int]:
    import flowkit as fk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = fk.Sample(str(path), ignore_offset_error=True)
        report = strategy.gate_sample(sample).report
    return {str(row.gate_name): int(row["count"]) for _, row in report.iterrows()}


def _peak(function: Callable[[], Any], file_bytes: int) -> int:
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - file_bytes


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="secretome-bench-flow-") as directory:
        path = _write_file(Path(directory))
        strategy = parse_gating_ml(STRATEGY)
        print(
            f"  {EVENTS:,} events x {len(CHANNELS)} channels, FCS 3.1 float32, {path.stat().st_size / 1e6:.1f} MB"
        )
        ours_counts = _ours(path, strategy)
        print(f"  counts: {ours_counts}")
        try:
            import flowkit as fk

            fk_strategy = fk.parse_gating_xml(_strategy_file(Path(directory)))
        except ImportError:
            fk_strategy = None
            print("  FlowKit is not installed (pip install '.[interchange]'): measuring ours only")
        functions: list[Callable[[], Any]] = [lambda: _ours(path, strategy)]
        if fk_strategy is not None:
            flowkit_counts = _flowkit(path, fk_strategy)
            equal = flowkit_counts == ours_counts
            print(f"  FlowKit counts equal ours: {equal}")
            functions.append(lambda: _flowkit(path, fk_strategy))
        times = _best(functions)
        matrix = EVENTS * len(CHANNELS) * 8
        peak = _peak(lambda: _ours(path, strategy), path.stat().st_size)
        print(
            f"  ours (read + scale + compensate + logicle + 6 gates): {times[0] * 1000:8.1f} ms (best of {REPEATS})"
        )
        if len(times) > 1:
            print(f"  FlowKit 1.3 (Sample + gate_sample):                 {times[1] * 1000:8.1f} ms")
            print(f"  ratio: ours is {times[1] / times[0]:.1f}x faster than FlowKit (target >= 9x)")
        print(
            f"  peak memory (ours, file bytes excluded): {peak / matrix:.2f} copies of the float64 event matrix "
            f"({matrix / 1e6:.0f} MB; target <= 3)"
        )
        print(f"  <= 0.2 s: {times[0] <= 0.2}")


def _strategy_file(directory: Path) -> str:
    target = directory / "strategy.xml"
    target.write_text(STRATEGY)
    return str(target)


if __name__ == "__main__":
    main()
