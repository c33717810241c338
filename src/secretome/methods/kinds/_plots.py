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
