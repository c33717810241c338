"""Analysis method kinds: from the instrument readings of stored raw files to reportable lot results.

A *method kind* (standard-curve quantitation, relative potency, NTA particle analysis, cell count, flow
identity, qPCR gene expression, ...) turns the parsed inputs of one analysis run, the approved settings of
an analysis method version and the analyst's recorded decisions into a :class:`~secretome.methods.base.KindOutcome`:
the engine's complete result, its plots and flags, and one :class:`~secretome.methods.base.Reportable` per lot
and specification attribute. Kinds read no files and touch no database: the service layer
(:mod:`secretome.services.analyses`) reads the stored raw bytes, parses them with :mod:`secretome.instruments`
and hands the readings in, so the same call recomputes a stored run exactly.
"""

from __future__ import annotations

from secretome.methods.base import (
    Decisions,
    KindOutcome,
    LotContext,
    MethodInput,
    MethodKind,
    Reportable,
    RunContext,
)
from secretome.methods.registry import get_kind, kind_names, register

__all__ = [
    "Decisions",
    "KindOutcome",
    "LotContext",
    "MethodInput",
    "MethodKind",
    "Reportable",
    "RunContext",
    "get_kind",
    "kind_names",
    "register",
]
