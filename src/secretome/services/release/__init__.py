"""Specifications, results, review and release with electronic signatures.

Every write is audited; every signature re-authenticates the signer. See ``docs/release.md``.
"""

from __future__ import annotations

from secretome.services.release.lots import (
    add_result,
    close_investigation,
    get_investigation,
    get_lot,
    instrument_import_for,
    lot_signatures,
    lot_status,
    qc_record,
    qc_record_sha256,
    reopen_lot,
    sign_lot,
    start_testing,
    state_of,
    transition,
)
from secretome.services.release.signing import reauthenticate
from secretome.services.release.specifications import (
    approve_specification,
    create_product,
    draft_specification,
    get_specification,
    put_attribute,
    specification_dict,
    specification_sha256,
)

__all__ = [
    "add_result",
    "approve_specification",
    "close_investigation",
    "create_product",
    "draft_specification",
    "get_investigation",
    "get_lot",
    "get_specification",
    "instrument_import_for",
    "lot_signatures",
    "lot_status",
    "put_attribute",
    "qc_record",
    "qc_record_sha256",
    "reauthenticate",
    "reopen_lot",
    "sign_lot",
    "specification_dict",
    "specification_sha256",
    "start_testing",
    "state_of",
    "transition",
]
