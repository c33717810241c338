"""FlowJo 10 workspaces (.wsp): import one sample's gating tree as a :class:`GatingStrategy`.

Labs keep their gating in FlowJo; this reads it the way FlowKit does, so the same tree gives the same
counts: the sample's spillover matrix (``transforms:spilloverMatrix``; dimensions named with its prefix,
``Comp-``, read compensated), its per-channel transforms (linear, logicle, fasinh; FlowJo's own ``biex``
and ``log`` have no Gating-ML equivalent and are refused), and the ``Population`` tree of
RectangleGate/PolygonGate plus And/Or/Not nodes. FlowJo stores gate coordinates on the untransformed scale;
they are moved onto each dimension's transform scale, where the gate is drawn. Population names repeat
under different parents in FlowJo; a repeated name becomes its path (``Singlets/CD4``) as the gate id.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
import numpy as np

from secretome.analysis.flow.gating import (
    UNCOMPENSATED,
    BooleanGate,
    Dimension,
    Gate,
    GatingStrategy,
    PolygonGate,
    RectangleGate,
    Spillover,
)
from secretome.analysis.flow.transforms import AsinhTransform, LinearTransform, LogicleTransform, Transform

GATING = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
TRANSFORMS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
DATATYPE = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"
_G, _T, _D = f"{{{GATING}}}", f"{{{TRANSFORMS}}}", f"{{{DATATYPE}}}"


def _root(text: str | bytes) -> Element:
    try:
        root = safe_xml.fromstring(text)
    except ParseError as exc:
        raise ValueError(f"FlowJo workspace: not well-formed XML ({exc})") from None
    except Exception as exc:  # defusedxml's refusals of entities and DTDs
        raise ValueError(f"FlowJo workspace: refused XML ({type(exc).__name__}: {exc})") from None
    version = root.get("flowJoVersion", "")
    if root.tag != "Workspace" or not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 10:
        raise ValueError("FlowJo workspace: expected a <Workspace> of FlowJo 10 or later")
    return root


def _samples(root: Element) -> list[tuple[str, Element]]:
    found = []
    for sample in root.iter("Sample"):
        node = sample.find("SampleNode")
        if node is not None:
            found.append((node.get("name", ""), sample))
    return found


def workspace_samples(text: str | bytes) -> list[str]:
    """The sample names of a workspace, in file order."""
    return [name for name, _ in _samples(_root(text))]


def _number(text: str | None, where: str) -> float:
    try:
        return float(str(text))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None


@dataclass(frozen=True)
class _Matrix:
    spillover: Spillover
    prefix: str
    suffix: str


def _matrix(sample: Element) -> _Matrix | None:
    matrices = sample.findall(f"{_T}spilloverMatrix")
    if not matrices:
        return None
    if len(matrices) > 1:
        raise ValueError("FlowJo workspace: several spillover matrices for one sample are not supported")
    element = matrices[0]
    if element.get("spectral") == "1":
        raise ValueError("FlowJo workspace: spectral unmixing matrices are not supported")
    name = element.get("name") or "FlowJo"
    holder = element.find(f"{_D}parameters")
    detectors = tuple(
        str(p.get(f"{_D}name")) for p in (holder.findall(f"{_D}parameter") if holder is not None else [])
    )
    rows = [
        [_number(c.get(f"{_T}value"), f"spillover matrix {name!r}") for c in row.findall(f"{_T}coefficient")]
        for row in element.findall(f"{_T}spillover")
    ]
    spill = Spillover(name, detectors, detectors, np.asarray(rows, dtype=np.float64))
    return _Matrix(spill, element.get("prefix", "Comp-"), element.get("suffix", ""))


def _transforms(sample: Element) -> dict[str, Transform]:
    holder = sample.find("Transformations")
    lut: dict[str, Transform] = {}
    if holder is None:
        return lut
    for element in holder:
        kind = element.tag.removeprefix(_T)
        parameter = element.find(f"{_D}parameter")
        name = str(parameter.get(f"{_D}name")) if parameter is not None else ""
        where = f"transform of {name!r}"

        def value(key: str, element: Element = element, where: str = where) -> float:
            return _number(element.get(f"{_T}{key}"), f"{where} {key}")

        if kind == "linear":
            # As FlowKit reads it: T = maxRange, A = minRange (FlowJo's gain is a display setting).
            lut[name] = LinearTransform(name, value("maxRange"), value("minRange"))
        elif kind == "logicle":
            lut[name] = LogicleTransform(name, value("T"), value("W"), value("M"), value("A"))
        elif kind == "fasinh":
            lut[name] = AsinhTransform(name, value("T"), value("M"), value("A"))
        else:
            raise ValueError(
                f"FlowJo workspace: {where} is FlowJo's {kind!r}, which has no Gating-ML equivalent; "
                "save the channel as linear, logicle or arcsinh"
            )
    return lut


def _dimension(element: Element, matrix: _Matrix | None, lut: dict[str, Transform]) -> Dimension:
    fcs = element.find(f"{_D}fcs-dimension")
    if fcs is None:
        raise ValueError("FlowJo workspace: a gate dimension has no fcs-dimension")
    name = str(fcs.get(f"{_D}name"))
    compensation = UNCOMPENSATED
    if matrix is not None:
        stripped = name
        if matrix.prefix and stripped.startswith(matrix.prefix):
            stripped = stripped[len(matrix.prefix) :]
        if matrix.suffix and stripped.endswith(matrix.suffix):
            stripped = stripped[: -len(matrix.suffix)]
        if stripped in matrix.spillover.detectors:
            name, compensation = stripped, matrix.spillover.id
    return Dimension(name, compensation, name if name in lut else None)


def _scaled(lut: dict[str, Transform], dimension: Dimension, value: float) -> float:
    if dimension.transform is None:
        return value
    return float(lut[dimension.transform].apply(np.array([value]))[0])


def _gate(
    population: Element, gate_id: str, parent: str | None, matrix: _Matrix | None, lut: dict[str, Transform]
) -> Gate:
    holder = population.find("Gate")
    children = list(holder) if holder is not None else []
    if len(children) != 1:
        raise ValueError(f"FlowJo workspace: population {gate_id!r} has no single gate")
    body = children[0]
    kind = body.tag.removeprefix(_G)
    if body.get("eventsInside", "1") != "1":
        raise ValueError(
            f"FlowJo workspace: population {gate_id!r} keeps the events outside its gate (not supported)"
        )
    dimensions = [_dimension(d, matrix, lut) for d in body.findall(f"{_G}dimension")]
    if kind == "RectangleGate":
        bounds = []
        for element, dimension in zip(body.findall(f"{_G}dimension"), dimensions, strict=True):
            low, high = element.get(f"{_G}min"), element.get(f"{_G}max")
            bounds.append(
                (
                    _scaled(lut, dimension, _number(low, gate_id)) if low is not None else None,
                    _scaled(lut, dimension, _number(high, gate_id)) if high is not None else None,
                )
            )
        return RectangleGate(gate_id, tuple(dimensions), tuple(bounds), parent)
    if kind == "PolygonGate":
        if len(dimensions) != 2:
            raise ValueError(f"FlowJo workspace: polygon {gate_id!r} needs two dimensions")
        vertices = []
        for vertex in body.findall(f"{_G}vertex"):
            x, y = (_number(c.get(f"{_D}value"), gate_id) for c in vertex.findall(f"{_G}coordinate"))
            vertices.append((_scaled(lut, dimensions[0], x), _scaled(lut, dimensions[1], y)))
        return PolygonGate(gate_id, (dimensions[0], dimensions[1]), tuple(vertices), parent)
    raise ValueError(f"FlowJo workspace: population {gate_id!r} uses a {kind}, which is not supported")


def parse_flowjo_workspace(text: str | bytes, sample: str | None = None) -> GatingStrategy:
    """The gating tree of ``sample`` (default: the first sample) as a strategy.

    Raises
    ------
    ValueError
        Not a FlowJo 10 workspace, no such sample, or a gate or transform that has no Gating-ML form.
    """
    root = _root(text)
    samples = _samples(root)
    if not samples:
        raise ValueError("FlowJo workspace: no samples")
    chosen = next((element for name, element in samples if name == sample), None) if sample else samples[0][1]
    if chosen is None:
        raise ValueError(
            f"FlowJo workspace: no sample {sample!r} (samples: {', '.join(n for n, _ in samples)})"
        )
    matrix = _matrix(chosen)
    lut = _transforms(chosen)
    node = chosen.find("SampleNode")
    assert node is not None
    entries: list[tuple[Element, tuple[str, ...]]] = []

    def walk(element: Element, path: tuple[str, ...]) -> None:
        holder = element.find("Subpopulations")
        if holder is None:
            return
        for child in holder:
            if child.tag in ("Population", "AndNode", "OrNode", "NotNode"):
                child_path = (*path, child.get("name", ""))
                entries.append((child, child_path))
                walk(child, child_path)

    walk(node, ())
    names = [path[-1] for _, path in entries]
    by_path = {path: (path[-1] if names.count(path[-1]) == 1 else "/".join(path)) for _, path in entries}
    gates: list[Gate] = []
    for element, path in entries:
        gate_id = by_path[path]
        parent = by_path[path[:-1]] if len(path) > 1 else None
        if element.tag == "Population":
            gates.append(_gate(element, gate_id, parent, matrix, lut))
            continue
        operation = {"AndNode": "and", "OrNode": "or", "NotNode": "not"}[element.tag]
        dependents = element.find("Dependents")
        references = []
        for dependent in dependents.findall("Dependent") if dependents is not None else []:
            target = tuple(str(dependent.get("name", "")).split("/"))
            if target not in by_path:
                raise ValueError(
                    f"FlowJo workspace: {gate_id!r} depends on unknown population {'/'.join(target)!r}"
                )
            references.append((by_path[target], False))
        gates.append(BooleanGate(gate_id, operation, tuple(references), parent))
    if not gates:
        raise ValueError("FlowJo workspace: the sample has no gates")
    transforms = {
        name: lut[name] for name in sorted({d.transform for g in gates for d in g.dimensions if d.transform})
    }
    compensations = {matrix.spillover.id: matrix.spillover} if matrix is not None else {}
    return GatingStrategy(tuple(gates), transforms, compensations)
