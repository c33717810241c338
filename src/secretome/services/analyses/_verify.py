"""The recompute check of a lot: every computed result recomputed from the raw files it came from."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from secretome.db.genealogy.models import Lot
from secretome.db.quality.models import Result
from secretome.services.analyses._runs import RunVerification, numbers_match, verify_run
from secretome.services.release.lots import current_results, disposition_of, get_lot


@dataclass(frozen=True)
class ResultCheck:
    """One computed result of a lot and what recomputing it gave."""

    attribute: str
    result: int
    analysis_run: str | None
    raw_sha256: tuple[str, ...]
    stored: str
    recomputed: float | None
    match: bool
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "result": self.result,
            "analysis_run": self.analysis_run,
            "raw_sha256": list(self.raw_sha256),
            "stored": self.stored,
            "recomputed": self.recomputed,
            "match": self.match,
            "problem": self.problem or None,
        }


@dataclass(frozen=True)
class LotVerification:
    """Every computed result of one lot, recomputed."""

    lot: str
    results: tuple[ResultCheck, ...]

    @property
    def verified(self) -> int:
        return sum(1 for r in self.results if r.match)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.match)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failures(self) -> list[str]:
        """One line per failing result, naming it."""
        return [
            f"{r.attribute} (result #{r.result}, run {r.analysis_run or '-'}): {r.problem or 'recomputed value differs'}"
            for r in self.results
            if not r.match
        ]

    def statement(self) -> str:
        """What the certificate says: ``N of N computed results recomputed from raw data at issue``."""
        return f"{self.verified} of {len(self.results)} computed results recomputed from raw data at issue"

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "results": [r.to_dict() for r in self.results],
            "verified": self.verified,
            "failed": self.failed,
        }


def _stored_matches(result: Result, recomputed: float | None) -> bool:
    if recomputed is None or result.value == "":
        return recomputed is None and result.value == ""
    try:
        stored = float(Decimal(result.value))
    except InvalidOperation:
        return False
    return numbers_match(stored, recomputed)


def _check(result: Result, verification: RunVerification | None, computed: bool) -> ResultCheck:
    run = result.analysis_run
    if run is None:
        # A computed attribute with a result that no run produced (entered before the rule existed).
        return ResultCheck(
            result.attribute.code,
            result.pk,
            None,
            (),
            result.value,
            None,
            False,
            "no analysis run: a computed attribute's result must come from an accepted run",
        )
    assert verification is not None
    hashes = tuple(str(i["raw_sha256"]) for i in verification.inputs)
    again = verification.recomputed(result.lot.number, result.attribute.code)
    recomputed = again.value if again is not None else None
    problem = "; ".join(verification.problems)
    if not problem and verification.mismatches:
        first = verification.mismatches[0]
        problem = f"{len(verification.mismatches)} number(s) differ, first {first.path}: {first.stored!r} != {first.recomputed!r}"
    match = verification.match and _stored_matches(result, recomputed)
    if verification.match and not match:
        problem = f"stored value {result.value} differs from the recomputed {recomputed!r}"
    return ResultCheck(
        result.attribute.code, result.pk, run.number, hashes, result.value, recomputed, match, problem
    )


def verify_lot(lot: Lot | str, *, runs: dict[int, RunVerification] | None = None) -> LotVerification:
    """Recompute every computed result of ``lot`` (results from analysis runs, and results of attributes
    that the specification says are computed) from the stored raw files.

    ``runs`` (run id -> verification) is filled and reused: a caller verifying the lots of one plate passes
    the same dictionary, so that a run shared by several lots is recomputed once."""
    record = get_lot(lot) if isinstance(lot, str) else lot
    disposition = disposition_of(record)
    computed_codes: set[str] = set()
    if disposition is not None:
        computed_codes = {a.code for a in disposition.specification.attributes.all() if a.analysis_kind}
    checks: list[ResultCheck] = []
    cache: dict[int, RunVerification] = {} if runs is None else runs
    for code, result in sorted(current_results(record).items()):
        computed = code in computed_codes
        if result.analysis_run_id is None and not computed:
            continue
        verification = None
        if result.analysis_run is not None:
            if result.analysis_run.pk not in cache:
                cache[result.analysis_run.pk] = verify_run(result.analysis_run)
            verification = cache[result.analysis_run.pk]
        checks.append(_check(result, verification, computed))
    return LotVerification(record.number, tuple(checks))
