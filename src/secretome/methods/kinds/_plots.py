"""SVG rendering shared by the kinds: deterministic text (no date, fixed ids) from a matplotlib figure."""

from __future__ import annotations

import io
from typing import Any


def svg(figure: Any) -> str:
    """The figure as SVG text; the same figure always gives the same text."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "secretome", "svg.fonttype": "none"}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def quiet_log_axis(ax: Any) -> None:
    """Plain decade labels (``1000``, not math text) and no minor ticks on a log x axis: math-text labels and
    minor ticks cost most of a figure's drawing time and add nothing a reviewer reads."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.xaxis.set_major_locator(LogLocator(base=10.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
