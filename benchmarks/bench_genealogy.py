"""Genealogy reads: a lot's trace and the home-page lot list, against baselines measured in the same run.

Builds a throw-away SQLite site (demo users), one Wharton's-jelly lineage through a master and a working
bank, and ``LOTS`` lots at P5 (each from its own vial), plus one lot conditioned straight from P1 as the
baseline. Reports milliseconds and database queries for ``trace`` of the deep (P5, through two banks) and
the shallow (P1) lot, their ratio; and for the home-page lot list, per lot, the batched list
(``registry.lot_rows``: the facts of all lots read at once) against building the same rows one lot at a
time (``lot_summary`` and ``state_of`` per lot), with the list over half the lots to show its query count
does not grow with the number of lots.

Run: ``make benchmark`` or ``.venv/bin/python -m benchmarks genealogy`` (``LOTS=10`` for a shorter run).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _timed(action: Callable[[], Any], repeats: int = 5) -> tuple[float, int]:
    """Best wall time (ms) over ``repeats`` and the number of queries of one call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        action()
    best = min(_once(action) for _ in range(repeats))
    return best * 1000, len(queries)


def _once(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    lots = int(os.environ.get("LOTS", "20"))
    with tempfile.TemporaryDirectory() as home:
        os.environ.pop("DATABASE_URL", None)
        from secretome.demo import foundation
        from secretome.demo.context import DemoContext
        from secretome.demo.genealogy import SOURCES, START, _donor, _Lineage, _recipes

        ctx = DemoContext.initialise(Path(home), None)
        foundation.create_users(ctx)
        _recipes(ctx)
        wj = _Lineage(ctx, _donor(ctx, "UC-WJ", START.date()), *SOURCES["UC-WJ"])
        p1 = wj.seed(parent=wj.isolate(START), when=START + dt.timedelta(days=10, hours=1))
        shallow = wj.lot(wj.condition(p1))
        p1_again = wj.seed(
            parent=wj.isolate(START + dt.timedelta(days=1)), when=START + dt.timedelta(days=12)
        )
        mcb = wj.bank(wj.grow(p1_again, 2), "MCB", 10)
        wcb = wj.bank(wj.grow(wj.thaw(mcb, 0, START + dt.timedelta(days=40)), 4), "WCB", lots)
        deep = None
        for index in range(lots):
            deep = wj.lot(wj.condition(wj.thaw(wcb, index, START + dt.timedelta(days=60 + index))))
        assert deep is not None

        from secretome.services import genealogy as g
        from secretome.services.release import state_of
        from secretome.web import registry

        shallow_ms, shallow_queries = _timed(lambda: g.trace(shallow.number))
        deep_ms, deep_queries = _timed(lambda: g.trace(deep.number))
        print(f"trace P1 lot (baseline): {shallow_ms:7.1f} ms, {shallow_queries} queries")
        print(
            f"trace P5 lot via MCB+WCB: {deep_ms:7.1f} ms, {deep_queries} queries ({deep_ms / shallow_ms:.1f}x)"
        )

        everything = g.lots()
        half = everything[: len(everything) // 2]

        def one_at_a_time() -> None:
            for lot in g.lots():
                g.lot_summary(lot)
                state_of(lot)

        base_ms, base_queries = _timed(one_at_a_time, repeats=3)
        list_ms, list_queries = _timed(registry.lot_rows, repeats=3)
        _, half_queries = _timed(lambda: g.lot_summaries(half), repeats=1)
        _, all_queries = _timed(lambda: g.lot_summaries(everything), repeats=1)
        count = len(everything)
        print(
            f"lot list one lot at a time (baseline), {count} lots: {base_ms:7.1f} ms, {base_queries} queries "
            f"({base_ms / count:.2f} ms and {base_queries / count:.1f} queries per lot)"
        )
        print(
            f"home-page lot list, {count} lots: {list_ms:7.1f} ms, {list_queries} queries "
            f"({list_ms / count:.2f} ms and {list_queries / count:.2f} queries per lot; "
            f"{base_ms / list_ms:.0f}x faster, {base_queries / list_queries:.0f}x fewer queries)"
        )
        print(f"lot summaries: {half_queries} queries for {len(half)} lots, {all_queries} for {count}")


if __name__ == "__main__":
    main()
