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


def _window_count(flags: BoolArray, window: int) -> Any:
    """Number of true flags in the window of ``window`` points ending at each point (0 where the window
    does not exist yet, which no rule threshold reaches)."""
    n = flags.shape[0]
    counts = np.zeros(flags.shape, dtype=np.int64)
    if window > n:
        return counts
    cumulative = np.cumsum(flags, axis=0, dtype=np.int64)
    counts[window - 1] = cumulative[window - 1]
    counts[window:] = cumulative[window:] - cumulative[:-window]
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
    if values.shape[0] < length:
        return flagged
    step = np.diff(values, axis=0)
    up = _run(step > 0, length - 1)
    down = _run(step < 0, length - 1)
    flagged[1:] = up | down
    return flagged


def _alternating(values: FloatArray, length: int) -> BoolArray:
    """``length`` points in a row alternating up and down (a tie breaks the alternation)."""
    flagged = np.zeros(values.shape, dtype=bool)
    if values.shape[0] < length:
        return flagged
    direction = np.sign(np.diff(values, axis=0))
    turns = direction[1:] * direction[:-1] < 0
    flagged[2:] = _run(turns, length - 2)
    return flagged


class _Zones:
    """Signed distances from the centre line compared with the zone lines, computed once per chart."""

    def __init__(self, values: Any, centre: Any, sigma: Any) -> None:
        x = np.asarray(values, dtype=float)
        sigma = np.asarray(sigma, dtype=float)
        if np.any(~(sigma > 0)):
            raise ValueError("sigma: must be positive and finite")
        self.values: FloatArray = x
        distance = x - np.asarray(centre, dtype=float)
        self.above: BoolArray = distance > 0
        self.below: BoolArray = distance < 0
        self.beyond = {k: np.abs(distance) > k * sigma for k in (1, 2, 3)}
        self.within_1: BoolArray = np.abs(distance) < sigma
        self.high = {k: distance > k * sigma for k in (1, 2)}
        self.low = {k: distance < -k * sigma for k in (1, 2)}

    def same_side(self, k: int, of: int, zone: int) -> BoolArray:
        result: BoolArray = _k_of_m(self.high[zone], k, of) | _k_of_m(self.low[zone], k, of)
        return result

    def one_side_run(self, length: int) -> BoolArray:
        result: BoolArray = _run(self.above, length) | _run(self.below, length)
        return result


def nelson_flags(values: Any, centre: Any, sigma: Any) -> dict[int, BoolArray]:
    """Boolean flags of Nelson rules 1-8 at every point (see the module docstring for the conventions)."""
    zones = _Zones(values, centre, sigma)
    return {
        1: zones.beyond[3],
        2: zones.one_side_run(9),
        3: _trend(zones.values, 6),
        4: _alternating(zones.values, 14),
        5: zones.same_side(2, 3, 2),
        6: zones.same_side(4, 5, 1),
        7: _run(zones.within_1, 15),
        8: _run(zones.beyond[1], 8),
    }


def western_electric_flags(values: Any, centre: Any, sigma: Any) -> dict[int, BoolArray]:
    """Boolean flags of Western Electric rules 1-4 (1-3 are Nelson 1, 5, 6; 4 is eight in a row on one side)."""
    zones = _Zones(values, centre, sigma)
    return {
        1: zones.beyond[3],
        2: zones.same_side(2, 3, 2),
        3: zones.same_side(4, 5, 1),
        4: zones.one_side_run(8),
    }


def all_flags(values: Any, centre: Any, sigma: Any) -> tuple[dict[int, BoolArray], dict[int, BoolArray]]:
    """Nelson and Western Electric flags from one pass over the zones (the shared rules computed once)."""
    zones = _Zones(values, centre, sigma)
    beyond_3 = zones.beyond[3]
    two_of_three = zones.same_side(2, 3, 2)
    four_of_five = zones.same_side(4, 5, 1)
    nelson = {
        1: beyond_3,
        2: zones.one_side_run(9),
        3: _trend(zones.values, 6),
        4: _alternating(zones.values, 14),
        5: two_of_three,
        6: four_of_five,
        7: _run(zones.within_1, 15),
        8: _run(zones.beyond[1], 8),
    }
    western = {1: beyond_3, 2: two_of_three, 3: four_of_five, 4: zones.one_side_run(8)}
    return nelson, western


def lot_indices(flags: BoolArray) -> list[int]:
    """Flagged positions of a one-dimensional flag array as lot indices counted from 1."""
    return [int(i) + 1 for i in np.flatnonzero(flags)]
