"""ISCT identity panel speed and memory: four FCS tubes of 1,000,000 events x 10 channels.

The tubes are the demo's panel (``secretome.demo.flow_files.identity_panel_files``): the positive and
negative cocktails and their isotype controls, FCS 3.1 float32 with a ``$SPILLOVER``, gated by the demo's
method (cells, singlets, viable on the compensated logicle 7-AAD) with eight markers read compensated.

Reports, from the same run (best of several repeats, the two panel computations taking turns):

* ours: :class:`~secretome.analysis.flow.identity.IdentityPanel` on the events as stored with each file's
  ``scaling()`` (the marker values are kept while each block of events is gated);
* baseline: the earlier procedure, a float64 copy of every tube's scaled events (``scaled()``), gated, and
  each marker's whole compensated column read from an event table of the copy;
* the whole ``flow-identity`` kind (panel, gating plot of one control, marker histograms), ours only.

Peak memory is tracemalloc's, the files' bytes excluded, in copies of one tube's event matrix as float64
(80 MB). Both panel computations must give the same thresholds and counts. Target: ours peaks at most
a quarter of the baseline's, which held every tube's scaled copy at once. Most of what ours holds is the
marker values the result keeps for its histograms (16 tube-and-marker columns of the viable cells,
about 1.3 copies); the kind's peak is in drawing the gating plot (a hexbin of 1,000,000 events).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from secretome.analysis.flow.gating import Dimension, EventTable, apply_strategy, file_spillover
from secretome.analysis.flow.identity import IdentityPanel, Tube
from secretome.demo.flow_files import identity_method_settings, identity_panel_files
from secretome.instruments.flow import read_fcs, read_fcs_data_sets
from secretome.methods import Decisions, MethodInput, RunContext, get_kind
from secretome.methods.kinds.flow_identity import FlowIdentityKind

EVENTS = 1_000_000
REPEATS = 3
LOT = "CM-2026-001"


def _data_sets(files: dict[str, bytes]) -> dict[str, Any]:
    data_sets = {}
    for name, content in files.items():
        (data_set,) = read_fcs_data_sets(content, name)
        data_sets[data_set.keywords["tube name"]] = data_set
    return data_sets


def _ours(files: dict[str, bytes], panel: IdentityPanel) -> dict[str, tuple[float, int, int]]:
    tubes = {
        name: Tube(name, d.events, d.channels, d.spillover, d.event_count, d.scaling())
        for name, d in _data_sets(files).items()
    }
    result = panel.fit(tubes)
    return {m.attribute: (m.threshold, m.positive, m.control_positive) for m in result.markers}


def _scaled_copy(files: dict[str, bytes], panel: IdentityPanel) -> dict[str, tuple[float, int, int]]:
    """The earlier procedure: every tube scaled to a float64 copy first, then gated and read whole."""
    scaled = {name: (d, d.scaled()) for name, d in _data_sets(files).items()}
    values: dict[tuple[str, str], np.ndarray] = {}
    for name, (data_set, events) in scaled.items():
        gating = apply_strategy(panel.strategy, events, data_set.channels, data_set.spillover)
        inside = gating.membership[panel.population]
        table = EventTable(panel.strategy, events, data_set.channels, file_spillover(data_set.spillover))
        table.extra_names = {m.channel for m in panel.markers}
        for marker in panel.markers:
            if name in (marker.tube, marker.control):
                values[(name, marker.channel)] = table.column(Dimension(marker.channel, panel.compensation))[
                    inside
                ]
    found = {}
    for marker in panel.markers:
        control, stained = values[(marker.control, marker.channel)], values[(marker.tube, marker.channel)]
        threshold = float(np.percentile(control, panel.percentile))
        found[marker.attribute] = (
            threshold,
            int(np.count_nonzero(stained > threshold)),
            int(np.count_nonzero(control > threshold)),
        )
    return found


def _kind(files: dict[str, bytes]) -> Any:
    inputs = [
        MethodInput(i, "", name, read_fcs(content, name), content=content)
        for i, (name, content) in enumerate(sorted(files.items()))
    ]
    return get_kind("flow-identity").analyse(
        inputs, identity_method_settings(), Decisions(), RunContext(default_lot=LOT)
    )


def _measure(function: Callable[[], Any]) -> tuple[float, int]:
    """Best time of REPEATS and the peak traced memory of one more call."""
    best = min(_timed(function) for _ in range(REPEATS))
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak


def _timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    files = identity_panel_files(LOT, seed=7, events=EVENTS)
    kind = FlowIdentityKind()
    _, panel = kind.panel(kind.check_settings(identity_method_settings()))
    channels = len(next(iter(_data_sets(files).values())).channels)
    matrix = EVENTS * channels * 8
    print(
        f"  {len(files)} tubes of {EVENTS:,} events x {channels} channels (FCS 3.1 float32, "
        f"{sum(len(c) for c in files.values()) / 1e6:.0f} MB), {len(panel.markers)} markers"
    )
    ours_numbers = _ours(files, panel)
    same = _scaled_copy(files, panel) == ours_numbers
    print(f"  thresholds and counts equal the scaled-copy procedure's: {same}")
    ours_time, ours_peak = _measure(lambda: _ours(files, panel))
    old_time, old_peak = _measure(lambda: _scaled_copy(files, panel))
    kind_time, kind_peak = _measure(lambda: _kind(files))
    print(f"  panel on the events as stored: {ours_time:6.2f} s, peak {ours_peak / matrix:.2f} copies")
    print(
        f"  panel on scaled float64 copies: {old_time:6.2f} s, peak {old_peak / matrix:.2f} copies (baseline)"
    )
    print(f"  ratio: memory {old_peak / ours_peak:.1f}x less, {old_time / ours_time:.2f}x faster")
    print(
        f"  whole flow-identity kind (panel + plots): {kind_time:6.2f} s, peak {kind_peak / matrix:.2f} copies"
    )
    print(f"  (copies of one tube's float64 event matrix, {matrix / 1e6:.0f} MB; best of {REPEATS})")
    print(f"  ours <= a quarter of the baseline's peak: {4 * ours_peak <= old_peak}")


if __name__ == "__main__":
    main()
