"""Harvest counts read from cell-counter exports (through allotropy) and linked to the passage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from secretome.db.genealogy.models import Passage
from secretome.db.imports.models import InstrumentImport, RawFile
from secretome.services import genealogy as g
from secretome.services.errors import ServiceError
from tests.integration.test_genealogy_services import Lab, approved_recipe, eligible_donor, isolate

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "cell_counter"
FILES = sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".md")


@pytest.fixture
def lab_passage(analyst: Any, qa_user: Any) -> tuple[Lab, Passage]:
    lab = Lab(analyst, qa_user)
    approved_recipe(lab)
    return lab, isolate(lab, eligible_donor(lab), cells_seeded=1e5)


def _harvest(lab: Lab, passage: Passage, name: str, sample: str | None, volume: float = 10.0) -> Passage:
    return g.record_harvest_from_counter(
        lab.analyst, "harvest count from the counter", passage_id=passage.pk, filename=name,
        content=(SAMPLES / name).read_bytes(), harvested_at=passage.seeded_at + dt.timedelta(days=5),
        suspension_volume_ml=volume, sample=sample,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "sample", "viable_per_ml", "viability"),
    [
        # Values as printed in the files: "Viable (x10^6) cells/mL" 0.75 and "Viability (%)" 96.9 for CLB001,
        ("Beckman_ViCell_BLU_example01.csv", "CLB001", 0.75e6, 96.9),
        ("Beckman_ViCell_BLU_example01_utf16.csv", "CLB002", 2.63e6, 96.81),
        # "Live (cells/ml);2.45E6" and "Viability (%);68.2",
        ("ChemoMetec_NucleoView_NC200_example01.csv", None, 2.45e6, 68.2),
        # and the Cedex viable cells per mL 4529542.5 with viability 95.29307556 for sample 0618_F01.
        ("Roche_Cedex_HiRes_example_1.csv", "0618_F01", 4529542.5, 95.29307556),
    ],
)
def test_counter_files_give_the_harvest_printed_in_the_file(
    lab_passage: tuple[Lab, Passage], name: str, sample: str | None, viable_per_ml: float, viability: float
) -> None:
    lab, passage = lab_passage
    harvested = _harvest(lab, passage, name, sample, volume=10.0)
    assert harvested.cells_harvested == pytest.approx(viable_per_ml * 10.0, rel=1e-6)
    assert harvested.viability_percent == pytest.approx(viability)
    assert harvested.harvest_counts is not None and harvested.harvest_counts.filename == name
    assert g.passage_dict(harvested)["harvest_counts"]["instrument_import"] == harvested.harvest_counts.pk


@pytest.mark.parametrize("name", FILES)
def test_every_counter_sample_yields_a_count_or_an_error_naming_the_file(
    lab_passage: tuple[Lab, Passage], name: str
) -> None:
    lab, passage = lab_passage
    try:
        harvested = _harvest(lab, passage, name, None)
    except ServiceError as exc:
        # Several samples in one file: the error names the file and asks for one.
        assert name in str(exc)
        assert Passage.objects.get(pk=passage.pk).harvested_at is None
        return
    assert harvested.cells_harvested is not None and harvested.cells_harvested > 0


def test_a_bad_file_writes_nothing(lab_passage: tuple[Lab, Passage]) -> None:
    lab, passage = lab_passage
    with pytest.raises(ServiceError, match=r"counts\.csv"):
        g.record_harvest_from_counter(
            lab.analyst, "bad", passage_id=passage.pk, filename="counts.csv", content=b"not,a,counter\n1,2,3\n",
            harvested_at=passage.seeded_at + dt.timedelta(days=5), suspension_volume_ml=10,
        )  # fmt: skip
    assert not RawFile.objects.exists() and not InstrumentImport.objects.exists()
    assert Passage.objects.get(pk=passage.pk).harvested_at is None


def test_a_refused_harvest_leaves_no_import_behind(lab_passage: tuple[Lab, Passage]) -> None:
    lab, passage = lab_passage
    with pytest.raises(ServiceError, match="after seeding"):
        g.record_harvest_from_counter(
            lab.analyst, "early", passage_id=passage.pk, filename=FILES[0], content=(SAMPLES / FILES[0]).read_bytes(),
            harvested_at=passage.seeded_at - dt.timedelta(days=1), suspension_volume_ml=10, sample="CLB001",
        )  # fmt: skip
    assert not InstrumentImport.objects.exists()
