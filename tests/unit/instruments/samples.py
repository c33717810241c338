"""Paths of the real instrument files the tests read (copies under tests/data/samples, see PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def sample(relative: str) -> Path:
    return SAMPLES / relative


def sample_bytes(relative: str) -> bytes:
    return (SAMPLES / relative).read_bytes()


def every_sample() -> list[Path]:
    """Every sample file (not the provenance notes)."""
    return sorted(p for p in SAMPLES.glob("*/*") if p.is_file() and p.name != "PROVENANCE.md")
