"""Cost of the input-limit check that runs before every reader, against a bound measured in the same run.

Files (generated here):

* a 64 MB CSV of 2 million ordinary rows (the common case: many short lines);
* the hostile 2 MB CSV whose first line holds a million columns (refused);
* a 64 MB FCS-like binary (only its size is checked).

The bound is one ``bytes.count(b"\\n")`` over the same bytes: the least any line-aware check must do.
Target: the check within 3x of the bound on ordinary text, and the hostile file refused in well under a
second (it took a table converter over 150 s and 6.4 GB).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from secretome.instruments.limits import check_input
from secretome.instruments.model import ReaderError

REPEATS = 5


def _best(action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def _accepted(content: bytes) -> None:
    check_input(content, "big.csv")


def _refused(content: bytes) -> None:
    try:
        check_input(content, "wide.csv")
    except ReaderError:
        return
    raise AssertionError("the hostile file was not refused")


def main() -> None:
    rows = b"S%07d,1.23,0.98,95.4,17.9,18.1,0.88,0.89,Mammalian,3/28/2022 10:12,,Vi-CELL\r\n"
    text = b"Sample ID,a,b,c,d,e,f,g,h,i,j,k\r\n" + b"".join(rows % i for i in range(2_000_000))
    hostile = b"Sample ID,Viable (x10^6) cells/mL" + b"," * 1_000_000 + b"\r\n" + b"S1,1.0\r\n" * 120_000
    binary = b"FCS3.1" + bytes(64 * 1024 * 1024)
    cases: list[tuple[str, bytes, Callable[[bytes], None]]] = [
        (f"{len(text) / 1e6:.0f} MB CSV, 2,000,001 lines", text, _accepted),
        (f"{len(hostile) / 1e6:.1f} MB CSV, 10^6 columns on line 1", hostile, _refused),
        (f"{len(binary) / 1e6:.0f} MB binary (FCS)", binary, _accepted),
    ]
    for label, content, check in cases:
        bound = _best(partial(bytes.count, content, b"\n"))
        ours = _best(partial(check, content))
        ratio = ours / bound if bound > 0 else float("inf")
        print(f"  {label}")
        print(f"    bound (bytes.count of line ends): {bound * 1000:8.2f} ms")
        print(f"    check_input:                      {ours * 1000:8.2f} ms   {ratio:6.2f}x the bound")
