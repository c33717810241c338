"""Properties of the transforms and the polygon test on arbitrary inputs (hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from secretome.analysis.flow.gating import (
    Dimension,
    EllipsoidGate,
    GatingStrategy,
    PolygonGate,
    RectangleGate,
    apply_strategy,
    points_in_polygon,
)
from secretome.analysis.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    _Biexponential,
)

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


_SCALES: list[Any] = [
    LogicleTransform("t", 262144.0, 0.5, 4.5, 0.0),
    LogicleTransform("t", 10000.0, 1.0, 4.0, 0.5),
    HyperlogTransform("t", 262144.0, 0.5, 4.5, 0.0),
    AsinhTransform("t", 262144.0, 4.0, 1.0),
    LinearTransform("t", 262144.0, 100.0),
]
scale_value = st.floats(min_value=-0.2, max_value=1.1, allow_nan=False)


def _events_near(transform: Any, marks: list[float], rng: np.random.Generator) -> np.ndarray:
    """Random channel values, and the channel values of the gate's marks with their float neighbours."""
    exact = np.array([transform.inverse(m) for m in marks])
    exact = exact[np.isfinite(exact)]
    near = np.concatenate([exact, np.nextafter(exact, np.inf), np.nextafter(exact, -np.inf)])
    wide = transform.inverse(1.2) * rng.uniform(-0.05, 1.0, 300)
    return np.concatenate([near, wide, [np.inf, -np.inf, np.nan, 0.0]])


def _gated_directly(gate: Any, transform: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    columns = [transform.apply(x), transform.apply(y)][: len(gate.dimensions)]
    with np.errstate(invalid="ignore"):  # infinite events: inf - inf in the ellipsoid's distance
        result: np.ndarray = gate.keeps(columns)
    return result


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(range(len(_SCALES))),
    st.lists(st.tuples(scale_value, scale_value), min_size=3, max_size=6),
    st.tuples(scale_value, scale_value),
    st.integers(0, 2**32 - 1),
)
def test_gating_through_bounding_boxes_decides_exactly_as_transforming_every_event(
    which: int, vertices: list[tuple[float, float]], corners: tuple[float, float], seed: int
) -> None:
    transform = _SCALES[which]
    rng = np.random.default_rng(seed)
    low, high = sorted(corners)
    dimensions = (Dimension("X", transform="t"), Dimension("Y", transform="t"))
    gates: list[Any] = [
        RectangleGate("R", dimensions, ((low, high), (None, high))),
        PolygonGate("P", dimensions, tuple(vertices)),
        EllipsoidGate("E", dimensions, (low, high), ((0.01, 0.002), (0.002, 0.02)), 1.5),
    ]
    marks = [low, high, *(v for vertex in vertices for v in vertex), low - 0.15, high + 0.2]
    x = _events_near(transform, marks, rng)
    y = rng.permutation(_events_near(transform, marks, rng))[: x.size]
    x = x[: y.size]
    strategy = GatingStrategy(tuple(gates), {"t": transform})
    result = apply_strategy(strategy, np.column_stack([x, y]), ("X", "Y"))
    for gate in gates:
        assert np.array_equal(result.membership[gate.id], _gated_directly(gate, transform, x, y)), gate.id
