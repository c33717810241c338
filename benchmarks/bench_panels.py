"""A full 384-well multiplex panel through the ``standard-curve`` kind, plots included.

The plate: 8 analytes, 8 standards in duplicate, 4 background wells and 40 samples in duplicate (the size
issue #10 asks to analyse in under 1 s). Three figures of the same run are timed in alternating rounds
(best round each, BLAS on one thread):

- ``kind``: the whole analysis (fits, back-calculation with the < LLOQ rules, reportables, fingerprint,
  the SVG curve and residual plots and the panel heat-map);
- ``fits``: only the eight curve fits (``CurveFitter``), the part no analysis can skip;
- ``matplotlib plots``: the sixteen curve and residual figures drawn with matplotlib instead (what the
  kind drew before it wrote its SVG directly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from secretome.analysis import CurveFitter
from secretome.instruments.model import InstrumentReading, Measurement
from secretome.methods.base import Decisions, KindOutcome, LotContext, MethodInput, RunContext
from secretome.methods.kinds._plots import svg
from secretome.methods.registry import get_kind

ANALYTES = [f"analyte-{i + 1}" for i in range(8)]
STANDARDS = {f"Standard{k + 1}": 20000.0 / 3.0**k for k in range(8)}
LOTS = [f"MSC-CM-{j + 1:03d}" for j in range(40)]
ROUNDS = 5


def _plate() -> MethodInput:
    rng = np.random.default_rng(384)
    wells = [f"{row}{column}" for row in "ABCDEFGHIJKLMNOP" for column in range(1, 25)]
    samples = [("Background0", 0.0)] * 4
    samples += [(name, level) for name, level in STANDARDS.items() for _ in range(2)]
    samples += [(lot, 300.0 * (1 + j % 9)) for j, lot in enumerate(LOTS) for _ in range(2)]
    rows = []
    for (sample, level), well in zip(samples, wells, strict=False):
        for index, analyte in enumerate(ANALYTES):
            inflection = 800.0 * (1 + index / 4)
            mean = 20.0 + 24000.0 / (1 + (inflection / level) ** 1.1) if level > 0 else 20.0
            value = mean * (1 + 0.03 * float(rng.standard_normal()))
            rows.append(Measurement("median fluorescence", value, "RFU", sample, well, "", analyte))
            rows.append(
                Measurement("assay bead count", float(rng.integers(60, 140)), "#", sample, well, "", analyte)
            )
    reading = InstrumentReading("panel.csv", "xponent", "multiplex", "bench", "0", measurements=tuple(rows))
    return MethodInput(1, "0" * 64, "panel.csv", reading)


def main() -> None:
    plate = _plate()
    kind = get_kind("standard-curve")
    settings = kind.check_settings(
        {
            "analytes": {a: a for a in ANALYTES},
            "standards": STANDARDS,
            "assay_blanks": ["Background0"],
            "model": "4pl",
            "weighting": "1/y^2",
        }
    )
    context = RunContext(lots={lot: LotContext(lot) for lot in LOTS})
    outcome: list[KindOutcome] = []

    def run_kind() -> None:
        outcome[:] = [kind.analyse([plate], settings, Decisions(), context)]

    standards = {
        a: (
            [
                STANDARDS.get(m.sample, 0.0)
                for m in plate.reading.measurements
                if m.analyte == a
                and m.quantity == "median fluorescence"
                and (m.sample in STANDARDS or m.sample == "Background0")
            ],
            [
                m.value
                for m in plate.reading.measurements
                if m.analyte == a
                and m.quantity == "median fluorescence"
                and (m.sample in STANDARDS or m.sample == "Background0")
            ],
        )
        for a in ANALYTES
    }
    fitter = CurveFitter("4pl", "1/y^2")
    fits: list[Any] = []

    def run_fits() -> None:
        fits[:] = [fitter.fit(dose, response) for dose, response in standards.values()]

    def run_matplotlib() -> None:
        from matplotlib.figure import Figure

        for fit in fits:
            svg(fit.plot())
            figure = Figure(figsize=(6.4, 2.6))
            ax = figure.subplots()
            ax.scatter(fit.dose, fit.residuals())
            ax.set_xscale("symlog")
            svg(figure)

    timings: dict[str, list[float]] = {"kind": [], "fits": [], "matplotlib plots": []}
    steps: dict[str, Callable[[], None]] = {
        "kind": run_kind,
        "fits": run_fits,
        "matplotlib plots": run_matplotlib,
    }
    with threadpool_limits(limits=1):
        run_kind()
        run_fits()
        for _ in range(ROUNDS):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                timings[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in timings.items()}
    result = outcome[0]
    print(
        f"384-well plate, {len(ANALYTES)} analytes, {len(LOTS)} samples in duplicate: "
        f"{len(result.reportables)} reportables, {len(result.plots)} plots"
    )
    for name, value in best.items():
        print(f"  {name:18s} {value * 1000:8.1f} ms (best of {ROUNDS})")
    print(
        f"  kind / fits: {best['kind'] / best['fits']:.2f}x; the kind is {'under' if best['kind'] < 1 else 'OVER'} 1 s"
    )
    print(f"  matplotlib plots / kind: {best['matplotlib plots'] / best['kind']:.2f}x")
