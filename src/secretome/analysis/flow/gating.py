"""Gating-ML 2.0 gating strategies and their evaluation on one sample's events.

Conventions (the Gating-ML 2.0 specification, and FlowKit's reading of it, which the compliance vectors
confirm):

* events are FCS scale values, one column per ``$PnN`` channel (or the stored values and a per-channel
  :class:`~secretome.analysis.flow.scale.ChannelScale`), gated block by block in float64;
* a dimension names a channel, a compensation (``"uncompensated"``, ``"FCS"`` for the file's own spillover,
  or the id of a spectrum matrix of the strategy) and optionally a transform; a ratio dimension names a
  ``fratio`` transform instead of a channel;
* compensation is x_comp = x[:, detectors] @ inv(S) (rows of S are sources, columns detectors), computed with
  a linear solve; channels outside the matrix are left as they are;
* a rectangle keeps min <= x < max (a missing bound is open); a polygon keeps events of odd winding count
  (crossings counted half-open, so a point on a vertex height counts once); an ellipsoid keeps events with
  Mahalanobis distance squared <= the gate's ``distanceSquare``; a quadrant keeps, per divider, the interval
  between the divider values around its location (a value on a divider goes up);
* a gate's events are those of its parent that it keeps; a Boolean gate combines the full memberships of
  the gates it references (each optionally as its complement);
* % of parent = 100 count / parent count, % of total = 100 count / $TOT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from secretome.analysis.flow.scale import ChannelScale
from secretome.analysis.flow.transforms import FloatArray, RatioTransform, Transform, transform_from_dict

BoolArray = npt.NDArray[np.bool_]
UNCOMPENSATED = "uncompensated"
_SUBSET_SHARE = 0.6
_BLOCK = 1 << 14  # events gated together: the block (900 KB of float32) and its columns stay in cache
FCS = "FCS"
ROOT = "root"


@dataclass(frozen=True)
class Spillover:
    """A spillover (spectrum) matrix: row i is how fluorochrome i spills into each detector.

    For a file's own ``$SPILLOVER`` the fluorochromes are the detectors. A compensated dimension named by a
    fluorochrome reads the compensated column of the detector at the same position.
    """

    id: str
    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    matrix: FloatArray = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        matrix = np.asarray(self.matrix, dtype=np.float64)
        size = len(self.detectors)
        if len(self.fluorochromes) != size or matrix.shape != (size, size):
            raise ValueError(
                f"spillover {self.id!r}: a {matrix.shape} matrix for {len(self.fluorochromes)} fluorochromes "
                f"and {size} detectors (must be square, one row per fluorochrome)"
            )
        if not np.all(np.isfinite(matrix)):
            raise ValueError(f"spillover {self.id!r}: matrix has non-finite entries")
        object.__setattr__(self, "matrix", matrix)

    def detector_of(self, name: str) -> str | None:
        """The detector whose compensated column a dimension called ``name`` reads, or None."""
        if name in self.fluorochromes:
            return self.detectors[self.fluorochromes.index(name)]
        if name in self.detectors:
            return name
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fluorochromes": list(self.fluorochromes),
            "detectors": list(self.detectors),
            "matrix": self.matrix.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Spillover:
        return cls(
            str(raw["id"]),
            tuple(raw["fluorochromes"]),
            tuple(raw["detectors"]),
            np.asarray(raw["matrix"], dtype=np.float64),
        )


def compensate(
    events: FloatArray,
    channels: Sequence[str],
    spillover: Spillover,
    only: Sequence[str] | None = None,
) -> tuple[FloatArray, tuple[str, ...]]:
    """Compensated detector columns of ``events`` (a new n x k array) and the detectors, in order.

    x_comp = x[:, detectors] @ inv(S), with inv(S) from an LU solve of S X = I (never an explicit inversion
    routine). ``only`` limits the output to those detectors (every column still uses all of them).
    """
    missing = [d for d in spillover.detectors if d not in channels]
    if missing:
        raise ValueError(f"compensation {spillover.id!r}: channel(s) {', '.join(missing)} not in the file")
    wanted = tuple(d for d in spillover.detectors if only is None or d in only)
    events = np.asarray(events, dtype=np.float64)
    sources = [events[:, list(channels).index(d)] for d in spillover.detectors]
    by_detector = np.empty((len(wanted), events.shape[0]))
    _unmix(sources, unmixing_matrix(spillover), [spillover.detectors.index(d) for d in wanted], by_detector)
    compensated: FloatArray = by_detector.T
    return compensated, wanted


def unmixing_matrix(spillover: Spillover) -> FloatArray:
    """inv(S) from an LU solve of S X = I (LAPACK gesv, partial pivoting)."""
    unmixing: FloatArray = np.linalg.solve(spillover.matrix, np.eye(len(spillover.detectors))).astype(
        np.float64, copy=False
    )
    return unmixing


def _unmix(
    sources: Sequence[FloatArray | None], unmixing: FloatArray, wanted: Sequence[int], out: FloatArray
) -> None:
    """out[k] = sum over i of sources[i] x unmixing[i, wanted[k]], in order of i, zero terms left out.

    Element-wise products rather than one matrix product: on a few columns the difference is small, and
    the BLAS library's threads, waiting on each other on a loaded machine, made the product up to a
    hundred times slower than its best. A source that only zero coefficients use may be None.
    """
    term = np.empty(out.shape[1:])
    for row, column in zip(out, wanted, strict=True):
        started = False
        for source, coefficient in zip(sources, unmixing[:, column], strict=True):
            if coefficient == 0:
                continue
            assert source is not None
            if not started:
                np.multiply(source, coefficient, out=row)
                started = True
            else:
                np.multiply(source, coefficient, out=term)
                row += term
        if not started:
            row[...] = 0.0


@dataclass(frozen=True)
class Dimension:
    """One axis of a gate: a channel (or a ratio transform), its compensation and its transform."""

    channel: str | None
    compensation: str = UNCOMPENSATED
    transform: str | None = None
    ratio: str | None = None

    def __post_init__(self) -> None:
        if (self.channel is None) == (self.ratio is None):
            raise ValueError("dimension: name exactly one of a channel or a ratio transformation")

    @property
    def label(self) -> str:
        name = self.channel if self.channel is not None else f"ratio {self.ratio}"
        parts = [name]
        if self.compensation != UNCOMPENSATED:
            parts.append(f"comp {self.compensation}")
        if self.transform:
            parts.append(self.transform)
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "compensation": self.compensation,
            "transform": self.transform,
            "ratio": self.ratio,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Dimension:
        return cls(
            raw.get("channel"),
            str(raw.get("compensation", UNCOMPENSATED)),
            raw.get("transform"),
            raw.get("ratio"),
        )


def _check_id(gate_id: str) -> None:
    if not gate_id or not gate_id.strip():
        raise ValueError("id: a gate needs a non-empty id")


@dataclass(frozen=True)
class RectangleGate:
    """min <= x < max on every dimension; None is an open bound."""

    id: str
    dimensions: tuple[Dimension, ...]
    bounds: tuple[tuple[float | None, float | None], ...]
    parent: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not self.dimensions or len(self.bounds) != len(self.dimensions):
            raise ValueError(f"gate {self.id!r}: a rectangle needs one (min, max) per dimension")
        for low, high in self.bounds:
            if low is None and high is None:
                raise ValueError(f"gate {self.id!r}: a rectangle dimension needs a min or a max")
            if low is not None and high is not None and not low <= high:
                raise ValueError(f"gate {self.id!r}: min {low} is above max {high}")

    def keeps(self, columns: Sequence[FloatArray]) -> BoolArray:
        inside = np.ones(columns[0].shape[0], dtype=bool)
        for column, (low, high) in zip(columns, self.bounds, strict=True):
            if low is not None:
                inside &= column >= low
            if high is not None:
                inside &= column < high
        return inside

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "rectangle",
            "id": self.id,
            "parent": self.parent,
            "dimensions": [d.to_dict() for d in self.dimensions],
            "bounds": [list(b) for b in self.bounds],
        }


@dataclass(frozen=True)
class PolygonGate:
    """A polygon in two dimensions; events of odd winding count are inside."""

    id: str
    dimensions: tuple[Dimension, Dimension]
    vertices: tuple[tuple[float, float], ...]
    parent: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if len(self.dimensions) != 2:
            raise ValueError(f"gate {self.id!r}: a polygon has exactly two dimensions")
        if len(self.vertices) < 3:
            raise ValueError(f"gate {self.id!r}: a polygon needs at least three vertices")

    def keeps(self, columns: Sequence[FloatArray]) -> BoolArray:
        return points_in_polygon(columns[0], columns[1], self.vertices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "polygon",
            "id": self.id,
            "parent": self.parent,
            "dimensions": [d.to_dict() for d in self.dimensions],
            "vertices": [list(v) for v in self.vertices],
        }


def points_in_polygon(x: FloatArray, y: FloatArray, vertices: Sequence[tuple[float, float]]) -> BoolArray:
    """Odd winding count: an upward edge crossing with the point strictly left counts +1, a downward one -1.

    An edge counts when it spans the point's height half-open (y1 <= y < y2 upward, y2 <= y < y1 downward),
    so a ray through a vertex is counted once, exactly as an even-odd ray cast would. Only the parity of
    the winding count matters, and each counted crossing changes it, so it is kept as one boolean per event.
    """
    size = x.shape[0]
    inside = np.zeros(size, dtype=bool)
    # Scratch arrays reused by every edge: fresh temporaries per operation cost more than the arithmetic.
    across, along = np.empty(size), np.empty(size)
    spans, test = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    count = len(vertices)
    with np.errstate(invalid="ignore"):
        for i in range(count):
            x1, y1 = vertices[i]
            x2, y2 = vertices[(i + 1) % count]
            if y1 == y2:
                continue
            low, high = (y1, y2) if y1 < y2 else (y2, y1)
            np.greater_equal(y, low, out=spans)
            np.less(y, high, out=test)
            spans &= test
            # is_left = (x2 - x1)(y - y1) - (x - x1)(y2 - y1): > 0 counts upward edges, < 0 downward ones.
            np.subtract(y, y1, out=across)
            across *= x2 - x1
            np.subtract(x, x1, out=along)
            along *= y2 - y1
            (np.greater if y1 < y2 else np.less)(across, along, out=test)
            spans &= test
            inside ^= spans
    return inside


@dataclass(frozen=True)
class EllipsoidGate:
    """(x - mean)^T inv(C) (x - mean) <= distance squared."""

    id: str
    dimensions: tuple[Dimension, ...]
    mean: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    distance_square: float
    parent: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        size = len(self.dimensions)
        if size < 2 or len(self.mean) != size or np.shape(self.covariance) != (size, size):
            raise ValueError(
                f"gate {self.id!r}: an ellipsoid needs a mean and a square covariance per dimension"
            )
        if not (math.isfinite(self.distance_square) and self.distance_square > 0):
            raise ValueError(f"gate {self.id!r}: distanceSquare must be positive")
        covariance = np.asarray(self.covariance, dtype=np.float64)
        if not np.all(np.isfinite(covariance)) or np.linalg.matrix_rank(covariance) < size:
            raise ValueError(f"gate {self.id!r}: the covariance matrix is singular (no ellipsoid)")

    def keeps(self, columns: Sequence[FloatArray]) -> BoolArray:
        # The inverse covariance as flowutils (and so FlowKit) computes it.
        inverse = np.linalg.inv(np.asarray(self.covariance, dtype=np.float64))
        centred = [column - centre for column, centre in zip(columns, self.mean, strict=True)]
        distance = np.zeros(columns[0].shape[0])
        term = np.empty_like(distance)
        # The quadratic form term by term into one buffer (no n x k temporaries).
        for i, left in enumerate(centred):
            for j, right in enumerate(centred):
                np.multiply(left, inverse[i, j], out=term)
                term *= right
                distance += term
        inside: BoolArray = distance <= self.distance_square
        return inside

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "ellipsoid",
            "id": self.id,
            "parent": self.parent,
            "dimensions": [d.to_dict() for d in self.dimensions],
            "mean": list(self.mean),
            "covariance": [list(r) for r in self.covariance],
            "distance_square": self.distance_square,
        }


@dataclass(frozen=True)
class Divider:
    """A quadrant divider: one dimension cut at ``values``."""

    id: str
    dimension: Dimension
    values: tuple[float, ...]

    def interval(self, location: float) -> tuple[float | None, float | None]:
        """The divider values either side of ``location``: the greatest <= it and the smallest > it."""
        low = [v for v in self.values if v <= location]
        high = [v for v in self.values if v > location]
        return (max(low) if low else None, min(high) if high else None)


@dataclass(frozen=True)
class Quadrant:
    id: str
    positions: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class QuadrantGate:
    """Dividers and named quadrants; each quadrant is a gate whose parent is the QuadrantGate's parent."""

    id: str
    dividers: tuple[Divider, ...]
    quadrants: tuple[Quadrant, ...]
    parent: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if not self.dividers or not self.quadrants:
            raise ValueError(f"gate {self.id!r}: a quadrant gate needs dividers and quadrants")
        names = {d.id for d in self.dividers}
        for quadrant in self.quadrants:
            for divider, _ in quadrant.positions:
                if divider not in names:
                    raise ValueError(f"quadrant {quadrant.id!r}: divider {divider!r} is not defined")

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d.dimension for d in self.dividers)

    def keeps_quadrant(self, quadrant: Quadrant, columns: Sequence[FloatArray]) -> BoolArray:
        by_id = {d.id: (d, c) for d, c in zip(self.dividers, columns, strict=True)}
        inside = np.ones(columns[0].shape[0], dtype=bool)
        for divider_id, location in quadrant.positions:
            divider, column = by_id[divider_id]
            low, high = divider.interval(location)
            if low is not None:
                inside &= column >= low
            if high is not None:
                inside &= column < high
        return inside

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "quadrant",
            "id": self.id,
            "parent": self.parent,
            "dividers": [
                {"id": d.id, "dimension": d.dimension.to_dict(), "values": list(d.values)}
                for d in self.dividers
            ],
            "quadrants": [{"id": q.id, "positions": [list(p) for p in q.positions]} for q in self.quadrants],
        }


@dataclass(frozen=True)
class BooleanGate:
    """``and``, ``or`` or ``not`` of other gates' memberships, each reference optionally complemented."""

    id: str
    operation: str
    references: tuple[tuple[str, bool], ...]
    parent: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id)
        if self.operation not in ("and", "or", "not"):
            raise ValueError(f"gate {self.id!r}: operation {self.operation!r} is not and/or/not")
        if self.operation == "not" and len(self.references) != 1:
            raise ValueError(f"gate {self.id!r}: 'not' takes exactly one gate reference")
        if self.operation != "not" and len(self.references) < 2:
            raise ValueError(f"gate {self.id!r}: '{self.operation}' takes at least two gate references")

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "boolean",
            "id": self.id,
            "parent": self.parent,
            "operation": self.operation,
            "references": [{"ref": r, "complement": c} for r, c in self.references],
        }


Gate = RectangleGate | PolygonGate | EllipsoidGate | QuadrantGate | BooleanGate


def gate_from_dict(raw: Mapping[str, Any]) -> Gate:
    """Rebuild a gate from its ``to_dict()`` form."""
    kind, gid, parent = raw.get("type"), str(raw.get("id", "")), raw.get("parent")
    dims = tuple(Dimension.from_dict(d) for d in raw.get("dimensions", ()))
    if kind == "rectangle":
        bounds = tuple((b[0], b[1]) for b in raw["bounds"])
        return RectangleGate(gid, dims, bounds, parent)
    if kind == "polygon":
        return PolygonGate(
            gid, (dims[0], dims[1]), tuple((float(v[0]), float(v[1])) for v in raw["vertices"]), parent
        )
    if kind == "ellipsoid":
        return EllipsoidGate(
            gid,
            dims,
            tuple(float(v) for v in raw["mean"]),
            tuple(tuple(float(v) for v in row) for row in raw["covariance"]),
            float(raw["distance_square"]),
            parent,
        )
    if kind == "quadrant":
        dividers = tuple(
            Divider(str(d["id"]), Dimension.from_dict(d["dimension"]), tuple(float(v) for v in d["values"]))
            for d in raw["dividers"]
        )
        quadrants = tuple(
            Quadrant(str(q["id"]), tuple((str(p[0]), float(p[1])) for p in q["positions"]))
            for q in raw["quadrants"]
        )
        return QuadrantGate(gid, dividers, quadrants, parent)
    if kind == "boolean":
        refs = tuple((str(r["ref"]), bool(r.get("complement", False))) for r in raw["references"])
        return BooleanGate(gid, str(raw["operation"]), refs, parent)
    raise ValueError(f"type: {kind!r} is not a gate type (rectangle, polygon, ellipsoid, quadrant, boolean)")


@dataclass(frozen=True)
class GatingStrategy:
    """Gates (in file order), the transforms and spectrum matrices they refer to.

    Construction checks ids are unique, parents and references exist and there are no cycles.
    """

    gates: tuple[Gate, ...]
    transforms: Mapping[str, Transform | RatioTransform] = field(default_factory=dict)
    compensations: Mapping[str, Spillover] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for gate_id in self._node_ids():
            if gate_id in seen or gate_id == ROOT:
                raise ValueError(f"gate id {gate_id!r} is used twice (or is the reserved 'root')")
            seen.add(gate_id)
        quadrant_gates = {g.id for g in self.gates if isinstance(g, QuadrantGate)}
        for gate in self.gates:
            if gate.parent is not None and gate.parent not in seen:
                hint = (
                    " (a quadrant gate is not a population: name one of its quadrants)"
                    if gate.parent in quadrant_gates
                    else ""
                )
                raise ValueError(
                    f"gate {gate.id!r}: parent {gate.parent!r} is not a gate of the strategy{hint}"
                )
            if isinstance(gate, BooleanGate):
                for ref, _ in gate.references:
                    if ref not in seen:
                        raise ValueError(
                            f"gate {gate.id!r}: references {ref!r}, which is not a gate of the strategy"
                        )
            for dimension in gate.dimensions:
                self._check_dimension(gate.id, dimension)
        self.order()  # raises on cycles

    def _check_dimension(self, gate_id: str, dimension: Dimension) -> None:
        if (
            dimension.compensation not in (UNCOMPENSATED, FCS)
            and dimension.compensation not in self.compensations
        ):
            raise ValueError(
                f"gate {gate_id!r}: compensation-ref {dimension.compensation!r} is not defined in the strategy"
            )
        for ref in (dimension.transform, dimension.ratio):
            if ref is not None and ref not in self.transforms:
                raise ValueError(
                    f"gate {gate_id!r}: transformation-ref {ref!r} is not defined in the strategy"
                )
        if dimension.ratio is not None and not isinstance(self.transforms[dimension.ratio], RatioTransform):
            raise ValueError(f"gate {gate_id!r}: {dimension.ratio!r} is not a ratio (fratio) transformation")
        if dimension.transform is not None and isinstance(
            self.transforms[dimension.transform], RatioTransform
        ):
            raise ValueError(
                f"gate {gate_id!r}: {dimension.transform!r} is a ratio, not a scale transformation"
            )

    def _node_ids(self) -> list[str]:
        ids: list[str] = []
        for gate in self.gates:
            if isinstance(gate, QuadrantGate):
                ids.extend(q.id for q in gate.quadrants)
            else:
                ids.append(gate.id)
        return ids

    def nodes(self) -> list[tuple[str, str | None, Gate]]:
        """Every population in file order: (id, parent id or None, defining gate); quadrants expanded."""
        nodes: list[tuple[str, str | None, Gate]] = []
        for gate in self.gates:
            if isinstance(gate, QuadrantGate):
                nodes.extend((q.id, gate.parent, gate) for q in gate.quadrants)
            else:
                nodes.append((gate.id, gate.parent, gate))
        return nodes

    def order(self) -> list[str]:
        """Population ids with every parent and reference before its dependants."""
        nodes = {node_id: (parent, gate) for node_id, parent, gate in self.nodes()}
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(node_id: str, trail: tuple[str, ...]) -> None:
            if state.get(node_id) == 2:
                return
            if state.get(node_id) == 1:
                raise ValueError(f"gates form a cycle: {' -> '.join((*trail, node_id))}")
            state[node_id] = 1
            parent, gate = nodes[node_id]
            needs = [parent] if parent else []
            if isinstance(gate, BooleanGate):
                needs.extend(ref for ref, _ in gate.references)
            for need in needs:
                visit(need, (*trail, node_id))
            state[node_id] = 2
            done.append(node_id)

        for node_id in nodes:
            visit(node_id, ())
        return done

    def path(self, node_id: str) -> tuple[str, ...]:
        """root, ancestors, the population itself."""
        parents = {n: p for n, p, _ in self.nodes()}
        chain = [node_id]
        while parents[chain[-1]] is not None:
            chain.append(str(parents[chain[-1]]))
        return (ROOT, *reversed(chain))

    def channels(self) -> set[str]:
        """Every channel (fcs-dimension name) the strategy reads, before compensation mapping."""
        names: set[str] = set()
        for gate in self.gates:
            for dimension in gate.dimensions:
                if dimension.channel is not None:
                    names.add(dimension.channel)
        for transform in self.transforms.values():
            if isinstance(transform, RatioTransform):
                names.update((transform.numerator, transform.denominator))
        return names

    def to_dict(self) -> dict[str, Any]:
        return {
            "gates": [g.to_dict() for g in self.gates],
            "transforms": {k: v.to_dict() for k, v in self.transforms.items()},
            "compensations": {k: v.to_dict() for k, v in self.compensations.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GatingStrategy:
        return cls(
            gates=tuple(gate_from_dict(g) for g in raw.get("gates", ())),
            transforms={k: transform_from_dict(dict(v)) for k, v in raw.get("transforms", {}).items()},
            compensations={k: Spillover.from_dict(v) for k, v in raw.get("compensations", {}).items()},
        )


def live_single_cells(
    cells: Sequence[tuple[float, float]],
    singlets: Sequence[tuple[float, float]],
    viability: Dimension,
    viability_max: float,
    scatter: tuple[str, str, str] = ("FSC-A", "SSC-A", "FSC-H"),
) -> tuple[PolygonGate, PolygonGate, RectangleGate]:
    """The usual first gates of a cell panel: Cells, Singlets under them, Viable under those.

    Parameters
    ----------
    cells
        Vertices of the Cells polygon on forward x side scatter area (uncompensated), leaving out debris.
    singlets
        Vertices of the Singlets polygon on forward scatter area x height, leaving out doublets.
    viability
        The viability dye's dimension (usually compensated and transformed).
    viability_max
        Viable events lie below this value of the dye (on the dimension's scale).
    scatter
        The forward scatter area, side scatter area and forward scatter height channels.
    """
    area, side, height = scatter
    return (
        PolygonGate(
            "Cells", (Dimension(area), Dimension(side)), tuple((float(x), float(y)) for x, y in cells)
        ),
        PolygonGate(
            "Singlets",
            (Dimension(area), Dimension(height)),
            tuple((float(x), float(y)) for x, y in singlets),
            "Cells",
        ),
        RectangleGate("Viable", (viability,), ((None, viability_max),), "Singlets"),
    )


@dataclass(frozen=True)
class GateCount:
    """One population's count."""

    id: str
    path: tuple[str, ...]
    parent: str
    count: int
    parent_count: int
    total: int

    @property
    def percent_of_parent(self) -> float:
        return 100.0 * self.count / self.parent_count if self.parent_count else math.nan

    @property
    def percent_of_total(self) -> float:
        return 100.0 * self.count / self.total if self.total else math.nan

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "id": self.id,
            "path": "/".join(self.path),
            "parent": self.parent,
            "count": self.count,
            "parent_count": self.parent_count,
            "percent_of_parent": number(self.percent_of_parent),
            "percent_of_total": number(self.percent_of_total),
        }


@dataclass(frozen=True)
class GatingResult:
    """Counts of every population of a strategy on one sample, and each population's event membership."""

    gates: tuple[GateCount, ...]
    total: int
    compensation: str
    warnings: tuple[str, ...] = ()
    membership: Mapping[str, BoolArray] = field(default_factory=dict, repr=False, compare=False)
    #: One array per ``reads`` entry of :func:`apply_strategy`: the dimension's values in the population.
    values: tuple[FloatArray, ...] = field(default=(), repr=False, compare=False)
    #: Warnings raised by reading ``values`` (not by the gates), e.g. a compensation the file lacks.
    value_warnings: tuple[str, ...] = ()

    def count(self, gate_id: str) -> GateCount:
        for gate in self.gates:
            if gate.id == gate_id:
                return gate
        raise KeyError(gate_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "compensation": self.compensation,
            "gates": [g.to_dict() for g in self.gates],
            "warnings": list(self.warnings),
        }

    def plot(self, ax: Any = None) -> Any:
        """Percent of parent of every population, as a horizontal bar chart; returns the figure."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.4, 0.4 * len(self.gates) + 1.2), layout="constrained")
            ax = figure.subplots()
        else:
            figure = ax.figure
        labels = ["  " * (len(g.path) - 2) + g.id for g in self.gates]
        values = [g.percent_of_parent if math.isfinite(g.percent_of_parent) else 0.0 for g in self.gates]
        ax.barh(range(len(values)), values, color="tab:blue")
        ax.set_yticks(range(len(values)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("% of parent")
        ax.set_xlim(0, 100)
        return figure


class EventTable:
    """The columns gates read, computed once each: raw, compensated (per matrix) and transformed.

    ``events`` are FCS scale values, or the values as stored with ``scaling`` (one :class:`ChannelScale`
    per channel) saying how to reach the FCS scale; either way only the columns a gate reads are turned
    into float64 (exactly, for float32 and integer data) and scaled. ``unmixings`` may be shared between
    tables (one per block of events) so each matrix is inverted once.
    """

    def __init__(
        self,
        strategy: GatingStrategy,
        events: npt.NDArray[Any],
        channels: Sequence[str],
        file_spillover: Spillover | None,
        scaling: Sequence[ChannelScale] | None = None,
        unmixings: dict[str, FloatArray] | None = None,
    ) -> None:
        self.strategy = strategy
        self.events = events
        self.channels = list(channels)
        self.file_spillover = file_spillover
        self.scaling = tuple(scaling) if scaling is not None else None
        if self.scaling is not None and len(self.scaling) != len(self.channels):
            raise ValueError(f"scaling: {len(self.scaling)} channel scales for {len(self.channels)} channels")
        self._unmixings = unmixings if unmixings is not None else {}
        # Per gate, its bounding box on channel values (see _keeps); shared between blocks like unmixings.
        self.limits: dict[str, list[tuple[float, float, float, float]] | None] = {}
        self._compensated: dict[str, tuple[FloatArray, tuple[str, ...]]] = {}
        self._columns: dict[tuple[str | None, str, str | None, str | None], FloatArray] = {}
        self._raw_columns: dict[str, FloatArray] = {}
        self._subsets: dict[tuple[str | None, ...], FloatArray] = {}
        # Channels read outside the strategy's gates (a panel's marker channels), compensated with them.
        self.extra_names: set[str] = set()
        self.warnings: list[str] = []

    def _scaled_into(self, index: int, out: FloatArray) -> FloatArray:
        """Column ``index`` on the FCS scale, written into ``out`` (float64, contiguous)."""
        np.copyto(out, self.events[:, index], casting="unsafe")
        if self.scaling is not None and not self.scaling[index].identity:
            self.scaling[index].apply(out)
        return out

    def _raw(self, name: str) -> FloatArray:
        if name not in self.channels:
            raise ValueError(f"channel {name!r} is not in the file (channels: {', '.join(self.channels)})")
        if name not in self._raw_columns:
            # A contiguous copy of the column: the gates read it several times, strided reads cost more.
            self._raw_columns[name] = self._scaled_into(
                self.channels.index(name), np.empty(self.events.shape[0])
            )
        return self._raw_columns[name]

    def _names_under(self, compensation: str) -> set[str]:
        names: set[str] = set()
        for gate in self.strategy.gates:
            for dimension in gate.dimensions:
                if dimension.compensation != compensation:
                    continue
                if dimension.channel is not None:
                    names.add(dimension.channel)
                else:
                    ratio = self.strategy.transforms[str(dimension.ratio)]
                    assert isinstance(ratio, RatioTransform)
                    names.update((ratio.numerator, ratio.denominator))
        names.update(self.extra_names)
        return names

    def _spillover(self, compensation: str) -> Spillover | None:
        if compensation == UNCOMPENSATED:
            return None
        if compensation == FCS:
            if self.file_spillover is None:
                note = "compensation-ref 'FCS': the file has no spillover matrix; its channels are used uncompensated"
                if note not in self.warnings:
                    self.warnings.append(note)
            return self.file_spillover
        return self.strategy.compensations[compensation]

    def _compensate(self, compensation: str, spillover: Spillover) -> tuple[FloatArray, tuple[str, ...]]:
        """The compensated columns of the detectors some gate reads under ``compensation``.

        The same sums as :func:`compensate`, on the scaled detector columns; a detector only zero
        coefficients use is not read.
        """
        missing = [d for d in spillover.detectors if d not in self.channels]
        if missing:
            raise ValueError(
                f"compensation {spillover.id!r}: channel(s) {', '.join(missing)} not in the file"
            )
        if compensation not in self._unmixings:
            self._unmixings[compensation] = unmixing_matrix(spillover)
        unmixing = self._unmixings[compensation]
        needed = {spillover.detector_of(n) for n in self._names_under(compensation)} - {None}
        wanted = tuple(d for d in spillover.detectors if d in needed)
        columns = [spillover.detectors.index(d) for d in wanted]
        size = self.events.shape[0]
        sources = [
            self._raw(detector) if np.any(unmixing[i, columns] != 0) else None
            for i, detector in enumerate(spillover.detectors)
        ]
        # Written detector-major, so each compensated column is contiguous.
        by_detector = np.empty((len(wanted), size))
        _unmix(sources, unmixing, columns, by_detector)
        compensated: FloatArray = by_detector.T
        return compensated, wanted

    def _compensated_column(self, name: str, compensation: str) -> FloatArray:
        spillover = self._spillover(compensation)
        if spillover is None:
            return self._raw(name)
        detector = spillover.detector_of(name)
        if detector is None:
            return self._raw(name)
        if compensation not in self._compensated:
            self._compensated[compensation] = self._compensate(compensation, spillover)
        matrix, detectors = self._compensated[compensation]
        column: FloatArray = matrix[:, detectors.index(detector)]
        return column

    def column(
        self, dimension: Dimension, rows: npt.NDArray[np.intp] | None = None, rows_key: str = ""
    ) -> FloatArray:
        """The dimension's values for every event, or for ``rows`` only (named ``rows_key`` for the cache).

        Transforms are the costly step, so a gate under a small parent transforms its parent's events only.
        """
        key = (dimension.channel, dimension.compensation, dimension.transform, dimension.ratio)
        if key in self._columns:
            full = self._columns[key]
            return full if rows is None else full[rows]
        subset_key = (*key, rows_key)
        if rows is not None and subset_key in self._subsets:
            return self._subsets[subset_key]

        def pick(values: FloatArray) -> FloatArray:
            return values if rows is None else values[rows]

        if dimension.ratio is not None:
            ratio = self.strategy.transforms[dimension.ratio]
            assert isinstance(ratio, RatioTransform)
            values = ratio.apply_pair(
                pick(self._compensated_column(ratio.numerator, dimension.compensation)),
                pick(self._compensated_column(ratio.denominator, dimension.compensation)),
            )
        else:
            assert dimension.channel is not None
            values = pick(self._compensated_column(dimension.channel, dimension.compensation))
        if dimension.transform is not None:
            values = self.strategy.transforms[dimension.transform].apply(values)
        if rows is None:
            self._columns[key] = values
        else:
            self._subsets[subset_key] = values
        return values


def file_spillover(spillover: tuple[Sequence[str], FloatArray] | Spillover | None) -> Spillover | None:
    if spillover is None or isinstance(spillover, Spillover):
        return spillover
    names, matrix = spillover
    return Spillover(FCS, tuple(names), tuple(names), np.asarray(matrix, dtype=np.float64))


Read = tuple[str | None, Dimension]
"""A population id (None for every event) and the dimension whose values are read in it."""


def _check_reads(strategy: GatingStrategy, reads: Sequence[Read]) -> set[str]:
    """The channels the reads name (a table compensates them with the gates' own), after checking them."""
    populations = {node_id for node_id, _, _ in strategy.nodes()}
    names: set[str] = set()
    for population, dimension in reads:
        if population is not None and population not in populations:
            raise ValueError(f"reads: population {population!r} is not a gate of the strategy")
        try:
            strategy._check_dimension("", dimension)
        except ValueError as exc:
            problem = str(exc).removeprefix("gate '': ")
            raise ValueError(f"reads: {problem}") from None
        if dimension.channel is not None:
            names.add(dimension.channel)
        else:
            ratio = strategy.transforms[str(dimension.ratio)]
            assert isinstance(ratio, RatioTransform)
            names.update((ratio.numerator, ratio.denominator))
    return names


def _read_block(
    table: EventTable,
    reads: Sequence[Read],
    membership: Mapping[str, BoolArray],
    parts: Sequence[list[FloatArray]],
) -> None:
    """Append each read's values on the block's events of its population to its list of parts."""
    for (population, dimension), found in zip(reads, parts, strict=True):
        values = table.column(dimension)
        found.append(values if population is None else values[membership[population]])


def _joined(parts: list[list[FloatArray]]) -> tuple[FloatArray, ...]:
    """Each read's parts joined into one array, ``parts`` emptied as it goes (one read's parts held twice)."""
    joined = []
    for found in parts:
        joined.append(np.concatenate(found) if found else np.empty(0))
        found.clear()
    return tuple(joined)


def read_populations(
    strategy: GatingStrategy,
    events: npt.NDArray[Any],
    channels: Sequence[str],
    spillover: tuple[Sequence[str], FloatArray] | Spillover | None,
    membership: Mapping[str, BoolArray],
    reads: Sequence[Read],
    scaling: Sequence[ChannelScale] | None = None,
) -> tuple[tuple[FloatArray, ...], tuple[str, ...]]:
    """Values of dimensions in populations already gated (``GatingResult.membership``), block by block.

    The same columns as :class:`EventTable` gives on the whole sample, without its whole columns: only
    one block's columns and the values kept are held at a time. ``events`` and ``scaling`` as for
    :func:`apply_strategy`. Returns one array per read and the warnings raised reading them.
    """
    events = np.asarray(events)
    names = _check_reads(strategy, reads)
    spill = file_spillover(spillover)
    parts: list[list[FloatArray]] = [[] for _ in reads]
    warnings: list[str] = []
    unmixings: dict[str, FloatArray] = {}
    n = events.shape[0]
    for begin in range(0, max(n, 1), _BLOCK):
        stop = min(begin + _BLOCK, n)
        table = EventTable(strategy, events[begin:stop], channels, spill, scaling, unmixings)
        table.extra_names = names
        _read_block(table, reads, {k: v[begin:stop] for k, v in membership.items()}, parts)
        warnings.extend(w for w in table.warnings if w not in warnings)
    return _joined(parts), tuple(warnings)


def apply_strategy(
    strategy: GatingStrategy,
    events: npt.NDArray[Any],
    channels: Sequence[str],
    spillover: tuple[Sequence[str], FloatArray] | Spillover | None = None,
    total: int | None = None,
    scaling: Sequence[ChannelScale] | None = None,
    reads: Sequence[Read] = (),
) -> GatingResult:
    """Gate one sample.

    Parameters
    ----------
    strategy
        The gating strategy.
    events
        n x p values, one column per channel; not modified. FCS scale values (any real dtype), or with
        ``scaling`` the values as the file stores them (``FcsDataSet.events``).
    channels
        The ``$PnN`` names of the columns.
    spillover
        The file's own spillover (names, matrix), used by ``compensation-ref="FCS"``; None when it has none.
    total
        ``$TOT`` (defaults to the number of rows).
    scaling
        One :class:`~secretome.analysis.flow.scale.ChannelScale` per channel (``FcsDataSet.scaling()``);
        only the columns and events the gates read are scaled, in float64.
    reads
        (population id or None for every event, dimension) pairs whose values are wanted: each block's
        values in its population are kept while the block is gated (``GatingResult.values``), so a panel's
        marker channels need neither a second pass nor whole columns.

    Raises
    ------
    ValueError
        A gate or a read names a channel the file lacks (the message names it), a read names a population
        the strategy lacks, or ``scaling`` does not have one scale per channel.
    """
    events = np.asarray(events)
    if events.ndim != 2 or events.shape[1] != len(channels):
        raise ValueError(f"events: expected an n x {len(channels)} matrix, got shape {events.shape}")
    if not (np.issubdtype(events.dtype, np.floating) or np.issubdtype(events.dtype, np.integer)):
        raise ValueError(f"events: expected real numbers, got {events.dtype}")
    if scaling is not None and len(scaling) != len(channels):
        raise ValueError(f"scaling: {len(scaling)} channel scales for {len(channels)} channels")
    spill = file_spillover(spillover)
    missing = sorted(
        n for n in strategy.channels() if n not in channels and not _compensated_name(strategy, n)
    )
    if missing:
        raise ValueError(f"channel {missing[0]!r} named by the gating strategy is not in the file")
    read_names = _check_reads(strategy, reads)
    n = events.shape[0]
    total = n if total is None else total
    nodes = {node_id: (parent, gate) for node_id, parent, gate in strategy.nodes()}
    order = strategy.order()
    membership = {node_id: np.zeros(n, dtype=bool) for node_id in order}
    warnings: list[str] = []
    unmixings: dict[str, FloatArray] = {}
    limits: dict[str, list[tuple[float, float, float, float]] | None] = {}
    parts: list[list[FloatArray]] = [[] for _ in reads]
    read_warnings: list[str] = []
    # Block by block: each block's columns, compensation and transforms stay in cache between the gates
    # that read them, and no float64 copy of the whole event matrix is ever made. Every gate decides per
    # event, so the blocks give exactly the memberships of one pass over all events.
    for begin in range(0, max(n, 1), _BLOCK):
        stop = min(begin + _BLOCK, n)
        table = EventTable(strategy, events[begin:stop], channels, spill, scaling, unmixings)
        table.limits = limits
        # The read channels are compensated with the gates' ones (each compensated column is the same
        # sum whichever others are computed with it).
        table.extra_names = read_names
        block = {k: v[begin:stop] for k, v in membership.items()}
        _gate_block(table, order, nodes, block)
        warnings.extend(w for w in table.warnings if w not in warnings)
        if reads:
            gated = len(table.warnings)
            _read_block(table, reads, block, parts)
            read_warnings.extend(w for w in table.warnings[gated:] if w not in read_warnings)
    counts = []
    sizes = {node_id: int(np.count_nonzero(members)) for node_id, members in membership.items()}
    for node_id, parent, _ in strategy.nodes():
        counts.append(
            GateCount(
                node_id,
                strategy.path(node_id),
                parent if parent is not None else ROOT,
                sizes[node_id],
                sizes[parent] if parent is not None else n,
                total,
            )
        )
    used = sorted({d.compensation for g in strategy.gates for d in g.dimensions} - {UNCOMPENSATED})
    if FCS in used and spill is None:
        used = [c if c != FCS else "FCS (file has none: uncompensated)" for c in used]
    return GatingResult(
        gates=tuple(counts),
        total=total,
        compensation=", ".join(used) if used else UNCOMPENSATED,
        warnings=tuple(warnings),
        membership=membership,
        values=_joined(parts),
        value_warnings=tuple(read_warnings),
    )


def _gate_block(
    table: EventTable,
    order: Sequence[str],
    nodes: Mapping[str, tuple[str | None, Gate]],
    membership: Mapping[str, BoolArray],
) -> None:
    """Every population's membership of one block of events, written into ``membership`` (all False)."""
    size = table.events.shape[0]
    quadrant_columns: dict[str, list[FloatArray]] = {}
    counted: dict[str, int] = {}
    for node_id in order:
        parent, gate = nodes[node_id]
        members = membership[node_id]
        rows: npt.NDArray[np.intp] | None = None
        if parent is not None and not isinstance(gate, BooleanGate):
            if parent not in counted:
                counted[parent] = int(np.count_nonzero(membership[parent]))
            # Under a parent holding under 60 % of the events, gate (and transform) only the parent's events.
            if counted[parent] < _SUBSET_SHARE * size:
                rows = np.flatnonzero(membership[parent])
        if isinstance(gate, BooleanGate):
            parts = [
                ~membership[ref] if complement else membership[ref] for ref, complement in gate.references
            ]
            if gate.operation == "not":
                keeps = ~parts[0]
            elif gate.operation == "and":
                keeps = np.logical_and.reduce(parts)
            else:
                keeps = np.logical_or.reduce(parts)
        elif isinstance(gate, QuadrantGate):
            if gate.id not in quadrant_columns:
                quadrant_columns[gate.id] = [table.column(d, rows, parent or "") for d in gate.dimensions]
            quadrant = next(q for q in gate.quadrants if q.id == node_id)
            keeps = gate.keeps_quadrant(quadrant, quadrant_columns[gate.id])
        else:
            keeps = _keeps(table, gate, rows, parent or "")
        if rows is not None:
            members[rows[keeps]] = True
        elif parent is not None:
            np.logical_and(keeps, membership[parent], out=members)
        else:
            members[...] = keeps


_MARGIN = 1e-7  # of a bound, on the gate's scale: far beyond the transforms' rounding (about 1e-15)


def _keeps(
    table: EventTable,
    gate: RectangleGate | PolygonGate | EllipsoidGate,
    rows: npt.NDArray[np.intp] | None,
    rows_key: str,
) -> BoolArray:
    """The gate's decision on the block's events (or ``rows``), transforming only the events that need it.

    Scale transforms are increasing, so the gate's bounding box, taken back through the transforms to
    channel values and widened by a margin, holds every event the gate can keep: the others are outside
    without being transformed. A rectangle is also certain to keep the events inside the box narrowed by
    the margin. Only the events between the two are transformed and gated, so the decisions are exactly
    those of transforming every event.
    """
    if gate.id not in table.limits:
        table.limits[gate.id] = _channel_limits(table.strategy, gate)
    limits = table.limits[gate.id]
    if limits is None:
        return gate.keeps([table.column(d, rows, rows_key) for d in gate.dimensions])
    values = [table.column(replace(d, transform=None), rows, rows_key) for d in gate.dimensions]
    candidate = np.ones(values[0].shape[0], dtype=bool)
    sure = np.ones_like(candidate) if isinstance(gate, RectangleGate) else None
    test = np.empty_like(candidate)
    for column, (low, high, sure_low, sure_high) in zip(values, limits, strict=True):
        candidate &= np.greater_equal(column, low, out=test)
        candidate &= np.less_equal(column, high, out=test)
        if sure is not None:
            sure &= np.greater(column, sure_low, out=test)
            sure &= np.less(column, sure_high, out=test)
    if sure is not None:
        candidate &= ~sure
        keeps = sure
    else:
        keeps = np.zeros_like(candidate)
    pending = np.flatnonzero(candidate)
    if pending.size:
        picked = [column[pending] for column in values]
        keeps[pending] = gate.keeps(
            [
                table.strategy.transforms[d.transform].apply(column) if d.transform is not None else column
                for d, column in zip(gate.dimensions, picked, strict=True)
            ]
        )
    return keeps


def _channel_limits(
    strategy: GatingStrategy, gate: RectangleGate | PolygonGate | EllipsoidGate
) -> list[tuple[float, float, float, float]] | None:
    """Per dimension (low, high, sure low, sure high) on the untransformed values, or None (no gain).

    Worth it only where a dimension is transformed by a transform that maps every real value and can be
    inverted (not ``flog``, which leaves values <= 0 out).
    """
    transforms = [
        strategy.transforms[d.transform] if d.transform is not None else None for d in gate.dimensions
    ]
    if not any(t is not None and hasattr(t, "inverse") for t in transforms) or any(
        t is not None and not hasattr(t, "inverse") for t in transforms
    ):
        return None
    if isinstance(gate, RectangleGate):
        box = list(gate.bounds)
    elif isinstance(gate, PolygonGate):
        box = [(min(v[i] for v in gate.vertices), max(v[i] for v in gate.vertices)) for i in (0, 1)]
    else:
        box = []
        for i, centre in enumerate(gate.mean):
            half = math.sqrt(gate.distance_square * gate.covariance[i][i])
            box.append((centre - half, centre + half))
    limits = []
    for transform, (low, high) in zip(transforms, box, strict=True):
        span = high - low if low is not None and high is not None else 0.0

        def back(value: float, widen: float, transform: Any = transform, span: float = span) -> float:
            moved = value + widen * _MARGIN * (1.0 + abs(value) + span)
            return float(transform.inverse(moved)) if transform is not None else moved

        bottom, top = -math.inf, math.inf  # open bounds
        limit = (
            back(low, -1.0) if low is not None else bottom,
            back(high, 1.0) if high is not None else top,
            back(low, 1.0) if low is not None else bottom,
            back(high, -1.0) if high is not None else top,
        )
        if any(math.isnan(v) for v in limit):
            return None
        limits.append(limit)
    return limits


def _compensated_name(strategy: GatingStrategy, name: str) -> bool:
    """A fluorochrome name of a spectrum matrix is a compensated dimension, not a file channel."""
    return any(name in s.fluorochromes for s in strategy.compensations.values())
