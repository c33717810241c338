"""The SVG chart writer of the run plots: well-formed, deterministic, log decades on the x axis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from secretome.methods.kinds._svg import Chart

SVG = "{http://www.w3.org/2000/svg}"


def chart() -> Chart:
    figure = Chart("IL-6 <curve> & fit", "concentration (pg/mL)", "response")
    figure.band([10.0, 100.0, 1000.0], [0.1, 0.9, 1.9], [0.3, 1.1, 2.1], "#1f77b4", 0.2, "band")
    figure.line([10.0, 100.0, 1000.0], [0.2, 1.0, 2.0], "#1f77b4", "fit")
    figure.points(
        [10.0, 100.0, 0.0, float("nan")], [0.2, 1.0, 5.0, 1.0], "black", "standards", names=["a", "b"]
    )
    figure.vline(50.0, "green", "LLOQ")
    return figure


def test_the_chart_is_well_formed_svg_with_escaped_text_and_log_decades() -> None:
    text = chart().render()
    root = ET.fromstring(text.split("\n", 1)[1])
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "IL-6 <curve> & fit" in labels
    assert {"10", "100", "1000"} <= set(labels)
    # A zero or NaN dose cannot go on a log axis: two of the four points are drawn.
    assert len(list(root.iter(f"{SVG}circle"))) == 2 + 1  # and one legend marker


def test_the_same_chart_gives_the_same_text_and_figures_get_their_own_clip_path() -> None:
    assert chart().render() == chart().render()
    other = Chart("residuals", "x", "y")
    other.points([1.0, 10.0], [0.0, 1.0], "black")
    first = ET.fromstring(chart().render().split("\n", 1)[1]).find(f"{SVG}clipPath")
    second = ET.fromstring(other.render().split("\n", 1)[1]).find(f"{SVG}clipPath")
    assert first is not None and second is not None
    assert first.get("id") != second.get("id")
