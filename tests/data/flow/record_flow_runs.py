"""Record what the FCS kinds compute on the test runs, for the recompute test.

Usage: ``python -m tests.data.flow.record_flow_runs``. Runs every run of ``tests/unit/methods/flow_runs.py``
(the flow-identity panels and a t-cell-suppression-flow run) and writes, per run, the result dict, the
reportables and the flags (canonical JSON) to ``flow_runs_expected.json``. It was run once with the kinds
that gated a float64 copy of every tube's scaled events (before they gated the events as stored), so the
test proves that runs stored by those kinds recompute unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.methods.flow_runs import RUNS, run

from secretome.domain.canonical import canonical_json

TARGET = Path(__file__).with_name("flow_runs_expected.json")


def main() -> None:
    recorded = {}
    for name in RUNS:
        outcome = run(name)
        recorded[name] = {
            "result": json.loads(canonical_json(dict(outcome.result))),
            "reportables": [json.loads(canonical_json(r.to_dict())) for r in outcome.reportables],
            "flags": list(outcome.flags),
        }
    TARGET.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
