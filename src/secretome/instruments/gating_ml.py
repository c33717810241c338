"""Gating-ML 2.0 (ISAC) gating strategies: read the XML text into :mod:`secretome.analysis.flow.gating`
objects and write them back.

Supported: RectangleGate (open bounds), PolygonGate, EllipsoidGate, QuadrantGate, BooleanGate
(and/or/not, ``use-as-complement``), ``parent_id`` hierarchies; transforms flin, flog, fasinh, logicle,
hyperlog and fratio; ``spectrumMatrix`` compensation and ``compensation-ref`` of ``FCS`` / ``uncompensated``.
XML is parsed with ``defusedxml`` (no entity expansion, no external references): a strategy is a user
upload. Errors are ``ValueError`` with the line-free location (gate id, element) in the message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, indent, tostring

import defusedxml.ElementTree as safe_xml
import numpy as np

from secretome.analysis.flow.gating import (
    FCS,
    UNCOMPENSATED,
    BooleanGate,
    Dimension,
    Divider,
    EllipsoidGate,
    Gate,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantGate,
    RectangleGate,
    Spillover,
)
from secretome.analysis.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    RatioTransform,
    Transform,
)

GATING = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
TRANSFORMS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
DATATYPE = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"
_G, _T, _D = f"{{{GATING}}}", f"{{{TRANSFORMS}}}", f"{{{DATATYPE}}}"


def _number(text: str | None, what: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: {text!r} is not a finite number")
    return value


def _attribute(element: Element, namespace: str, name: str) -> str | None:
    # Gating-ML files qualify their attributes, but some writers leave them unqualified.
    value = element.get(f"{namespace}{name}")
    return value if value is not None else element.get(name)


def _required(element: Element, namespace: str, name: str, where: str) -> str:
    value = _attribute(element, namespace, name)
    if value is None or not value.strip():
        raise ValueError(f"{where}: missing attribute {name!r}")
    return value.strip()


def _dimension(element: Element, where: str) -> Dimension:
    compensation = _attribute(element, _G, "compensation-ref") or UNCOMPENSATED
    transform = _attribute(element, _G, "transformation-ref")
    fcs = element.find(f"{_D}fcs-dimension")
    if fcs is not None:
        return Dimension(_required(fcs, _D, "name", where), compensation, transform)
    new = element.find(f"{_D}new-dimension")
    if new is not None:
        return Dimension(None, compensation, transform, _required(new, _D, "transformation-ref", where))
    raise ValueError(f"{where}: a dimension needs an fcs-dimension or a new-dimension")


def _coordinates(element: Element, where: str) -> tuple[float, ...]:
    return tuple(_number(_attribute(c, _D, "value"), where) for c in element.findall(f"{_G}coordinate"))


def _transform(element: Element) -> Transform | RatioTransform:
    tid = _required(element, _T, "id", "transformation")
    children = list(element)
    if not children:
        raise ValueError(f"transformation {tid!r}: empty")
    body = children[0]
    kind = body.tag.removeprefix(_T)
    where = f"transformation {tid!r}"

    def value(name: str, default: float | None = None) -> float:
        raw = _attribute(body, _T, name)
        if raw is None:
            if default is None:
                raise ValueError(f"{where}: missing parameter {name!r}")
            return default
        return _number(raw, f"{where} parameter {name}")

    if kind == "flin":
        return LinearTransform(tid, value("T"), value("A", 0.0))
    if kind == "flog":
        return LogTransform(tid, value("T"), value("M"))
    if kind == "fasinh":
        return AsinhTransform(tid, value("T"), value("M"), value("A", 0.0))
    if kind == "logicle":
        return LogicleTransform(tid, value("T"), value("W"), value("M"), value("A", 0.0))
    if kind == "hyperlog":
        return HyperlogTransform(tid, value("T"), value("W"), value("M"), value("A", 0.0))
    if kind == "fratio":
        names = [_required(d, _D, "name", where) for d in body.findall(f"{_D}fcs-dimension")]
        if len(names) != 2:
            raise ValueError(f"{where}: fratio takes exactly two fcs-dimensions")
        return RatioTransform(tid, names[0], names[1], value("A"), value("B"), value("C"))
    raise ValueError(f"{where}: {kind!r} is not a Gating-ML 2.0 transform")


def _spectrum_matrix(element: Element) -> Spillover:
    sid = _required(element, _T, "id", "spectrumMatrix")
    where = f"spectrumMatrix {sid!r}"

    def names(tag: str) -> tuple[str, ...]:
        holder = element.find(f"{_T}{tag}")
        if holder is None:
            raise ValueError(f"{where}: missing {tag}")
        return tuple(_required(d, _D, "name", where) for d in holder.findall(f"{_D}fcs-dimension"))

    fluorochromes, detectors = names("fluorochromes"), names("detectors")
    rows = [
        [_number(_attribute(c, _T, "value"), where) for c in spectrum.findall(f"{_T}coefficient")]
        for spectrum in element.findall(f"{_T}spectrum")
    ]
    return Spillover(sid, fluorochromes, detectors, np.asarray(rows, dtype=np.float64))


def _gate(element: Element) -> Gate:
    kind = element.tag.removeprefix(_G)
    gid = _required(element, _G, "id", kind)
    parent = _attribute(element, _G, "parent_id")
    where = f"gate {gid!r}"
    if kind == "RectangleGate":
        dims, bounds = [], []
        for d in element.findall(f"{_G}dimension"):
            dims.append(_dimension(d, where))
            low, high = _attribute(d, _G, "min"), _attribute(d, _G, "max")
            bounds.append(
                (
                    _number(low, f"{where} min") if low is not None else None,
                    _number(high, f"{where} max") if high is not None else None,
                )
            )
        return RectangleGate(gid, tuple(dims), tuple(bounds), parent)
    if kind == "PolygonGate":
        dims = [_dimension(d, where) for d in element.findall(f"{_G}dimension")]
        if len(dims) != 2:
            raise ValueError(f"{where}: a polygon has exactly two dimensions")
        vertices = []
        for vertex in element.findall(f"{_G}vertex"):
            point = _coordinates(vertex, where)
            if len(point) != 2:
                raise ValueError(f"{where}: a polygon vertex has two coordinates")
            vertices.append((point[0], point[1]))
        return PolygonGate(gid, (dims[0], dims[1]), tuple(vertices), parent)
    if kind == "EllipsoidGate":
        dims = [_dimension(d, where) for d in element.findall(f"{_G}dimension")]
        mean_element = element.find(f"{_G}mean")
        covariance_element = element.find(f"{_G}covarianceMatrix")
        distance_element = element.find(f"{_G}distanceSquare")
        if mean_element is None or covariance_element is None or distance_element is None:
            raise ValueError(f"{where}: an ellipsoid needs mean, covarianceMatrix and distanceSquare")
        covariance = tuple(
            tuple(_number(_attribute(e, _D, "value"), where) for e in row.findall(f"{_G}entry"))
            for row in covariance_element.findall(f"{_G}row")
        )
        return EllipsoidGate(
            gid,
            tuple(dims),
            _coordinates(mean_element, where),
            covariance,
            _number(_attribute(distance_element, _D, "value"), f"{where} distanceSquare"),
            parent,
        )
    if kind == "QuadrantGate":
        dividers = []
        for d in element.findall(f"{_G}divider"):
            values = tuple(_number(v.text, f"{where} divider value") for v in d.findall(f"{_G}value"))
            dividers.append(Divider(_required(d, _G, "id", where), _dimension(d, where), values))
        quadrants = []
        for q in element.findall(f"{_G}Quadrant"):
            positions = tuple(
                (
                    _required(p, _G, "divider_ref", where),
                    _number(_attribute(p, _G, "location"), f"{where} location"),
                )
                for p in q.findall(f"{_G}position")
            )
            quadrants.append(Quadrant(_required(q, _G, "id", where), positions))
        return QuadrantGate(gid, tuple(dividers), tuple(quadrants), parent)
    if kind == "BooleanGate":
        for operation in ("and", "or", "not"):
            body = element.find(f"{_G}{operation}")
            if body is not None:
                refs = tuple(
                    (
                        _required(r, _G, "ref", where),
                        (_attribute(r, _G, "use-as-complement") or "false").strip().lower() == "true",
                    )
                    for r in body.findall(f"{_G}gateReference")
                )
                return BooleanGate(gid, operation, refs, parent)
        raise ValueError(f"{where}: a Boolean gate needs and, or or not")
    raise ValueError(f"{where}: {kind!r} is not a Gating-ML 2.0 gate")


_GATE_TAGS = {
    f"{_G}{k}" for k in ("RectangleGate", "PolygonGate", "EllipsoidGate", "QuadrantGate", "BooleanGate")
}


def parse_spillover_csv(text: str, matrix_id: str) -> Spillover:
    """An acquisition spillover matrix exported as CSV (FlowJo, FACSDiva): a header row of detector names
    (a leading ``#`` is allowed), then one row per source fluorochrome, optionally led by its name.

    Raises
    ------
    ValueError
        Naming the line: not square, a non-number, no header.
    """
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ValueError("spillover CSV: empty")
    delimiter = "\t" if "\t" in lines[0][1] and "," not in lines[0][1] else ","
    header = [name.strip().strip('"') for name in lines[0][1].lstrip("#").split(delimiter)]
    header = [name for name in header if name]
    rows: list[list[float]] = []
    for number, line in lines[1:]:
        fields = [field.strip().strip('"') for field in line.split(delimiter)]
        if len(fields) == len(header) + 1:
            fields = fields[1:]  # a leading row label
        if len(fields) != len(header):
            raise ValueError(
                f"spillover CSV, line {number}: {len(fields)} values for {len(header)} detectors"
            )
        rows.append([_number(field, f"spillover CSV, line {number}") for field in fields])
    if len(rows) != len(header):
        raise ValueError(f"spillover CSV: {len(rows)} rows for {len(header)} detectors (must be square)")
    return Spillover(matrix_id, tuple(header), tuple(header), np.asarray(rows, dtype=np.float64))


def parse_gating_ml(text: str | bytes, extra_compensations: Sequence[Spillover] = ()) -> GatingStrategy:
    """Read a Gating-ML 2.0 document; ``extra_compensations`` (e.g. an attached acquisition matrix) may be
    named by its gates' ``compensation-ref`` like the document's own spectrum matrices.

    Raises
    ------
    ValueError
        Not well-formed XML, not Gating-ML 2.0, or a gate/transform that is wrong (the message names it).
    """
    try:
        root = safe_xml.fromstring(text)
    except ParseError as exc:
        raise ValueError(f"Gating-ML: not well-formed XML ({exc})") from None
    except Exception as exc:  # defusedxml refuses entities and DTDs with its own exception types
        raise ValueError(f"Gating-ML: refused XML ({type(exc).__name__}: {exc})") from None
    if root.tag != f"{_G}Gating-ML":
        raise ValueError(
            f"Gating-ML: the root element is {root.tag!r}, expected Gating-ML in namespace {GATING}"
        )
    transforms: dict[str, Transform | RatioTransform] = {}
    compensations: dict[str, Spillover] = {extra.id: extra for extra in extra_compensations}
    gates: list[Gate] = []
    for child in root:
        if child.tag == f"{_T}transformation":
            transform = _transform(child)
            transforms[transform.id] = transform
        elif child.tag == f"{_T}spectrumMatrix":
            matrix = _spectrum_matrix(child)
            compensations[matrix.id] = matrix
        elif child.tag in _GATE_TAGS:
            gates.append(_gate(child))
    if not gates:
        raise ValueError("Gating-ML: the document defines no gates")
    return GatingStrategy(tuple(gates), transforms, compensations)


def _format(value: float) -> str:
    return repr(float(value))


def _write_dimension(
    parent: Element, tag: str, dimension: Dimension, extra: dict[str, str] | None = None
) -> Element:
    element = SubElement(parent, f"{_G}{tag}")
    if extra:
        for key, value in extra.items():
            element.set(key, value)
    element.set(f"{_G}compensation-ref", dimension.compensation)
    if dimension.transform is not None:
        element.set(f"{_G}transformation-ref", dimension.transform)
    if dimension.channel is not None:
        SubElement(element, f"{_D}fcs-dimension", {f"{_D}name": dimension.channel})
    else:
        SubElement(element, f"{_D}new-dimension", {f"{_D}transformation-ref": str(dimension.ratio)})
    return element


def _write_transform(root: Element, transform: Transform | RatioTransform) -> None:
    wrapper = SubElement(root, f"{_T}transformation", {f"{_T}id": transform.id})
    raw: dict[str, Any] = transform.to_dict()
    kind = raw.pop("type")
    raw.pop("id")
    if kind == "fratio":
        body = SubElement(wrapper, f"{_T}fratio", {f"{_T}{k}": _format(raw[k]) for k in ("A", "B", "C")})
        for name in (raw["numerator"], raw["denominator"]):
            SubElement(body, f"{_D}fcs-dimension", {f"{_D}name": name})
        return
    SubElement(wrapper, f"{_T}{kind}", {f"{_T}{k}": _format(v) for k, v in raw.items()})


def write_gating_ml(strategy: GatingStrategy) -> str:
    """The strategy as a Gating-ML 2.0 document (reads back to an equal strategy)."""
    root = Element(f"{_G}Gating-ML")
    for transform in strategy.transforms.values():
        _write_transform(root, transform)
    for spill in strategy.compensations.values():
        matrix = SubElement(root, f"{_T}spectrumMatrix", {f"{_T}id": spill.id})
        for tag, names in (("fluorochromes", spill.fluorochromes), ("detectors", spill.detectors)):
            holder = SubElement(matrix, f"{_T}{tag}")
            for name in names:
                SubElement(holder, f"{_D}fcs-dimension", {f"{_D}name": name})
        for row in spill.matrix:
            spectrum = SubElement(matrix, f"{_T}spectrum")
            for value in row:
                SubElement(spectrum, f"{_T}coefficient", {f"{_T}value": _format(value)})
    for gate in strategy.gates:
        kind = {
            RectangleGate: "RectangleGate",
            PolygonGate: "PolygonGate",
            EllipsoidGate: "EllipsoidGate",
            QuadrantGate: "QuadrantGate",
            BooleanGate: "BooleanGate",
        }[type(gate)]
        element = SubElement(root, f"{_G}{kind}", {f"{_G}id": gate.id})
        if gate.parent is not None:
            element.set(f"{_G}parent_id", gate.parent)
        if isinstance(gate, RectangleGate):
            for dimension, (low, high) in zip(gate.dimensions, gate.bounds, strict=True):
                bounds = {}
                if low is not None:
                    bounds[f"{_G}min"] = _format(low)
                if high is not None:
                    bounds[f"{_G}max"] = _format(high)
                _write_dimension(element, "dimension", dimension, bounds)
        elif isinstance(gate, PolygonGate):
            for dimension in gate.dimensions:
                _write_dimension(element, "dimension", dimension)
            for vertex in gate.vertices:
                holder = SubElement(element, f"{_G}vertex")
                for value in vertex:
                    SubElement(holder, f"{_G}coordinate", {f"{_D}value": _format(value)})
        elif isinstance(gate, EllipsoidGate):
            for dimension in gate.dimensions:
                _write_dimension(element, "dimension", dimension)
            mean = SubElement(element, f"{_G}mean")
            for value in gate.mean:
                SubElement(mean, f"{_G}coordinate", {f"{_D}value": _format(value)})
            covariance = SubElement(element, f"{_G}covarianceMatrix")
            for row in gate.covariance:
                row_element = SubElement(covariance, f"{_G}row")
                for value in row:
                    SubElement(row_element, f"{_G}entry", {f"{_D}value": _format(value)})
            SubElement(element, f"{_G}distanceSquare", {f"{_D}value": _format(gate.distance_square)})
        elif isinstance(gate, QuadrantGate):
            for divider in gate.dividers:
                holder = _write_dimension(element, "divider", divider.dimension, {f"{_G}id": divider.id})
                for value in divider.values:
                    SubElement(holder, f"{_G}value").text = _format(value)
            for quadrant in gate.quadrants:
                holder = SubElement(element, f"{_G}Quadrant", {f"{_G}id": quadrant.id})
                for divider_id, location in quadrant.positions:
                    SubElement(
                        holder,
                        f"{_G}position",
                        {f"{_G}divider_ref": divider_id, f"{_G}location": _format(location)},
                    )
        else:
            body = SubElement(element, f"{_G}{gate.operation}")
            for ref, complement in gate.references:
                attributes = {f"{_G}ref": ref}
                if complement:
                    attributes[f"{_G}use-as-complement"] = "true"
                SubElement(body, f"{_G}gateReference", attributes)
    indent(root)
    from xml.etree.ElementTree import register_namespace

    register_namespace("gating", GATING)
    register_namespace("transforms", TRANSFORMS)
    register_namespace("data-type", DATATYPE)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"


__all__ = ["FCS", "parse_gating_ml", "parse_spillover_csv", "write_gating_ml"]
