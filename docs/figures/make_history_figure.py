"""Make the demo-history figure of docs/trending.md (run from the repository root):

.venv/bin/python docs/figures/make_history_figure.py

VEGF-A of the demo's 26 history lots, computed by the standard-curve kind from the same Gen5 ELISA files
that ``secretome demo`` writes (same seeds), charted as the trend page charts it: log10, limits from the
first 16 lots (those QA approves in the demo).
"""

from __future__ import annotations

from pathlib import Path

from secretome.analysis.trending import IMRChart
from secretome.demo import history

HERE = Path(__file__).resolve().parent


def history_chart() -> None:
    planned = history.plan()
    lots = [f"{p.index + 1}" for p in planned]
    values = history.vegf_from_files(lots)
    chart = IMRChart(history.BASELINE_N, log10=True).fit([values[lot] for lot in lots], lots)
    figure = chart.plot()
    individuals = figure.axes[0]
    individuals.axvline(history.BASELINE_N + 0.5, color="0.4", linestyle=":", linewidth=1)
    individuals.annotate(
        f"medium lot {history.REFORMULATED_FROM}",
        (history.BASELINE_N + 0.7, individuals.get_ylim()[1]),
        va="top",
        fontsize=8,
        color="0.3",
    )
    individuals.set_ylabel("log10 VEGF-A (pg/mL)")
    figure.savefig(HERE / "trending_demo_vegf.png", dpi=110)
    print({rule: flagged for rule, flagged in chart.nelson.items() if flagged})


if __name__ == "__main__":
    history_chart()
