"""NTA and qPCR method kinds: time to analyse one file, against reading the same file (measured in the same run).

The qPCR case is a full 384-well plate written by the demo (12 producer-cell samples and the calibrator,
8 genes in triplicate, no-RT and NTC wells); the NTA case the demo's 5-video ExperimentSummary of one lot.
Each analysis is timed with and without its SVG plots, best of ``REPEATS`` (default 3); the baseline is
parsing the file with the instrument reader, which every run does first.

Run: ``.venv/bin/python -m benchmarks expression``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np


def _best(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def _measure(
    content: bytes, name: str, kind_name: str, settings: Any, module: Any, context: Any, repeats: int
) -> tuple[float, float, float]:
    """Best times (ms) of reading the file, analysing it without plots and analysing it with plots."""
    from secretome.instruments.detect import read
    from secretome.methods import Decisions, MethodInput, get_kind

    reading = read(content, name)
    kind = get_kind(kind_name)
    inputs = [MethodInput(1, "", name, reading)]
    read_ms = _best(lambda: read(content, name), repeats)
    with_plots = _best(lambda: kind.analyse(inputs, settings, Decisions(), context), repeats)
    original = module.figure_svg
    module.figure_svg = lambda figure: ""
    try:
        without_plots = _best(lambda: kind.analyse(inputs, settings, Decisions(), context), repeats)
    finally:
        module.figure_svg = original
    return read_ms, without_plots, with_plots


def main() -> None:
    from secretome.demo.expression_files import (
        ev_truth,
        expression_truth,
        nta_experiment_summary,
        nta_method_settings,
        qpcr_method_settings,
        quantstudio_results,
    )
    from secretome.methods import LotContext, RunContext
    from secretome.methods.kinds import nta as nta_module
    from secretome.methods.kinds import qpcr as qpcr_module

    repeats = int(os.environ.get("REPEATS", "3"))
    when = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    rng = np.random.default_rng(1)
    lots = [(f"CM-2026-{i:03d}", 3 + i % 6, 8.0 + 2.5 * i) for i in range(1, 13)]
    plate = quantstudio_results(expression_truth(rng, lots), rng, when)
    nta_file = nta_experiment_summary(ev_truth(rng, "CM-2026-001"), rng, when)

    for label, content, name, kind_name, settings, module, context in (
        (
            "qPCR 384-well plate",
            plate,
            "plate.txt",
            "qpcr",
            qpcr_method_settings(),
            qpcr_module,
            RunContext(lots={lot: LotContext(lot) for lot, _, _ in lots}),
        ),
        (
            "NTA 5 videos",
            nta_file,
            "summary.csv",
            "nta",
            nta_method_settings(),
            nta_module,
            RunContext(lots={"CM-2026-001": LotContext("CM-2026-001")}),
        ),
    ):
        read_ms, without_plots, with_plots = _measure(
            content, name, kind_name, settings, module, context, repeats
        )
        print(
            f"{label}: read {read_ms:7.1f} ms (baseline); analyse {without_plots:7.1f} ms "
            f"({without_plots / read_ms:.2f}x), with plots {with_plots:7.1f} ms ({with_plots / read_ms:.2f}x)"
        )
