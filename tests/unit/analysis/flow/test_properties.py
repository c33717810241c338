"""Properties of the transforms and the polygon test on arbitrary inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from secretome.analysis.flow.gating import points_in_polygon
from secretome.analysis.flow.transforms import LogicleTransform, _Biexponential

values = st.lists(
    st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, allow_infinity=False), min_size=1, max_size=50
)


@given(values)
def test_the_tabled_logicle_equals_the_direct_halley_solution(raw: list[float]) -> None:
    logicle = LogicleTransform("l", 262144.0, 0.5, 4.5, 0.0)
    x = np.asarray(raw)
    fast = logicle.apply(x)
    p = logicle._parameters()

    shape = _Biexponential(
        p["a"], p["b"], p["c"], p["d"], p["f"], p["x1"], p["x1"] + p["w"] / 4, p["taylor"], True, 262144.0
    )
    direct = shape.solve(np.abs(x))
    direct = np.where(x < 0, 2 * p["x1"] - direct, direct)
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-12)


@given(values)
def test_logicle_is_monotone(raw: list[float]) -> None:
    x = np.sort(np.asarray(raw))
    scaled = LogicleTransform("l", 10000.0, 1.0, 4.0, 0.5).apply(x)
    assert np.all(np.diff(scaled) >= -1e-15)


coordinate = st.floats(min_value=-10, max_value=10, allow_nan=False).map(lambda v: round(v, 3))


@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8),
    st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40),
)
def test_polygon_membership_is_the_even_odd_rule_away_from_edges(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    # Shift the points off the 0.001 grid the vertices lie on, so none falls on an edge or vertex height,
    # where half-open conventions may legitimately differ.
    xy = np.asarray(points) + np.array([0.00031, 0.00017])
    ours = points_in_polygon(xy[:, 0], xy[:, 1], vertices)
    reference = [_even_odd(vertices, float(x), float(y)) for x, y in xy]
    assert ours.tolist() == reference


def _even_odd(vertices: list[tuple[float, float]], x: float, y: float) -> bool:
    """Crossings of a ray to +x with the polygon's edges, counted one by one."""
    inside = False
    for i in range(len(vertices)):
        (x1, y1), (x2, y2) = vertices[i], vertices[(i + 1) % len(vertices)]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
