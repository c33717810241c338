"""Web pages of the release: specification editor (qa, admin), the lot QC page with results, verdicts,
review and sign dialogs, and the certificate (page and PDF download). Thin: every write is a service call."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from secretome.domain.lot_lifecycle import RESULT_ENTRY_STATES, LotState
from secretome.domain.roles import Role
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule
from secretome.services import certificates, ev, release
from secretome.services.errors import NotFound, ServiceError
from secretome.services.release.specifications import products, specifications
from secretome.services.users import roles_of
from secretome.web.access import role_required


def signed_in(request: HttpRequest) -> User:
    """The signed-in user (login is required site-wide, so never anonymous here)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("log in first")
    return user


LAB = (Role.ANALYST, Role.REVIEWER, Role.QA, Role.ADMIN)
SPEC_EDITORS = (Role.QA, Role.ADMIN)


class AttributeForm(forms.Form):
    """One attribute of a draft specification."""

    code = forms.SlugField(max_length=40)
    name = forms.CharField(max_length=120)
    category = forms.CharField(max_length=40, required=False)
    method = forms.CharField(max_length=200)
    unit = forms.CharField(max_length=40, required=False)
    kind = forms.ChoiceField(choices=[(k.value, k.value) for k in CriterionKind])
    lower = forms.CharField(max_length=40, required=False)
    upper = forms.CharField(max_length=40, required=False)
    decimals = forms.IntegerField(min_value=0, max_value=12, required=False)
    significant_digits = forms.IntegerField(min_value=1, max_value=15, required=False)
    release_test = forms.BooleanField(required=False, initial=True)
    note = forms.CharField(max_length=500, required=False)
    reason = forms.CharField(max_length=500)

    def attribute(self) -> AttributeSpec:
        data = self.cleaned_data
        try:
            lower = Decimal(data["lower"]) if data["lower"] else None
            upper = Decimal(data["upper"]) if data["upper"] else None
        except InvalidOperation:
            raise ValueError("lower/upper: limits must be numbers") from None
        criterion = Criterion(
            CriterionKind(data["kind"]),
            lower=lower,
            upper=upper,
            rule=ReportingRule(data["decimals"], data["significant_digits"]),
        )
        return AttributeSpec(
            code=data["code"].lower(),
            name=data["name"],
            method=data["method"],
            unit=data["unit"],
            criterion=criterion,
            category=data["category"],
            release_test=data["release_test"],
            note=data["note"],
        )


class ResultForm(forms.Form):
    attribute = forms.CharField(max_length=40)
    value = forms.CharField(max_length=120, help_text="7.32, < 0.50, > 200, or a finding such as no growth")
    method = forms.CharField(max_length=200, required=False)
    raw_file = forms.CharField(max_length=300, required=False)
    instrument_import = forms.CharField(max_length=64, required=False)
    retest_of = forms.IntegerField(required=False)
    reason = forms.CharField(max_length=500)


class SignForm(forms.Form):
    meaning = forms.CharField(max_length=20)
    reason = forms.CharField(max_length=500)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    record_sha256 = forms.CharField(max_length=64, min_length=64)


class StepForm(forms.Form):
    event = forms.CharField(max_length=40)
    reason = forms.CharField(max_length=500)


class ReopenForm(forms.Form):
    deviation = forms.CharField(max_length=20)
    reason = forms.CharField(max_length=500)


class CloseInvestigationForm(forms.Form):
    number = forms.CharField(max_length=20)
    outcome = forms.CharField(max_length=20)
    conclusion = forms.CharField(max_length=2000)
    reason = forms.CharField(max_length=500)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


def _refused(request: HttpRequest, form: forms.Form | None, error: Exception | None = None) -> None:
    if error is not None:
        messages.error(request, str(error))
    elif form is not None:
        messages.error(
            request, "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        )


# --- specifications ---------------------------------------------------------------------------------


@role_required(*SPEC_EDITORS)
def spec_list(request: HttpRequest) -> HttpResponse:
    """Every product and its specification versions."""
    return render(
        request,
        "secretome/release/spec_list.html",
        {"products": products(), "specifications": specifications()},
    )


@role_required(*SPEC_EDITORS)
def spec_detail(request: HttpRequest, product: str, version: int) -> HttpResponse:
    """A specification version; a draft is edited here and approved with a signature."""
    try:
        spec = release.get_specification(product, version)
    except NotFound:
        raise Http404(f"no specification {product} v{version}") from None
    return render(
        request,
        "secretome/release/spec_detail.html",
        {
            "spec": release.specification_dict(spec),
            "record_sha256": release.specification_sha256(spec),
            "form": AttributeForm(initial={"kind": "at least", "release_test": True}),
            "is_qa": Role.QA in roles_of(request.user),
        },
    )


def _spec_url(product: str, version: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("release_spec", args=[product, version]))


@require_POST
@role_required(*SPEC_EDITORS)
def spec_new(request: HttpRequest) -> HttpResponse:
    """Create a product (when new) and a draft specification version for it."""
    code = request.POST.get("product", "").strip()
    name = request.POST.get("name", "").strip()
    reason = request.POST.get("reason", "")
    try:
        if name and not any(p.code == code for p in products()):
            release.create_product(signed_in(request), reason, code=code, name=name)
        spec = release.draft_specification(signed_in(request), reason, code)
    except ServiceError as exc:
        _refused(request, None, exc)
        return HttpResponseRedirect(reverse("release_specs"))
    return _spec_url(code, spec.version)


@require_POST
@role_required(*SPEC_EDITORS)
def spec_attribute(request: HttpRequest, product: str, version: int) -> HttpResponse:
    """Add or replace an attribute of a draft."""
    form = AttributeForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _spec_url(product, version)
    try:
        release.put_attribute(
            signed_in(request), form.cleaned_data["reason"], product, version, form.attribute()
        )
    except (ServiceError, ValueError) as exc:
        _refused(request, None, exc)
    return _spec_url(product, version)


@require_POST
@role_required(Role.QA)
def spec_approve(request: HttpRequest, product: str, version: int) -> HttpResponse:
    """Approve a draft: the password is asked again and the record hash shown must still hold."""
    try:
        release.approve_specification(
            signed_in(request),
            request.POST.get("reason", ""),
            product,
            version,
            request.POST.get("password", ""),
            expected_sha256=request.POST.get("record_sha256", ""),
            request=request,
        )
        messages.success(request, f"{product} v{version} approved and signed")
    except ServiceError as exc:
        _refused(request, None, exc)
    return _spec_url(product, version)


# --- the lot QC page -------------------------------------------------------------------------------


def _lot_or_404(number: str) -> Any:
    try:
        return release.get_lot(number)
    except NotFound:
        raise Http404(f"no lot {number}") from None


def _qc_url(number: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("release_lot", args=[number]))


@role_required(*LAB)
def lot_qc(request: HttpRequest, number: str) -> HttpResponse:
    """All results and verdicts of a lot, its investigations and signatures, and what can be done next."""
    lot = _lot_or_404(number)
    status = release.lot_status(lot)
    held = roles_of(request.user)
    issued = list(lot.certificates.order_by("-issued_at"))
    misev = ev.misev_if_ev_data(lot)
    return render(
        request,
        "secretome/release/lot_qc.html",
        {
            "status": status,
            # The MISEV2023 checklist, only for a lot with EV data (an NTA run or ev-* results).
            "misev": None if misev is None else misev.to_dict(),
            # The form is offered only where the service would accept the result.
            "can_enter": bool(held & {Role.ANALYST, Role.REVIEWER})
            and LotState(status["state"]) in RESULT_ENTRY_STATES,
            "can_review": Role.REVIEWER in held,
            "can_dispose": Role.QA in held,
            "can_investigate": bool(held & {Role.REVIEWER, Role.QA}),
            "certificates": [certificates.certificate_dict(c) for c in issued],
            "steps": [
                s["event"]
                for s in status["next_steps"]
                if s["event"] not in ("review", "release", "reject", "reopen")
            ],
            "can_reopen": Role.QA in held and any(s["event"] == "reopen" for s in status["next_steps"]),
        },
    )


@require_POST
@role_required(Role.ANALYST, Role.REVIEWER)
def lot_result(request: HttpRequest, number: str) -> HttpResponse:
    form = ResultForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _qc_url(number)
    data = form.cleaned_data
    try:
        release.add_result(
            signed_in(request),
            data["reason"],
            number,
            data["attribute"],
            data["value"],
            method=data["method"] or None,
            raw_file=data["raw_file"],
            instrument_import=data["instrument_import"] or None,
            retest_of=data["retest_of"],
        )
    except (ServiceError, ValueError) as exc:
        _refused(request, None, exc)
    return _qc_url(number)


@require_POST
@role_required(*LAB)
def lot_step(request: HttpRequest, number: str) -> HttpResponse:
    form = StepForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _qc_url(number)
    try:
        release.transition(
            signed_in(request), form.cleaned_data["reason"], number, form.cleaned_data["event"]
        )
    except (ServiceError, ValueError) as exc:
        _refused(request, None, exc)
    return _qc_url(number)


@require_POST
@role_required(Role.REVIEWER, Role.QA)
def lot_sign(request: HttpRequest, number: str) -> HttpResponse:
    """Review, release or reject: password again, and the record hash the signer saw must still hold."""
    form = SignForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _qc_url(number)
    data = form.cleaned_data
    try:
        state = release.sign_lot(
            signed_in(request),
            data["reason"],
            number,
            data["meaning"],
            data["password"],
            expected_sha256=data["record_sha256"],
            request=request,
        )
        messages.success(request, f"signed as {data['meaning']}; the lot is now {state.value}")
    except ServiceError as exc:
        _refused(request, None, exc)
    return _qc_url(number)


@require_POST
@role_required(Role.QA)
def lot_reopen(request: HttpRequest, number: str) -> HttpResponse:
    """Reopen a disposed lot's record under a QA-approved deviation; its signatures are voided."""
    form = ReopenForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _qc_url(number)
    data = form.cleaned_data
    try:
        state = release.reopen_lot(signed_in(request), data["reason"], number, data["deviation"])
        messages.success(
            request,
            f"record reopened under {data['deviation']}; signatures voided; the lot is now {state.value}",
        )
    except ServiceError as exc:
        _refused(request, None, exc)
    return _qc_url(number)


@require_POST
@role_required(Role.REVIEWER, Role.QA)
def lot_close_investigation(request: HttpRequest, number: str) -> HttpResponse:
    form = CloseInvestigationForm(request.POST)
    if not form.is_valid():
        _refused(request, form)
        return _qc_url(number)
    data = form.cleaned_data
    try:
        release.close_investigation(
            signed_in(request),
            data["reason"],
            data["number"],
            outcome=data["outcome"],
            conclusion=data["conclusion"],
            password=data["password"],
            request=request,
        )
    except ServiceError as exc:
        _refused(request, None, exc)
    return _qc_url(number)


# --- certificates -----------------------------------------------------------------------------------


@role_required(*LAB)
def certificate_page(request: HttpRequest, number: str) -> HttpResponse:
    """The latest issued certificate as a web page, from the same template as the PDF (or a preview)."""
    lot = _lot_or_404(number)
    standing: dict[str, Any] | None = None
    try:
        issued = certificates.latest_certificate(lot.number)
        import json

        content = json.loads(issued.content_json)
        standing = certificates.certificate_standing(issued)
    except NotFound:
        try:
            content = certificates.preview_content(lot.number, signed_in(request))
        except ServiceError as exc:
            raise Http404(str(exc)) from None
    # An issued certificate shows what it said when issued, stamped with what holds now: a quarantined
    # lot's certificate is SUSPENDED, one overtaken by a change NOT CURRENT, never RELEASED.
    stamp = content["state"]
    if standing is not None and standing["standing"] != "current":
        stamp = standing["standing"]
    return render(
        request,
        "secretome/release/certificate.html",
        {
            "coa": content,
            "plots": certificates.plots_of(lot),
            "for_pdf": False,
            "lot": lot.number,
            "stamp": stamp,
            "standing": standing,
        },
    )


@require_POST
@role_required(Role.QA)
def certificate_issue(request: HttpRequest, number: str) -> HttpResponse:
    try:
        certificate = certificates.issue_certificate(
            signed_in(request), request.POST.get("reason", ""), number
        )
        messages.success(request, f"{certificate.number} issued")
    except ServiceError as exc:
        _refused(request, None, exc)
    return _qc_url(number)


@role_required(*LAB)
def certificate_download(request: HttpRequest, number: str) -> HttpResponse:
    """The latest issued certificate PDF of the lot, byte for byte as issued."""
    try:
        certificate = certificates.latest_certificate(number)
        data = certificates.certificate_pdf(certificate)
    except ServiceError as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{certificate.file_name}"'
    return response


@role_required(*LAB)
def lot_list(request: HttpRequest) -> HttpResponse:
    """Every lot with its lifecycle state and the specification it is tested against."""
    from secretome.db.genealogy.models import Lot
    from secretome.db.quality.models import LotDisposition

    dispositions = {d.lot_id: d for d in LotDisposition.objects.select_related("specification__product")}
    rows = []
    for lot in Lot.objects.order_by("number"):
        disposition = dispositions.get(lot.pk)
        rows.append(
            {
                "number": lot.number,
                "product": lot.product,
                "tissue_source": lot.tissue_source,
                "state": disposition.state if disposition else "in production",
                "specification": "" if disposition is None else f"v{disposition.specification.version}",
                "certificates": lot.certificates.count(),
            }
        )
    return render(request, "secretome/release/lot_list.html", {"rows": rows})
