"""FCS read speed and memory: a 1,000,000-event, 14-channel FCS 3.1 file generated here with flowio.

Reports, from the same run (best of several repeats):

* the bound: read the file's bytes and view its DATA segment as a NumPy matrix (``np.frombuffer``), plus
  the byte-order conversion when the file is big-endian (the matrix must be usable);
* ours: :func:`secretome.instruments.flow.read_fcs_data_sets` on the file's bytes (keywords via flowio,
  DATA via NumPy, masks and quirk handling included);
* flowio alone: ``flowio.FlowData(path)`` (events as a flat Python array), and with ``as_array()``.

Targets: ours within 3x of the bound and faster than flowio; peak memory (tracemalloc, file bytes
included) at most two copies of the event matrix.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flowio
import numpy as np

from secretome.instruments.flow import read_fcs_data_sets

EVENTS = 1_000_000
CHANNELS = 14
REPEATS = 7


def _write_file(directory: Path) -> Path:
    rng = np.random.default_rng(2024)
    events = rng.gamma(2.0, 5000.0, size=(EVENTS, CHANNELS)).astype(np.float32)
    names = ["FSC-A", "FSC-H", "SSC-A", "SSC-H"] + [f"FL{i}-A" for i in range(1, CHANNELS - 4)] + ["Time"]
    path = directory / "bench_1M_x14.fcs"
    with path.open("wb") as handle:
        flowio.create_fcs(handle, events.flatten(), names)
    return path


def _big_endian_copy(path: Path) -> Path:
    """The same events with BYTEORD 4,3,2,1 and the DATA bytes swapped (a big-endian cytometer's file)."""
    content = bytearray(path.read_bytes())
    data_set = read_fcs_data_sets(bytes(content), path.name)[0]
    start = int(data_set.keywords["begindata"])
    size = data_set.events.nbytes
    swapped = np.frombuffer(bytes(content[start : start + size]), dtype="<f4").astype(">f4").tobytes()
    content[start : start + size] = swapped
    text = bytes(content).replace(b"1,2,3,4", b"4,3,2,1", 1)
    target = path.with_name("bench_1M_x14_big_endian.fcs")
    target.write_bytes(text)
    return target


def _bound(path: Path, start: int, dtype: str) -> Any:
    content = path.read_bytes()
    view = np.frombuffer(content, dtype=dtype, count=EVENTS * CHANNELS, offset=start).reshape(
        EVENTS, CHANNELS
    )
    return view if view.dtype.isnative else view.astype(view.dtype.newbyteorder("="))


def _ours(path: Path) -> Any:
    return read_fcs_data_sets(path.read_bytes(), path.name)[0].events


def _flowio(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flowio.FlowData(str(path)).events


def _flowio_array(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return flowio.FlowData(str(path)).as_array(preprocess=False)


def _best(functions: list[Callable[[], Any]]) -> list[float]:
    """Best time of each function; the functions take turns so that a busy disk hits them alike."""
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(REPEATS):
        for index, function in enumerate(functions):
            started = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - started)
    return [min(t) for t in times]


def _peak(function: Callable[[], Any]) -> int:
    tracemalloc.start()
    result = function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def measure(path: Path, label: str) -> dict[str, float]:
    data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
    start = int(data_set.keywords["begindata"])
    dtype = ("<" if data_set.keywords["byteord"] == "1,2,3,4" else ">") + "f4"
    matrix_bytes = EVENTS * CHANNELS * 4
    expected = _bound(path, start, dtype)
    assert np.array_equal(_ours(path), expected), "our read differs from the bound's matrix"
    bound, ours, flowio_events, flowio_matrix = _best(
        [
            lambda: _bound(path, start, dtype),
            lambda: _ours(path),
            lambda: _flowio(path),
            lambda: _flowio_array(path),
        ]
    )
    content = path.read_bytes()
    in_memory_ours = _best([lambda: read_fcs_data_sets(content, path.name)])[0]
    peak = _peak(lambda: _ours(path))
    print(f"  {label}")
    print(
        f"    bound (read + np.frombuffer{' + byteswap' if dtype[0] == '>' else ''}): {bound * 1000:8.1f} ms"
    )
    print(f"    ours (read_fcs_data_sets):          {ours * 1000:8.1f} ms   {ours / bound:5.2f}x the bound")
    print(
        f"    flowio FlowData:                    {flowio_events * 1000:8.1f} ms   {flowio_events / bound:5.2f}x the bound"
        f"   (ours is {flowio_events / ours:5.1f}x faster)"
    )
    print(
        f"    flowio FlowData + as_array:         {flowio_matrix * 1000:8.1f} ms   {flowio_matrix / bound:5.2f}x the bound"
        f"   (ours is {flowio_matrix / ours:5.1f}x faster)"
    )
    print(f"    ours on bytes already in memory (no file read): {in_memory_ours * 1000:6.2f} ms")
    print(
        f"    peak memory (ours, file bytes incl.): {peak / matrix_bytes:4.2f} copies of the event matrix ({matrix_bytes / 1e6:.0f} MB)"
    )
    return {
        "bound": bound,
        "ours": ours,
        "flowio": flowio_events,
        "flowio_array": flowio_matrix,
        "peak_copies": peak / matrix_bytes,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="secretome-bench-fcs-") as directory:
        path = _write_file(Path(directory))
        print(
            f"  {EVENTS:,} events x {CHANNELS} channels, FCS 3.1 float32, {path.stat().st_size / 1e6:.1f} MB; best of {REPEATS}"
        )
        little = measure(path, "little-endian (as flowio writes it)")
        big = measure(_big_endian_copy(path), "big-endian copy (BYTEORD 4,3,2,1: one conversion copy)")
        for name, result in (("little-endian", little), ("big-endian", big)):
            within = result["ours"] <= 3 * result["bound"]
            faster = result["ours"] < result["flowio"]
            memory = result["peak_copies"] <= 2.0 + 0.05
            print(
                f"  {name}: within 3x of bound: {within}; faster than flowio: {faster}; <= 2 copies: {memory}"
            )


if __name__ == "__main__":
    main()
