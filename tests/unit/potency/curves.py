"""Generated parallel-curve assays with a known truth (shared by the potency tests and the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from secretome.analysis.logistic import five_pl

DOSES = np.geomspace(0.01, 100.0, 8)


def generated_assay(
    *,
    sd: float,
    relative_potencies: Sequence[float] = (0.5,),
    hills: Sequence[float] | None = None,
    replicates: int = 3,
    asymmetry: float = 1.0,
    seed: int = 0,
    reference_ec50: float = 1.0,
) -> tuple[list[str], list[float], list[float]]:
    """Reference ``S`` and tests ``T1, T2, ...``: bottom 0.1, top 2.0, hill 1 (or ``hills`` per test),
    normal noise of ``sd``; test i's inflection is ``reference_ec50 / relative_potencies[i]``."""
    rng = np.random.default_rng(seed)
    preparation: list[str] = []
    dose: list[float] = []
    response: list[float] = []
    slopes = [1.0, *(hills or [1.0] * len(relative_potencies))]
    for i, (rp, hill) in enumerate(zip([1.0, *relative_potencies], slopes, strict=True)):
        name = "S" if i == 0 else f"T{i}"
        for d in DOSES:
            for _ in range(replicates):
                preparation.append(name)
                dose.append(float(d))
                mean = float(five_pl(d, 0.1, 2.0, reference_ec50 / rp, hill, asymmetry))
                response.append(mean + float(rng.normal(0.0, sd)))
    return preparation, dose, response
