"""What a signature signs: the record's identity, version and content, bound by SHA-256."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from secretome.domain.signature import Meaning, SignatureManifest, record_sha256, signature_matches

WHEN = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
CONTENT = {"lot": "CM-0001", "results": [{"attribute": "ph", "value": "7.3"}]}


def manifest(record_id: str = "CM-0001", version: int = 1) -> SignatureManifest:
    return SignatureManifest(
        record_type="lot",
        record_id=record_id,
        record_version=version,
        record_sha256=record_sha256("lot", record_id, version, CONTENT),
        signer="quinn",
        printed_name="Quinn QA",
        meaning=Meaning.RELEASED,
        signed_at=WHEN,
    )


def test_a_signature_matches_the_record_it_was_made_for() -> None:
    signed = manifest()
    assert signature_matches(signed, signed.sha256, "lot", "CM-0001", 1, CONTENT)


def test_a_signature_copied_onto_another_record_does_not_match() -> None:
    signed = manifest()
    assert not signature_matches(signed, signed.sha256, "lot", "CM-0002", 1, CONTENT)
    moved = dataclasses.replace(signed, record_id="CM-0002")
    assert not signature_matches(moved, signed.sha256, "lot", "CM-0002", 1, CONTENT)


def test_a_signature_does_not_carry_over_to_a_new_version() -> None:
    signed = manifest()
    assert not signature_matches(signed, signed.sha256, "lot", "CM-0001", 2, CONTENT)


def test_changed_content_breaks_the_signature() -> None:
    signed = manifest()
    changed = {**CONTENT, "results": [{"attribute": "ph", "value": "7.4"}]}
    assert not signature_matches(signed, signed.sha256, "lot", "CM-0001", 1, changed)


def test_changing_the_meaning_or_time_changes_the_signature_digest() -> None:
    signed = manifest()
    assert dataclasses.replace(signed, meaning=Meaning.REVIEWED).sha256 != signed.sha256
    assert dataclasses.replace(signed, signed_at=WHEN + dt.timedelta(seconds=1)).sha256 != signed.sha256


def test_the_manifestation_shows_printed_name_meaning_and_utc_time() -> None:
    assert manifest().describe() == "Quinn QA (quinn) — released — 2026-03-01 09:30:00 UTC"


def test_naive_times_and_missing_printed_names_are_refused() -> None:
    with pytest.raises(ValueError, match="signed_at"):
        dataclasses.replace(manifest(), signed_at=dt.datetime(2026, 3, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="printed_name"):
        dataclasses.replace(manifest(), printed_name=" ")


def test_record_hash_depends_on_identity_and_version() -> None:
    assert record_sha256("lot", "A", 1, CONTENT) != record_sha256("lot", "B", 1, CONTENT)
    assert record_sha256("lot", "A", 1, CONTENT) != record_sha256("specification", "A", 1, CONTENT)
    with pytest.raises(ValueError, match="version"):
        record_sha256("lot", "A", 0, CONTENT)
