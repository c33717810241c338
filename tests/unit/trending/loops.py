"""Run rules written the plain way: one point at a time, one window at a time, straight from the rule text.

An independent reference for the vectorised rules (the tests compare the two on random series) and the
baseline the trending benchmark measures against.
"""

from __future__ import annotations

from collections.abc import Sequence


def _side(d: float) -> int:
    return 1 if d > 0 else (-1 if d < 0 else 0)


def loop_rules(
    values: Sequence[float], centre: float, sigma: float
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Nelson 1-8 and Western Electric 1-4 as lists of flagged lot indices (from 1)."""
    d = [v - centre for v in values]
    n = len(d)
    nelson: dict[int, list[int]] = {r: [] for r in range(1, 9)}
    western: dict[int, list[int]] = {r: [] for r in range(1, 5)}
    for i in range(n):
        lot = i + 1
        if abs(d[i]) > 3 * sigma:
            nelson[1].append(lot)
            western[1].append(lot)
        if i >= 8:
            sides = {_side(x) for x in d[i - 8 : i + 1]}
            if sides in ({1}, {-1}):
                nelson[2].append(lot)
        if i >= 7:
            sides = {_side(x) for x in d[i - 7 : i + 1]}
            if sides in ({1}, {-1}):
                western[4].append(lot)
        if i >= 5:
            window = values[i - 5 : i + 1]
            up = all(window[j + 1] > window[j] for j in range(5))
            down = all(window[j + 1] < window[j] for j in range(5))
            if up or down:
                nelson[3].append(lot)
        if i >= 13:
            window = values[i - 13 : i + 1]
            steps = [window[j + 1] - window[j] for j in range(13)]
            if all(steps[j] * steps[j + 1] < 0 for j in range(12)):
                nelson[4].append(lot)
        if i >= 2:
            for sign in (1, -1):
                window = d[i - 2 : i + 1]
                count = sum(1 for x in window if sign * x > 2 * sigma)
                if sign * d[i] > 2 * sigma and count >= 2:
                    nelson[5].append(lot)
                    western[2].append(lot)
        if i >= 4:
            for sign in (1, -1):
                window = d[i - 4 : i + 1]
                count = sum(1 for x in window if sign * x > sigma)
                if sign * d[i] > sigma and count >= 4:
                    nelson[6].append(lot)
                    western[3].append(lot)
        if i >= 14 and all(abs(x) < sigma for x in d[i - 14 : i + 1]):
            nelson[7].append(lot)
        if i >= 7 and all(abs(x) > sigma for x in d[i - 7 : i + 1]):
            nelson[8].append(lot)
    return nelson, western


def loop_imr(values: Sequence[float], baseline_n: int) -> tuple[float, float, float]:
    """Centre line, sigma and MRbar of the baseline, by plain sums."""
    baseline = values[:baseline_n]
    centre = sum(baseline) / baseline_n
    ranges = [abs(baseline[i] - baseline[i - 1]) for i in range(1, baseline_n)]
    mr_bar = sum(ranges) / len(ranges)
    return centre, mr_bar / 1.128, mr_bar
