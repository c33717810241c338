"""The frame every analysis method kind fits: inputs, decisions, context, outcome.

Kinds are pure with respect to storage and time: everything they need comes in as arguments, and the same
arguments give the same outcome, number for number. That is what lets ``secretome analysis verify`` re-run a
stored run from its raw files and compare every stored number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from secretome.domain.plate_layout import PlateLayout
from secretome.instruments.model import InstrumentReading


@dataclass(frozen=True)
class MethodInput:
    """One input file of a run, as parsed again from its stored bytes.

    Parameters
    ----------
    import_id
        The instrument import the bytes belong to.
    sha256
        SHA-256 of the raw bytes (checked by the service before parsing).
    filename
        The file's original name.
    reading
        What the reader made of the bytes (measurements, and events for flow files).
    layout
        The plate layout in force for the import, or None.
    content
        The raw bytes, for kinds that need more than the tidy reading (e.g. FCS keywords).
    """

    import_id: int
    sha256: str
    filename: str
    reading: InstrumentReading
    layout: PlateLayout | None = None
    content: bytes = field(default=b"", repr=False, compare=False)

    @property
    def label(self) -> str:
        """How results name this input: ``import 12``."""
        return f"import {self.import_id}"


@dataclass(frozen=True)
class Decisions:
    """The analyst's recorded decisions: wells (or events, tubes) excluded and outliers kept, each with a reason.

    Keys are ``"<import_id>:<well>"`` (a well of a plate), or ``"<import_id>:<name>"`` for other inputs.
    """

    excluded: Mapping[str, str] = field(default_factory=dict)
    kept: Mapping[str, str] = field(default_factory=dict)

    def is_excluded(self, import_id: int, well: str) -> bool:
        return f"{import_id}:{well}" in self.excluded

    def to_dict(self) -> dict[str, Any]:
        return {"excluded": dict(sorted(self.excluded.items())), "kept": dict(sorted(self.kept.items()))}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Decisions:
        return cls(excluded=dict(raw.get("excluded", {})), kept=dict(raw.get("kept", {})))


@dataclass(frozen=True)
class LotContext:
    """What normalisation needs to know about one lot, from its conditioning run and QC record.

    ``viable_cells`` producer cells at the start of conditioning, ``hours`` of conditioning, ``volume_ml``
    of medium conditioned, ``protein_ug_per_ml`` total protein of the CM (None when not known).
    """

    lot: str
    viable_cells: float | None = None
    hours: float | None = None
    volume_ml: float | None = None
    protein_ug_per_ml: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "viable_cells": self.viable_cells,
            "hours": self.hours,
            "volume_ml": self.volume_ml,
            "protein_ug_per_ml": self.protein_ug_per_ml,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LotContext:
        return cls(
            lot=str(raw["lot"]),
            viable_cells=raw.get("viable_cells"),
            hours=raw.get("hours"),
            volume_ml=raw.get("volume_ml"),
            protein_ug_per_ml=raw.get("protein_ug_per_ml"),
        )


@dataclass(frozen=True)
class RunContext:
    """The lots a run reports for and how samples map to them.

    ``sample_lots`` maps a sample (or preparation) name in the files to a lot number; ``default_lot`` is the
    lot named with ``--lot`` (samples not otherwise mapped report for it when the kind has one unknown).
    """

    lots: Mapping[str, LotContext] = field(default_factory=dict)
    sample_lots: Mapping[str, str] = field(default_factory=dict)
    default_lot: str | None = None

    def lot_of(self, sample: str) -> str | None:
        """The lot a sample reports for: an explicit mapping, a sample named like a lot, else None."""
        if sample in self.sample_lots:
            return self.sample_lots[sample]
        if sample in self.lots:
            return sample
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lots": {k: v.to_dict() for k, v in sorted(self.lots.items())},
            "sample_lots": dict(sorted(self.sample_lots.items())),
            "default_lot": self.default_lot,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunContext:
        return cls(
            lots={k: LotContext.from_dict(v) for k, v in raw.get("lots", {}).items()},
            sample_lots=dict(raw.get("sample_lots", {})),
            default_lot=raw.get("default_lot"),
        )


@dataclass(frozen=True)
class Reportable:
    """One value a run reports for one lot and one specification attribute.

    ``value`` is the number as computed (not rounded: the specification rounds at evaluation);
    ``qualifier`` is ``"="``, ``"<"`` (below LLOQ: ``value`` is the LLOQ) or ``">"`` (above ULOQ);
    ``finding`` is for qualitative attributes (``"complies"``); ``interval`` a confidence interval when the
    engine gives one. ``inputs`` names what it was computed from (``"12:B3"``, import id and well).
    """

    lot: str
    attribute: str
    value: float | None
    unit: str = ""
    qualifier: str = "="
    finding: str | None = None
    interval: tuple[float, float] | None = None
    inputs: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "attribute": self.attribute,
            "value": self.value,
            "unit": self.unit,
            "qualifier": self.qualifier,
            "finding": self.finding,
            "interval": list(self.interval) if self.interval is not None else None,
            "inputs": list(self.inputs),
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Reportable:
        interval = raw.get("interval")
        return cls(
            lot=str(raw["lot"]),
            attribute=str(raw["attribute"]),
            value=raw.get("value"),
            unit=str(raw.get("unit", "")),
            qualifier=str(raw.get("qualifier", "=")),
            finding=raw.get("finding"),
            interval=(float(interval[0]), float(interval[1])) if interval else None,
            inputs=tuple(raw.get("inputs", ())),
            flags=tuple(raw.get("flags", ())),
        )


@dataclass(frozen=True)
class KindOutcome:
    """What a kind computed: the engine's name, its complete result, what it reports, flags and plots.

    ``result`` is JSON-ready (the engine's ``to_dict()``); ``plots`` are ``(title, svg text)`` pairs;
    ``used`` lists the inputs used (``"12:B3"``), ``excluded`` those left out with the reason.
    """

    engine: str
    result: Mapping[str, Any]
    reportables: tuple[Reportable, ...]
    flags: tuple[str, ...] = ()
    plots: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    used: tuple[str, ...] = ()
    excluded: Mapping[str, str] = field(default_factory=dict)


class MethodKind(Protocol):
    """An analysis method kind.

    ``name`` is what methods store (``"standard-curve"``); ``input_families`` the instrument families it
    accepts (``("plate_reader", "multiplex")``). ``check_settings`` returns the settings completed with
    defaults and raises ``ValueError`` naming the setting that is wrong. ``analyse`` must be deterministic.
    """

    # Read-only members, so a kind may declare them as plain class attributes of narrower types.
    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def input_families(self) -> tuple[str, ...]: ...

    def check_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]: ...

    def analyse(
        self,
        inputs: Sequence[MethodInput],
        settings: Mapping[str, Any],
        decisions: Decisions,
        context: RunContext,
    ) -> KindOutcome: ...


def json_number(value: float | None) -> float | None:
    """A float for a result dict: None for NaN and infinities (JSON has neither)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
