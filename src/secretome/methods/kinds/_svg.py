"""A small SVG chart writer for the per-curve plots of a run: points, lines, bands, limits, labels.

A run of a 384-well multiplex plate draws two figures per analyte; through matplotlib that alone takes
seconds (text layout, transforms, legend placement), here milliseconds. The output is plain SVG 1.1 text,
the same for the same data (coordinates rounded to 0.01 px), with a log or linear x axis.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_MARGIN = (62.0, 16.0, 30.0, 46.0)  # left, right, top, bottom


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _label(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:.4g}"


@dataclass
class Chart:
    """One plot area with its axes. Add series, then :meth:`render` the SVG text."""

    title: str
    xlabel: str
    ylabel: str
    xlog: bool = True
    width: float = 640.0
    height: float = 420.0
    _items: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    _legend: list[tuple[str, str, str]] = field(default_factory=list)
    _xs: list[float] = field(default_factory=list)
    _ys: list[float] = field(default_factory=list)

    # -- adding ------------------------------------------------------------------------------------------
    def _extent(self, x: list[float], y: list[float]) -> None:
        for a in x:
            if math.isfinite(a) and (a > 0 or not self.xlog):
                self._xs.append(float(a))
        self._ys.extend(float(b) for b in y if math.isfinite(b))

    def band(
        self,
        x: Iterable[float],
        low: Iterable[float],
        high: Iterable[float],
        colour: str,
        opacity: float,
        label: str = "",
    ) -> None:
        x, low, high = _floats(x), _floats(low), _floats(high)
        self._extent(x, [*low, *high])
        self._items.append(
            (
                "band",
                {"x": list(x), "low": list(low), "high": list(high), "colour": colour, "opacity": opacity},
            )
        )
        if label:
            self._legend.append(("band", colour, label))

    def line(
        self, x: Iterable[float], y: Iterable[float], colour: str, label: str = "", dash: str = ""
    ) -> None:
        x, y = _floats(x), _floats(y)
        self._extent(x, y)
        self._items.append(("line", {"x": list(x), "y": list(y), "colour": colour, "dash": dash}))
        if label:
            self._legend.append(("line", colour, label))

    def points(
        self,
        x: Iterable[float],
        y: Iterable[float],
        colour: str,
        label: str = "",
        marker: str = "circle",
        names: Sequence[str] = (),
    ) -> None:
        x, y = _floats(x), _floats(y)
        self._extent(x, y)
        self._items.append(
            ("points", {"x": list(x), "y": list(y), "colour": colour, "marker": marker, "names": list(names)})
        )
        if label:
            self._legend.append((marker, colour, label))

    def vline(self, x: float, colour: str, label: str) -> None:
        self._items.append(("vline", {"x": x, "colour": colour, "label": label}))

    def hline(self, y: float, colour: str) -> None:
        self._ys.append(y)
        self._items.append(("hline", {"y": y, "colour": colour}))

    # -- scales ------------------------------------------------------------------------------------------
    def _ranges(self) -> tuple[float, float, float, float]:
        xs = self._xs or [1.0, 10.0]
        ys = self._ys or [0.0, 1.0]
        if self.xlog:
            lo, hi = math.log10(min(xs)), math.log10(max(xs))
            pad = max(hi - lo, 1.0) * 0.04
            x0, x1 = lo - pad, hi + pad
        else:
            lo, hi = min(xs), max(xs)
            pad = max(hi - lo, 1e-12) * 0.04
            x0, x1 = lo - pad, hi + pad
        y_lo, y_hi = min(ys), max(ys)
        pad = max(y_hi - y_lo, abs(y_hi) * 0.1, 1e-12) * 0.06
        return x0, x1, y_lo - pad, y_hi + pad

    # -- rendering ------------------------------------------------------------------------------------------
    def render(self) -> str:
        x0, x1, y0, y1 = self._ranges()
        left, right, top, bottom = _MARGIN
        plot_w, plot_h = self.width - left - right, self.height - top - bottom

        def px(x: float) -> float:
            value = math.log10(x) if self.xlog else x
            return left + (value - x0) / (x1 - x0) * plot_w

        def py(y: float) -> float:
            return top + (y1 - y) / (y1 - y0) * plot_h

        def ok(x: float, y: float) -> bool:
            return math.isfinite(x) and math.isfinite(y) and (x > 0 or not self.xlog)

        # Plots are inlined side by side on a page: the clip path's id must differ between figures (and stay
        # the same for the same figure, so a recomputed plot is the same text).
        clip = (
            "clip-"
            + hashlib.sha256(f"{self.title}|{self.width}|{self.height}|{self.ylabel}".encode()).hexdigest()[
                :12
            ]
        )
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{self.height:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
            f'<rect width="{self.width:.0f}" height="{self.height:.0f}" fill="white"/>',
            f'<clipPath id="{clip}"><rect x="{left:.2f}" y="{top:.2f}" width="{plot_w:.2f}" height="{plot_h:.2f}"/></clipPath>',
        ]
        # Axes, ticks and grid.
        out.append(
            f'<rect x="{left:.2f}" y="{top:.2f}" width="{plot_w:.2f}" height="{plot_h:.2f}" fill="none" stroke="#333"/>'
        )
        for value, text in self._x_ticks(x0, x1):
            x = px(value)
            out.append(
                f'<line x1="{x:.2f}" y1="{top + plot_h:.2f}" x2="{x:.2f}" y2="{top + plot_h + 4:.2f}" stroke="#333"/>'
            )
            out.append(
                f'<line x1="{x:.2f}" y1="{top:.2f}" x2="{x:.2f}" y2="{top + plot_h:.2f}" stroke="#eee"/>'
            )
            out.append(
                f'<text x="{x:.2f}" y="{top + plot_h + 16:.2f}" text-anchor="middle">{html.escape(text)}</text>'
            )
        step = _nice_step(y1 - y0)
        tick = math.ceil(y0 / step) * step
        while tick <= y1 + 1e-12:
            y = py(tick)
            out.append(f'<line x1="{left - 4:.2f}" y1="{y:.2f}" x2="{left:.2f}" y2="{y:.2f}" stroke="#333"/>')
            out.append(
                f'<line x1="{left:.2f}" y1="{y:.2f}" x2="{left + plot_w:.2f}" y2="{y:.2f}" stroke="#eee"/>'
            )
            out.append(
                f'<text x="{left - 7:.2f}" y="{y + 4:.2f}" text-anchor="end">{_label(round(tick, 12))}</text>'
            )
            tick += step
        out.append(
            f'<text x="{left + plot_w / 2:.2f}" y="{self.height - 8:.2f}" text-anchor="middle">{html.escape(self.xlabel)}</text>'
        )
        out.append(
            f'<text transform="translate(14 {top + plot_h / 2:.2f}) rotate(-90)" text-anchor="middle">{html.escape(self.ylabel)}</text>'
        )
        out.append(f'<text x="{left:.2f}" y="{top - 10:.2f}" font-size="12">{html.escape(self.title)}</text>')
        out.append(f'<g clip-path="url(#{clip})">')
        for kind, item in self._items:
            colour = item["colour"]
            if kind == "band":
                xs, lows, highs = item["x"], item["low"], item["high"]
                assert isinstance(xs, list) and isinstance(lows, list) and isinstance(highs, list)
                upper = [f"{px(x):.2f},{py(h):.2f}" for x, h in zip(xs, highs, strict=True) if ok(x, h)]
                lower = [f"{px(x):.2f},{py(lo):.2f}" for x, lo in zip(xs, lows, strict=True) if ok(x, lo)]
                points = " ".join(upper + lower[::-1])
                out.append(
                    f'<polygon points="{points}" fill="{colour}" fill-opacity="{item["opacity"]}" stroke="none"/>'
                )
            elif kind == "line":
                xs, ys = item["x"], item["y"]
                assert isinstance(xs, list) and isinstance(ys, list)
                points = " ".join(f"{px(x):.2f},{py(y):.2f}" for x, y in zip(xs, ys, strict=True) if ok(x, y))
                dash = f' stroke-dasharray="{item["dash"]}"' if item["dash"] else ""
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>'
                )
            elif kind == "points":
                xs, ys, names = item["x"], item["y"], item["names"]
                assert isinstance(xs, list) and isinstance(ys, list) and isinstance(names, list)
                for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
                    if not ok(x, y):
                        continue
                    out.append(_marker(str(item["marker"]), px(x), py(y), str(colour)))
                    if index < len(names) and names[index]:
                        out.append(
                            f'<text x="{px(x) + 5:.2f}" y="{py(y) - 5:.2f}" font-size="8" fill="{colour}">{html.escape(names[index])}</text>'
                        )
            elif kind == "vline":
                x_value = item["x"]
                assert isinstance(x_value, float | int)
                if x_value > 0 or not self.xlog:
                    at = px(float(x_value))
                    out.append(
                        f'<line x1="{at:.2f}" y1="{top:.2f}" x2="{at:.2f}" y2="{top + plot_h:.2f}" stroke="{colour}" stroke-dasharray="5 3"/>'
                    )
                    out.append(
                        f'<text x="{at + 3:.2f}" y="{top + plot_h - 5:.2f}" font-size="9" fill="{colour}">{html.escape(str(item["label"]))}</text>'
                    )
            elif kind == "hline":
                y_value = item["y"]
                assert isinstance(y_value, float | int)
                level = py(float(y_value))
                out.append(
                    f'<line x1="{left:.2f}" y1="{level:.2f}" x2="{left + plot_w:.2f}" y2="{level:.2f}" stroke="{colour}"/>'
                )
        out.append("</g>")
        # Legend, top left inside the plot.
        for index, (kind, colour, label) in enumerate(self._legend):
            y = top + 14 + 14 * index
            x = left + 10
            if kind == "band":
                out.append(
                    f'<rect x="{x - 5:.2f}" y="{y - 5:.2f}" width="10" height="8" fill="{colour}" fill-opacity="0.3"/>'
                )
            elif kind == "line":
                out.append(
                    f'<line x1="{x - 6:.2f}" y1="{y - 1:.2f}" x2="{x + 6:.2f}" y2="{y - 1:.2f}" stroke="{colour}" stroke-width="1.6"/>'
                )
            else:
                out.append(_marker(kind, x, y - 1, colour))
            out.append(f'<text x="{x + 12:.2f}" y="{y + 3:.2f}" font-size="9">{html.escape(label)}</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def _x_ticks(self, x0: float, x1: float) -> list[tuple[float, str]]:
        if not self.xlog:
            step = _nice_step(x1 - x0)
            first = math.ceil(x0 / step) * step
            count = math.floor((x1 - first) / step) + 1
            return [(first + k * step, _label(round(first + k * step, 12))) for k in range(max(count, 0))]
        ticks = []
        multipliers = (1.0,) if x1 - x0 > 3 else (1.0, 2.0, 5.0)
        for decade in range(math.floor(x0), math.ceil(x1) + 1):
            for m in multipliers:
                value = m * 10.0**decade
                if x0 <= math.log10(value) <= x1:
                    ticks.append((value, _label(value)))
        return ticks


def _floats(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values]


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "diamond":
        return f'<polygon points="{x:.2f},{y - 4.5:.2f} {x + 4.5:.2f},{y:.2f} {x:.2f},{y + 4.5:.2f} {x - 4.5:.2f},{y:.2f}" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{x - 3.5:.2f}" y="{y - 3.5:.2f}" width="7" height="7" fill="{colour}"/>'
    if kind == "hollow":
        return f'<circle cx="{x:.2f}" cy="{y:.2f}" r="4" fill="white" stroke="{colour}" stroke-width="1.4"/>'
    if kind == "cross":
        return (
            f'<path d="M{x - 4:.2f},{y - 4:.2f}L{x + 4:.2f},{y + 4:.2f}M{x - 4:.2f},{y + 4:.2f}L{x + 4:.2f},{y - 4:.2f}" '
            f'stroke="{colour}" stroke-width="1.6"/>'
        )
    return f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3.5" fill="{colour}"/>'
