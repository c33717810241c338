"""SVG text of a matplotlib drawing, the same bytes for the same drawing (no dates, fixed ids)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any


def figure_svg(draw: Callable[[Any], Any], size: tuple[float, float] = (6.0, 4.0)) -> str:
    """Call ``draw(ax)`` on a fresh figure and return the figure as SVG text.

    The SVG carries no date and a fixed id salt, so a recomputed run draws byte-identical plots.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "secretome", "svg.fonttype": "none"}):
        figure, ax = plt.subplots(figsize=size)
        try:
            draw(ax)
            figure.tight_layout()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    return buffer.getvalue()
