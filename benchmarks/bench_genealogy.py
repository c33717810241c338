"""Genealogy reads: a lot's trace and the home-page lot list, against a shallow baseline in the same run.

Builds a throw-away SQLite site (demo users), one Wharton's-jelly lineage through a master and a working
bank, and ``LOTS`` lots at P5 (each from its own vial), plus one lot conditioned straight from P1 as the
baseline. Reports milliseconds and database queries for ``trace`` of the deep (P5, through two banks) and
the shallow (P1) lot, their ratio, and the lot list per lot.

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
        from secretome.web import registry

        shallow_ms, shallow_queries = _timed(lambda: g.trace(shallow.number))
        deep_ms, deep_queries = _timed(lambda: g.trace(deep.number))
        list_ms, list_queries = _timed(lambda: registry.lot_rows(), repeats=3)
        print(f"trace P1 lot (baseline): {shallow_ms:7.1f} ms, {shallow_queries} queries")
        print(
            f"trace P5 lot via MCB+WCB: {deep_ms:7.1f} ms, {deep_queries} queries ({deep_ms / shallow_ms:.1f}x)"
        )
        print(
            f"home-page lot list, {lots + 1} lots: {list_ms:7.1f} ms, {list_queries} queries "
            f"({list_ms / (lots + 1):.1f} ms and {list_queries / (lots + 1):.0f} queries per lot)"
        )


if __name__ == "__main__":
    main()
