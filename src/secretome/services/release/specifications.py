"""Products and versioned specifications. A draft is edited; QA approves it with a signature; a change
to an approved specification is a new version, and lots keep the version they were tested against."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from secretome.db.quality.models import Product, Specification, SpecificationAttribute, SpecificationStatus
from secretome.domain.roles import Role
from secretome.domain.signature import Meaning
from secretome.domain.specification import AttributeSpec
from secretome.services.audit import record_event, require_reason
from secretome.services.errors import NotFound, ServiceError
from secretome.services.release.signing import (
    create_signature,
    reauthenticate,
    require_expected_sha256,
    signature_dict,
    signature_state,
    signatures_on,
)
from secretome.services.users import require_role

SPEC_EDITORS = (Role.QA, Role.ADMIN)


def product_dict(product: Product) -> dict[str, Any]:
    return {"code": product.code, "name": product.name, "description": product.description}


@transaction.atomic
def create_product(actor: User, reason: str, *, code: str, name: str, description: str = "") -> Product:
    """Create a product; its code is what lots name in their ``product`` field."""
    require_role(actor, *SPEC_EDITORS)
    require_reason(reason)
    code = code.strip()
    if not code or not name.strip():
        raise ServiceError("code: a product needs a code and a name")
    if Product.objects.filter(code=code).exists():
        raise ServiceError(f"code: product {code!r} exists")
    product = Product.objects.create(
        code=code,
        name=name.strip(),
        description=description.strip(),
        created_at=timezone.now(),
        created_by=actor,
    )
    record_event(actor, "create", "product", code, reason, None, product_dict(product))
    return product


def get_product(code: str) -> Product:
    try:
        return Product.objects.get(code=code)
    except Product.DoesNotExist:
        raise NotFound(f"product {code!r} does not exist") from None


def get_specification(product_code: str, version: int | None = None) -> Specification:
    """A specification version; without ``version`` the approved one in force."""
    query = Specification.objects.select_related("product").filter(product__code=product_code)
    if version is None:
        spec = query.filter(status=SpecificationStatus.APPROVED).order_by("-version").first()
        if spec is None:
            raise NotFound(f"product {product_code!r} has no approved specification")
        return spec
    try:
        return query.get(version=version)
    except Specification.DoesNotExist:
        raise NotFound(f"product {product_code!r} has no specification version {version}") from None


def record_id(spec: Specification) -> str:
    return f"{spec.product.code}/v{spec.version}"


def attributes_of(spec: Specification) -> list[AttributeSpec]:
    return [a.as_spec() for a in spec.attributes.order_by("position")]


def specification_content(spec: Specification) -> dict[str, Any]:
    """What QA signs when approving: the product, the version and every attribute with its criterion."""
    return {
        "product": spec.product.code,
        "product_name": spec.product.name,
        "version": spec.version,
        "attributes": [a.to_dict() for a in attributes_of(spec)],
    }


def specification_dict(spec: Specification) -> dict[str, Any]:
    content = specification_content(spec)
    signatures = [
        signature_dict(s, signature_state(s, spec.version, content))
        for s in signatures_on("specification", record_id(spec))
    ]
    return {
        **content,
        "status": spec.status,
        "change_summary": spec.change_summary,
        "content_sha256": spec.content_sha256,
        "record_sha256": specification_sha256(spec),
        "criteria": {a.code: a.criterion.describe(a.unit) for a in attributes_of(spec)},
        "signatures": signatures,
    }


def _attribute_row(spec: Specification, attribute: AttributeSpec, position: int) -> SpecificationAttribute:
    criterion = attribute.criterion
    return SpecificationAttribute(
        specification=spec,
        position=position,
        code=attribute.code,
        name=attribute.name,
        category=attribute.category,
        method=attribute.method,
        unit=attribute.unit,
        kind=criterion.kind.value,
        lower="" if criterion.lower is None else str(criterion.lower),
        upper="" if criterion.upper is None else str(criterion.upper),
        lower_inclusive=criterion.lower_inclusive,
        upper_inclusive=criterion.upper_inclusive,
        decimals=criterion.rule.decimals,
        significant_digits=criterion.rule.significant_digits,
        release_test=attribute.release_test,
        note=attribute.note,
        analysis_kind=attribute.analysis_kind,
    )


@transaction.atomic
def draft_specification(
    actor: User,
    reason: str,
    product_code: str,
    attributes: list[AttributeSpec] | None = None,
    change_summary: str = "",
) -> Specification:
    """Start a new draft version. Without ``attributes`` it copies the latest version's attributes."""
    require_role(actor, *SPEC_EDITORS)
    product = get_product(product_code)
    if product.specifications.filter(status=SpecificationStatus.DRAFT).exists():
        raise ServiceError(f"product {product_code!r} already has a draft specification; edit or approve it")
    latest = product.specifications.order_by("-version").first()
    if attributes is None:
        attributes = attributes_of(latest) if latest is not None else []
    version = (product.specifications.aggregate(Max("version"))["version__max"] or 0) + 1
    spec = Specification.objects.create(
        product=product,
        version=version,
        status=SpecificationStatus.DRAFT,
        change_summary=change_summary.strip() or ("first version" if latest is None else ""),
        previous_version=latest,
        created_at=timezone.now(),
        created_by=actor,
    )
    SpecificationAttribute.objects.bulk_create(
        [_attribute_row(spec, attribute, i) for i, attribute in enumerate(attributes, start=1)]
    )
    _check_codes(spec)
    record_event(actor, "create", "specification", record_id(spec), reason, None, specification_content(spec))
    return spec


def _check_codes(spec: Specification) -> None:
    codes = list(spec.attributes.values_list("code", flat=True))
    if len(codes) != len(set(codes)):
        raise ServiceError("attributes: each attribute code may appear once in a specification")


def _draft(product_code: str, version: int) -> Specification:
    spec = get_specification(product_code, version)
    if spec.status != SpecificationStatus.DRAFT:
        raise ServiceError(
            f"specification {record_id(spec)} is {spec.status}: a change needs a new version (draft it first)"
        )
    return spec


@transaction.atomic
def put_attribute(
    actor: User, reason: str, product_code: str, version: int, attribute: AttributeSpec
) -> None:
    """Add an attribute to a draft, or replace the draft's attribute with the same code."""
    require_role(actor, *SPEC_EDITORS)
    spec = _draft(product_code, version)
    existing = spec.attributes.filter(code=attribute.code).first()
    before = existing.as_spec().to_dict() if existing else None
    if existing is not None:
        row = _attribute_row(spec, attribute, existing.position)
        row.pk = existing.pk
        row.save()
    else:
        position = (spec.attributes.aggregate(Max("position"))["position__max"] or 0) + 1
        _attribute_row(spec, attribute, position).save()
    record_event(actor, "update", "specification", record_id(spec), reason, before, attribute.to_dict())


def approve_specification(
    actor: User,
    reason: str,
    product_code: str,
    version: int,
    password: str,
    *,
    expected_sha256: str,
    request: HttpRequest | None = None,
) -> Specification:
    """QA approves a draft with an electronic signature; the version it replaces is superseded.

    ``expected_sha256`` is the record hash the approver was shown (``record_sha256`` of the specification);
    it is required and must still be the draft's hash.
    """
    require_role(actor, Role.QA)
    require_reason(reason)
    require_expected_sha256(expected_sha256, "spec show --version N")
    reauthenticate(actor, password, request)
    return _approve(actor, reason, product_code, version, expected_sha256)


@transaction.atomic
def _approve(
    actor: User, reason: str, product_code: str, version: int, expected_sha256: str
) -> Specification:
    spec = _draft(product_code, version)
    if not spec.attributes.exists():
        raise ServiceError(f"specification {record_id(spec)} has no attributes to approve")
    if not spec.attributes.filter(release_test=True).exists():
        raise ServiceError(f"specification {record_id(spec)} has no release test")
    content = specification_content(spec)
    signature = create_signature(
        actor,
        reason,
        record_type="specification",
        record_id=record_id(spec),
        version=spec.version,
        content=content,
        meaning=Meaning.APPROVED,
        expected_sha256=expected_sha256,
    )
    for old in spec.product.specifications.filter(status=SpecificationStatus.APPROVED):
        old.status = SpecificationStatus.SUPERSEDED
        old.save(update_fields=["status"])
        record_event(
            actor,
            "supersede",
            "specification",
            record_id(old),
            reason,
            {"status": "approved"},
            {"status": "superseded", "by": record_id(spec)},
        )
    spec.status = SpecificationStatus.APPROVED
    spec.approved_at = signature.signed_at
    spec.approved_by = actor
    spec.content_sha256 = signature.record_sha256
    spec.save(update_fields=["status", "approved_at", "approved_by", "content_sha256"])
    record_event(
        actor,
        "approve",
        "specification",
        record_id(spec),
        reason,
        {"status": "draft"},
        {"status": "approved", "content_sha256": spec.content_sha256},
    )
    return spec


def specification_sha256(spec: Specification) -> str:
    """The record hash a signer of ``spec`` is shown."""
    from secretome.domain.signature import record_sha256

    return record_sha256("specification", record_id(spec), spec.version, specification_content(spec))


def specifications(product_code: str | None = None) -> list[Specification]:
    query = Specification.objects.select_related("product")
    if product_code:
        query = query.filter(product__code=product_code)
    return list(query.order_by("product__code", "version"))


def products() -> list[Product]:
    return list(Product.objects.order_by("code"))
