"""Pack the Gating-ML 2.0 compliance truth vectors (one 0/1 line per event) into ``gatingml2_truth.npz``.

Usage: ``python tests/data/flow/pack_truth.py DIR...`` with the folders holding ``Results_<gate>.txt``.
Each array is the event membership of gate ``<gate>`` in
``tests/data/samples/fcs/BD_FACSCalibur_FCS2.0_data1_GatingML_reference.fcs``, bit-packed with
``numpy.packbits``; the event count is stored as ``events``. The sha256 of every source text file is kept in
``sha256_<gate>`` so the packing can be checked against PROVENANCE.md.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np


def main(folders: list[str]) -> None:
    arrays: dict[str, Any] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("Results_*.txt")):
            gate = path.stem.removeprefix("Results_")
            bits = np.array([int(line) for line in path.read_text().split()], dtype=np.uint8)
            arrays[gate] = np.packbits(bits)
            arrays["events"] = np.array(bits.size)
            arrays[f"sha256_{gate}"] = np.array(hashlib.sha256(path.read_bytes()).hexdigest())
    np.savez_compressed(Path(__file__).with_name("gatingml2_truth.npz"), allow_pickle=False, **arrays)


if __name__ == "__main__":
    main(sys.argv[1:])
