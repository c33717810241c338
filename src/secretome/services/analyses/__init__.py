"""Analysis methods and analysis runs: from a stored instrument file to a reported, recomputable lot result.

See ``docs/analysis-runs.md``. Every write is audited; approving a method version is an electronic signature.
"""

from __future__ import annotations

from secretome.services.analyses._methods import (
    approve_method,
    draft_method,
    get_method,
    list_methods,
    method_content,
    method_dict,
    method_settings,
    method_sha256,
)
from secretome.services.analyses._runs import (
    RunVerification,
    accept_run,
    analyse,
    get_run,
    list_runs,
    reanalyse,
    return_run,
    run_dict,
    runs_for_lot,
    verify_run,
)
from secretome.services.analyses._verify import LotVerification, ResultCheck, verify_lot

__all__ = [
    "LotVerification",
    "ResultCheck",
    "RunVerification",
    "accept_run",
    "analyse",
    "approve_method",
    "draft_method",
    "get_method",
    "get_run",
    "list_methods",
    "list_runs",
    "method_content",
    "method_dict",
    "method_settings",
    "method_sha256",
    "reanalyse",
    "return_run",
    "run_dict",
    "runs_for_lot",
    "verify_lot",
    "verify_run",
]
