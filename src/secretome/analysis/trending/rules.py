"""Nelson (1-8) and Western Electric (1-4) run rules, vectorised over lots and attributes.

Conventions (the contract of ``secretome trend chart``):

* the rules run on every lot against fixed limits (centre line and sigma from the baseline);
* every comparison is strict: "beyond k sigma" means ``|x - CL| > k sigma``, "within 1 sigma" means
  ``|x - CL| < 1 sigma`` (a point exactly on a zone line is neither within nor beyond it), a point on the
  centre line is on neither side, and a tie breaks a trend or an alternation;
* a rule flags point ``i`` when its window ends at ``i``; windows overlap; a rule runs only where its whole
  window exists (so no rule fires before its window length);
* flags are reported as lot indices counted from 1.

Every function takes ``values`` of shape ``(n,)`` or ``(n, m)`` (``m`` attributes side by side, lots along
axis 0) with ``centre`` and ``sigma`` broadcastable to one row, and returns boolean arrays of the same
shape as ``values``. Windows are counted with cumulative sums, so the cost is linear in the number of lots
whatever the window length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Window length of each Nelson rule (points that must exist before the rule can fire).
NELSON_WINDOWS = {1: 1, 2: 9, 3: 6, 4: 14, 5: 3, 6: 5, 7: 15, 8: 8}
#: Window length of each Western Electric rule.
WESTERN_ELECTRIC_WINDOWS = {1: 1, 2: 3, 3: 5, 4: 8}

NELSON_DESCRIPTIONS = {
    1: "one point beyond 3 sigma",
    2: "nine points in a row on one side of the centre line",
    3: "six points in a row steadily increasing or decreasing",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points beyond 2 sigma on the same side",
    6: "four of five points beyond 1 sigma on the same side",
    7: "fifteen points in a row within 1 sigma",
    8: "eight points in a row beyond 1 sigma",
}
WESTERN_ELECTRIC_DESCRIPTIONS = {
    1: "one point beyond 3 sigma",
    2: "two of three points beyond 2 sigma on the same side",
    3: "four of five points beyond 1 sigma on the same side",
    4: "eight points in a row on one side of the centre line",
}


def rule_descriptions() -> dict[str, dict[str, str]]:
    """The rules' descriptions keyed as in a chart's JSON (``"nelson"`` / ``"western_electric"``, rule numbers
    as strings)."""
    return {
        "nelson": {str(k): v for k, v in NELSON_DESCRIPTIONS.items()},
        "western_electric": {str(k): v for k, v in WESTERN_ELECTRIC_DESCRIPTIONS.items()},
    }


def _window_count(flags: BoolArray, window: int) -> Any:
    """Number of true flags in the window of ``window`` points ending at each point, along the last axis
    (0 where the window does not exist yet, which no rule threshold reaches)."""
    n = flags.shape[-1]
    counts = np.zeros(flags.shape, dtype=np.int32)
    if window > n:
        return counts
    cumulative = np.cumsum(flags, axis=-1, dtype=np.int32)
    counts[..., window - 1] = cumulative[..., window - 1]
    counts[..., window:] = cumulative[..., window:] - cumulative[..., :-window]
    return counts


def _run(flags: BoolArray, length: int) -> BoolArray:
    """True at ``i`` when the ``length`` points ending at ``i`` are all true."""
    result: BoolArray = _window_count(flags, length) == length
    return result


def _k_of_m(flags: BoolArray, k: int, m: int) -> BoolArray:
    """True at ``i`` when point ``i`` is flagged and at least ``k`` of the ``m`` points ending at ``i`` are."""
    result: BoolArray = flags & (_window_count(flags, m) >= k)
    return result


def _trend(values: FloatArray, length: int) -> BoolArray:
    """``length`` points in a row strictly increasing or strictly decreasing (a tie breaks the trend)."""
    flagged = np.zeros(values.shape, dtype=bool)
    if values.shape[-1] < length:
        return flagged
    step = np.diff(values, axis=-1)
    flagged[..., 1:] = _run(step > 0, length - 1) | _run(step < 0, length - 1)
    return flagged


def _alternating(values: FloatArray, length: int) -> BoolArray:
    """``length`` points in a row alternating up and down (a tie breaks the alternation)."""
    flagged = np.zeros(values.shape, dtype=bool)
    if values.shape[-1] < length:
        return flagged
    direction = np.sign(np.diff(values, axis=-1))
    turns = direction[..., 1:] * direction[..., :-1] < 0
    flagged[..., 2:] = _run(turns, length - 2)
    return flagged


class _Zones:
    """Signed distances from the centre line compared with the zone lines, computed once per chart.

    Works with lots along the last axis (attributes x lots, contiguous per attribute, so the window sums
    run over contiguous memory); :meth:`out` turns a result back to the caller's layout.
    """

    def __init__(self, values: Any, centre: Any, sigma: Any) -> None:
        x = np.asarray(values, dtype=float)
        if x.ndim not in (1, 2):
            raise ValueError("values: one series (n,) or a table of lots x attributes (n, m)")
        sigma = np.broadcast_to(np.asarray(sigma, dtype=float), x.shape)
        if np.any(~(sigma > 0)):
            raise ValueError("sigma: must be positive and finite")
        centre = np.broadcast_to(np.asarray(centre, dtype=float), x.shape)
        self.table = x.ndim == 2
        if self.table:
            x, centre, sigma = (np.ascontiguousarray(a.T) for a in (x, centre, sigma))
        self.values: FloatArray = x
        distance = x - centre
        magnitude = np.abs(distance)
        self.above: BoolArray = distance > 0
        self.below: BoolArray = distance < 0
        self.beyond = {k: magnitude > k * sigma for k in (1, 3)}
        self.within_1: BoolArray = magnitude < sigma
        self.high = {k: distance > k * sigma for k in (1, 2)}
        self.low = {k: distance < -k * sigma for k in (1, 2)}

    def out(self, flags: BoolArray) -> BoolArray:
        return flags.T if self.table else flags

    def same_side(self, k: int, of: int, zone: int) -> BoolArray:
        result: BoolArray = _k_of_m(self.high[zone], k, of) | _k_of_m(self.low[zone], k, of)
        return result

    def one_side_run(self, length: int) -> BoolArray:
        result: BoolArray = _run(self.above, length) | _run(self.below, length)
        return result


def nelson_flags(values: Any, centre: Any, sigma: Any) -> dict[int, BoolArray]:
    """Boolean flags of Nelson rules 1-8 at every point (see the module docstring for the conventions)."""
    return all_flags(values, centre, sigma)[0]


def western_electric_flags(values: Any, centre: Any, sigma: Any) -> dict[int, BoolArray]:
    """Boolean flags of Western Electric rules 1-4 (1-3 are Nelson 1, 5, 6; 4 is eight in a row on one side)."""
    return all_flags(values, centre, sigma)[1]


def all_flags(values: Any, centre: Any, sigma: Any) -> tuple[dict[int, BoolArray], dict[int, BoolArray]]:
    """Nelson and Western Electric flags from one pass over the zones (the shared rules computed once)."""
    zones = _Zones(values, centre, sigma)
    out = zones.out
    beyond_3 = out(zones.beyond[3])
    two_of_three = out(zones.same_side(2, 3, 2))
    four_of_five = out(zones.same_side(4, 5, 1))
    nelson = {
        1: beyond_3,
        2: out(zones.one_side_run(9)),
        3: out(_trend(zones.values, 6)),
        4: out(_alternating(zones.values, 14)),
        5: two_of_three,
        6: four_of_five,
        7: out(_run(zones.within_1, 15)),
        8: out(_run(zones.beyond[1], 8)),
    }
    western = {1: beyond_3, 2: two_of_three, 3: four_of_five, 4: out(zones.one_side_run(8))}
    return nelson, western


def lot_indices(flags: BoolArray) -> list[int]:
    """Flagged positions of a one-dimensional flag array as lot indices counted from 1."""
    result: list[int] = (np.flatnonzero(flags) + 1).tolist()
    return result
