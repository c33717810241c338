"""Certificates of analysis: built from the released lot's QC record, rendered by WeasyPrint to PDF/A-3b
with the certificate's JSON embedded, and verified against the database.

The same template renders the web page and the PDF. The PDF's SHA-256 and the embedded JSON's SHA-256 are
stored when the certificate is issued, so :func:`verify_certificate` tells a genuine file from a copy with
one byte changed, and a genuine certificate that is still current from one a later change overtook.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from secretome.config import data_directory
from secretome.db.genealogy.models import Deviation, Lot
from secretome.db.quality.models import Certificate
from secretome.domain.canonical import canonical_json, sha256_hex
from secretome.domain.lot_lifecycle import LotState
from secretome.domain.roles import Role
from secretome.services.analyses import verify_lot
from secretome.services.audit import record_event, require_reason
from secretome.services.durable import write_atomically
from secretome.services.errors import GuardFailed, NotFound
from secretome.services.ev import misev_if_ev_data
from secretome.services.release.lots import (
    RECORD_TYPE,
    analysis_of,
    current_results,
    disposition_of,
    get_lot,
    lot_status,
    state_of,
)
from secretome.services.release.specifications import record_id
from secretome.services.users import full_name, require_role

#: The name of the JSON file embedded in every certificate PDF.
ATTACHMENT_NAME = "certificate.json"


def _genealogy_summary(lot: Lot) -> dict[str, Any]:
    from secretome.services.genealogy import trace

    chain = trace(lot)
    donor = lot.donor
    run = lot.conditioning_run
    return {
        "donor_din": f"{donor.din} {donor.check_character}",
        "tissue_source": lot.get_tissue_source_display(),
        "tissue_source_code": lot.tissue_source,
        "passage_at_conditioning": run.passage.number,
        "cpd": None if chain["growth"]["cpd"] is None else round(float(chain["growth"]["cpd"]), 2),
        "cpd_complete": bool(chain["growth"]["cpd_complete"]),
        "conditioning_started": run.started_at,
        "conditioning_hours": run.planned_hours,
        "collected_at": lot.collected_at,
        "storage": lot.get_storage_display(),
        "senescence_flags": list(chain["flags"]),
    }


def _deviations(lot: Lot) -> list[dict[str, Any]]:
    run = lot.conditioning_run
    deviations = Deviation.objects.filter(conditioning_run=run) | Deviation.objects.filter(
        passage=run.passage
    )
    return [
        {
            "number": d.number,
            "kind": d.kind,
            "description": d.description,
            "decision": d.decision or "pending",
        }
        for d in deviations.distinct().order_by("number")
    ]


def _with_unit(row: dict[str, Any]) -> str | None:
    """The reported result with its unit after numbers (a finding such as "No growth" takes none)."""
    if row["result"] is None:
        return None
    numeric = row["result"]["reading"]["value"] is not None
    return f"{row['reported']} {row['unit']}" if numeric and row["unit"] else str(row["reported"])


def certificate_content(lot: Lot, number: str, issued_at: Any, issuer: User) -> dict[str, Any]:
    """The certificate as data: what the PDF shows and what its embedded JSON holds."""
    status = lot_status(lot)
    disposition = disposition_of(lot)
    assert disposition is not None
    spec = disposition.specification
    signatures = [s for s in status["signatures"] if s["state"] == "valid"]
    released_at = next((s["signed_at"] for s in signatures if s["meaning"] == "released"), None)
    content: dict[str, Any] = {
        "certificate": number,
        "issued_at": issued_at,
        "issued_by": {"username": issuer.get_username(), "printed_name": full_name(issuer)},
        "lot": lot.number,
        "product": {"code": spec.product.code, "name": spec.product.name},
        "specification": {
            "id": record_id(spec),
            "version": spec.version,
            "content_sha256": spec.content_sha256,
        },
        "state": status["state"],
        "released_at": released_at,
        "record_version": status["record_version"],
        "record_sha256": status["record_sha256"],
        "genealogy": _genealogy_summary(lot),
        "attributes": [
            {
                "code": row["attribute"],
                "name": row["name"],
                "category": row["category"],
                "method": row["method"],
                "note": row["note"],
                "criterion": row["criterion"],
                "kind": row["kind"],
                "result": _with_unit(row),
                "unit": row["unit"],
                "verdict": row["verdict"],
                "release_test": row["release_test"],
                "tested_at": None if row["result"] is None else row["result"]["tested_at"],
                "analyst": None if row["result"] is None else row["result"]["analyst"],
                # The instrument import (raw file name and SHA-256) the result comes from, when linked.
                "raw_data": None if row["result"] is None else row["result"].get("instrument_import"),
                "analysis_run": None if row["result"] is None else row["result"].get("analysis_run"),
            }
            for row in status["attributes"]
        ],
        "investigations": [
            {
                "number": i["number"],
                "attribute": i["attribute"],
                "outcome": i["outcome"],
                "conclusion": i["conclusion"],
            }
            for i in status["investigations"]
        ],
        "deviations": _deviations(lot),
        "signatures": [
            {
                "printed_name": s["printed_name"],
                "signer": s["signer"],
                "meaning": s["meaning"],
                "signed_at": s["signed_at"],
                "signature_sha256": s["signature_sha256"],
            }
            for s in signatures
        ],
    }
    misev = _misev_summary(lot)
    if misev is not None:
        content["misev"] = misev
    return content


def _misev_summary(lot: Lot) -> dict[str, Any] | None:
    """The MISEV2023 checklist in short (answered items with their record, missing items), for EV lots."""
    misev = misev_if_ev_data(lot)
    if misev is None:
        return None
    report = misev.to_dict()
    required = [item for item in report["items"] if item["required"]]
    return {
        "checklist": "MISEV2023",
        # Rounded here so the embedded JSON carries the number the certificate prints.
        "completeness": round(report["completeness"], 1),
        "answered": report["answered"],
        "required": report["required"],
        "items": [
            {
                "code": item["code"],
                "text": item["text"],
                "answer": item["answer"],
                "source": ", ".join(source["label"] for source in item["sources"]),
            }
            for item in required
            if item["answered"]
        ],
        "missing": [
            {"code": item["code"], "text": item["text"], "note": item["note"]}
            for item in required
            if not item["answered"]
        ],
    }


# --- plots ------------------------------------------------------------------------------------------


def _plot_svg(plot: dict[str, Any]) -> str:
    """Render a stored plot description (series of points and lines) as an SVG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3.6, 2.6), dpi=100)
    for series in plot.get("series", []):
        if series.get("style") == "line":
            axes.plot(series["x"], series["y"], "-", label=series.get("label"), linewidth=1.2)
        else:
            axes.plot(series["x"], series["y"], "o", label=series.get("label"), markersize=3.5)
    if plot.get("log_x"):
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        axes.set_xscale("log")
        # Plain numbers on the log axis (10, 100, 1000), no crowded minor labels.
        axes.xaxis.set_major_formatter(ScalarFormatter())
        axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel(plot.get("x_label", ""), fontsize=7)
    axes.set_ylabel(plot.get("y_label", ""), fontsize=7)
    axes.set_title(plot.get("title", ""), fontsize=8)
    axes.tick_params(labelsize=6)
    axes.grid(True, linewidth=0.3, alpha=0.5)
    if any(s.get("label") for s in plot.get("series", [])):
        axes.legend(fontsize=6, frameon=False)
    figure.tight_layout()
    buffer = io.StringIO()
    # Fixed metadata and hash salt: the same plot gives the same bytes.
    figure.savefig(buffer, format="svg", metadata={"Date": None}, transparent=False)
    plt.close(figure)
    svg = buffer.getvalue()
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def plots_of(lot: Lot) -> list[dict[str, str]]:
    """The plots stored with the lot's current analysis results (standard curves, potency), as SVG: the
    first plot of each accepted analysis run behind a result, and plots stored with older results."""
    plots = []
    runs_seen: set[int] = set()
    for result in current_results(lot).values():
        run = result.analysis_run
        if run is not None:
            if run.pk not in runs_seen:
                runs_seen.add(run.pk)
                first = run.plots.order_by("position").first()
                if first is not None:
                    encoded = base64.b64encode(first.svg.encode("utf-8")).decode("ascii")
                    plots.append(
                        {
                            "title": f"{first.title} ({run.number})",
                            "src": "data:image/svg+xml;base64," + encoded,
                        }
                    )
            continue
        analysis = analysis_of(result)
        for plot in (analysis or {}).get("plots", []):
            plots.append({"title": plot.get("title", result.attribute.name), "src": _plot_svg(plot)})
    return plots


# --- rendering --------------------------------------------------------------------------------------


def render_html(content: dict[str, Any], plots: list[dict[str, str]], for_pdf: bool) -> str:
    """The certificate page: the same template for the browser and for the PDF."""
    return render_to_string(
        "secretome/coa/certificate.html", {"coa": content, "plots": plots, "for_pdf": for_pdf}
    )


def render_pdf(content: dict[str, Any], plots: list[dict[str, str]]) -> bytes:
    """PDF/A-3b with the canonical JSON of ``content`` embedded as ``certificate.json``."""
    from weasyprint import HTML, Attachment

    html = render_html(content, plots, for_pdf=True)
    attachment = Attachment(
        string=canonical_json(content),
        name=ATTACHMENT_NAME,
        description="Machine-readable certificate of analysis (canonical JSON)",
        relationship="Data",
    )
    pdf: bytes = HTML(string=html, base_url=str(Path(__file__).parent)).write_pdf(
        pdf_variant="pdf/a-3b", attachments=[attachment], uncompressed_pdf=False
    )
    return pdf


def certificates_directory() -> Path:
    path = data_directory() / "certificates"
    path.mkdir(parents=True, exist_ok=True)
    return path


@transaction.atomic
def issue_certificate(actor: User, reason: str, lot_number: str) -> Certificate:
    """Issue a certificate for a released lot: render it, store its digests and the PDF in the data directory."""
    require_role(actor, Role.QA)
    require_reason(reason)
    lot = get_lot(lot_number)
    if state_of(lot) is not LotState.RELEASED:
        raise GuardFailed(
            f"lot {lot_number} is {state_of(lot).value}: certificates are issued for released lots"
        )
    previous = Certificate.objects.filter(lot=lot).order_by("-issued_at", "-pk").first()
    sequence = Certificate.objects.filter(lot=lot).count() + 1
    number = f"COA-{lot.number}-{sequence:02d}"
    # The certificate states that its computed numbers were recomputed from the raw files at issue, so any
    # raw file altered or lost since the analysis stops the certificate, naming the result it breaks.
    verification = verify_lot(lot)
    if not verification.ok:
        raise GuardFailed(
            f"lot {lot_number}: certificate refused, computed results do not recompute from their raw data: "
            + "; ".join(verification.failures())
        )
    issued_at = timezone.now().replace(microsecond=0)
    content = certificate_content(lot, number, issued_at, actor)
    content["recomputed"] = {
        "statement": verification.statement(),
        "verified": verification.verified,
        "computed_results": len(verification.results),
    }
    pdf = render_pdf(content, plots_of(lot))
    content_json = canonical_json(content)
    file_name = f"{number}.pdf"
    # A crash mid-write must not leave a truncated PDF under the name the record points to; like a raw file,
    # an issued PDF is read-only.
    write_atomically(certificates_directory() / file_name, pdf, 0o444)
    certificate = Certificate.objects.create(
        number=number,
        lot=lot,
        record_version=content["record_version"],
        content_json=content_json,
        content_sha256=sha256_hex(content_json),
        pdf_sha256=sha256_hex(pdf),
        file_name=file_name,
        issued_at=issued_at,
        issued_by=actor,
        supersedes=previous,
    )
    record_event(
        actor,
        "issue certificate",
        RECORD_TYPE,
        lot.number,
        reason,
        None,
        {
            "certificate": number,
            "pdf_sha256": certificate.pdf_sha256,
            "content_sha256": certificate.content_sha256,
        },
    )
    return certificate


def certificate_pdf(certificate: Certificate) -> bytes:
    """The issued PDF bytes, from the data directory; checked against the stored SHA-256."""
    path = certificates_directory() / certificate.file_name
    if not path.exists():
        raise NotFound(f"the PDF of {certificate.number} is missing from {path.parent}")
    data = path.read_bytes()
    if sha256_hex(data) != certificate.pdf_sha256:
        raise GuardFailed(f"the stored PDF of {certificate.number} does not match its SHA-256")
    return data


def latest_certificate(lot_number: str) -> Certificate:
    certificate = Certificate.objects.filter(lot__number=lot_number).order_by("-issued_at", "-pk").first()
    if certificate is None:
        raise NotFound(f"lot {lot_number} has no certificate")
    return certificate


def embedded_json(pdf: bytes) -> str | None:
    """The ``certificate.json`` embedded in a PDF, or None when it cannot be read."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(pdf))
        attachments = reader.attachments
        if ATTACHMENT_NAME not in attachments:
            return None
        return bytes(attachments[ATTACHMENT_NAME][0]).decode("utf-8")
    except Exception:  # any damage to the file means "cannot be read"
        return None


def verify_certificate(pdf: bytes) -> dict[str, Any]:
    """Is this PDF a certificate this system issued, unchanged (genuine), and does it still hold (current)?"""
    pdf_sha256 = sha256_hex(pdf)
    embedded = embedded_json(pdf)
    reasons: list[str] = []
    certificate = Certificate.objects.select_related("lot").filter(pdf_sha256=pdf_sha256).first()
    claimed = None
    if embedded is not None:
        try:
            claimed = json.loads(embedded).get("certificate")
        except ValueError:
            claimed = None
    if certificate is None:
        reasons.append(
            "no certificate with this SHA-256 was issued: the file was changed after issue or is not from this system"
            + (f" (it claims to be {claimed})" if claimed else "")
        )
        return {
            "genuine": False,
            "current": False,
            "suspended": False,
            "standing": "not genuine",
            "certificate": claimed,
            "lot": None,
            "pdf_sha256": pdf_sha256,
            "reasons": reasons,
        }
    genuine = True
    if embedded is None:
        genuine = False
        reasons.append("the embedded certificate.json cannot be read")
    elif sha256_hex(embedded) != certificate.content_sha256 or embedded != certificate.content_json:
        genuine = False
        reasons.append("the embedded certificate.json differs from the one issued")
    standing = certificate_standing(certificate)
    reasons.extend(standing["reasons"])
    return {
        "genuine": genuine,
        "current": genuine and standing["current"],
        "suspended": standing["suspended"],
        "standing": standing["standing"] if genuine else "not genuine",
        "certificate": certificate.number,
        "lot": certificate.lot.number,
        "issued_at": certificate.issued_at,
        "pdf_sha256": pdf_sha256,
        "reasons": reasons,
    }


def certificate_standing(certificate: Certificate) -> dict[str, Any]:
    """Does an issued certificate still hold? ``standing`` is ``current``, ``suspended`` (the lot is
    quarantined after release: its release signature stands but is suspended) or ``not current``; the
    reasons say why in the lab's words."""
    reasons: list[str] = []
    current = True
    lot = certificate.lot
    if hasattr(certificate, "superseded_by"):
        current = False
        reasons.append(f"superseded by {certificate.superseded_by.number}")
    state = state_of(lot)
    status = lot_status(lot)
    suspended = state is LotState.QUARANTINED and any(
        s["meaning"] == "released" and s["state"] == "suspended" for s in status["signatures"]
    )
    if suspended:
        current = False
        reasons.append(
            f"suspended: lot {lot.number} is quarantined; its release is suspended until QA restores the "
            "release or reopens the record"
        )
    elif state is not LotState.RELEASED:
        current = False
        reasons.append(f"lot {lot.number} is now {state.value}")
    if status["record_version"] != certificate.record_version:
        current = False
        reasons.append(f"the lot's QC record is now version {status['record_version']}")
    elif json.loads(certificate.content_json)["record_sha256"] != status["record_sha256"]:
        current = False
        reasons.append("the lot's QC record changed after the certificate was issued")
    broken = [s for s in status["signatures"] if s["state"] == "broken"]
    if broken:
        current = False
        reasons.append("a signature on the lot no longer matches its record")
    if current:
        standing = "current"
    elif suspended and len(reasons) == 1:
        standing = "suspended"
    else:
        standing = "not current"
    return {"current": current, "suspended": suspended, "standing": standing, "reasons": reasons}


def certificate_dict(certificate: Certificate) -> dict[str, Any]:
    return {
        "certificate": certificate.number,
        "lot": certificate.lot.number,
        "issued_at": certificate.issued_at,
        "issued_by": certificate.issued_by.get_username(),
        "pdf_sha256": certificate.pdf_sha256,
        "content_sha256": certificate.content_sha256,
        "file_name": certificate.file_name,
        "supersedes": None if certificate.supersedes is None else certificate.supersedes.number,
    }


def preview_content(lot_number: str, viewer: User) -> dict[str, Any]:
    """The certificate as it would be issued now (for the web page); not stored, not signed."""
    lot = get_lot(lot_number)
    if disposition_of(lot) is None:
        raise GuardFailed(f"lot {lot_number} has not entered QC testing")
    return certificate_content(
        lot, f"(preview of {lot.number})", timezone.now().replace(microsecond=0), viewer
    )


__all__ = [
    "ATTACHMENT_NAME",
    "certificate_content",
    "certificate_dict",
    "certificate_pdf",
    "certificate_standing",
    "issue_certificate",
    "latest_certificate",
    "plots_of",
    "preview_content",
    "render_html",
    "render_pdf",
    "verify_certificate",
]
