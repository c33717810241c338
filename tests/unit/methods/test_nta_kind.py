"""The ``nta`` method kind on real NanoSight exports and on the demo's NTA files."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from secretome.demo.expression_files import ev_truth, nta_experiment_summary, nta_method_settings
from secretome.instruments.detect import read
from secretome.methods import Decisions, KindOutcome, LotContext, MethodInput, RunContext, get_kind
from tests.unit.instruments.samples import sample_bytes

NTA_34 = "nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv"
MODES = [94.9, 98.2, 101.8, 99.3, 97.9]
CONCENTRATIONS = [5.91e12, 6.05e12, 6.01e12, 6.25e12, 6.24e12]
CAPTURED = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


def _input(content: bytes, name: str, import_id: int = 7) -> MethodInput:
    return MethodInput(import_id=import_id, sha256="0" * 64, filename=name, reading=read(content, name))


def _bead_run(
    settings: dict[str, object] | None = None,
    decisions: Decisions | None = None,
    protein: float | None = None,
) -> KindOutcome:
    kind = get_kind("nta")
    context = RunContext(lots={"L1": LotContext("L1", protein_ug_per_ml=protein)}, default_lot="L1")
    return kind.analyse(
        [_input(sample_bytes(NTA_34), "beads2.csv")], settings or {}, decisions or Decisions(), context
    )


def test_reports_mean_concentration_and_mean_modal_size_of_the_videos() -> None:
    outcome = _bead_run()
    by_attribute = {r.attribute: r for r in outcome.reportables}
    assert by_attribute["ev-concentration"].value == pytest.approx(sum(CONCENTRATIONS) / 5, rel=1e-12)
    assert by_attribute["ev-concentration"].unit == "particles/mL"
    assert by_attribute["ev-size"].value == pytest.approx(sum(MODES) / 5, rel=1e-12)
    assert by_attribute["ev-size"].unit == "nm"
    assert len(outcome.used) == 5 and outcome.used[0] == "7:stdv34_00"
    assert outcome.plots and outcome.plots[0][1].startswith("<svg")
    assert outcome.result["lots"]["L1"]["file_dilution"] == {"import 7": 1e4}


def test_size_statistic_setting_picks_d50() -> None:
    outcome = _bead_run({"size_statistic": "d50"})
    size = next(r for r in outcome.reportables if r.attribute == "ev-size")
    assert size.value == pytest.approx((98.6 + 99.7 + 101.0 + 100.2 + 99.6) / 5, rel=1e-12)


def test_dilution_from_the_setting_replaces_the_recorded_one() -> None:
    outcome = _bead_run({"dilution_source": "setting", "dilution": 2e4})
    concentration = next(r for r in outcome.reportables if r.attribute == "ev-concentration")
    assert concentration.value == pytest.approx(2 * sum(CONCENTRATIONS) / 5, rel=1e-12)


def test_excluding_a_video_changes_the_result_and_is_recorded() -> None:
    outcome = _bead_run(decisions=Decisions(excluded={"7:stdv34_00": "focus drifted"}))
    concentration = next(r for r in outcome.reportables if r.attribute == "ev-concentration")
    assert concentration.value == pytest.approx(sum(CONCENTRATIONS[1:]) / 4, rel=1e-12)
    assert outcome.excluded == {"7:stdv34_00": "focus drifted"}
    assert "7:stdv34_00" not in outcome.used


def test_particles_per_ug_reported_when_protein_is_known() -> None:
    outcome = _bead_run({"purity_attribute": "ev-purity"}, protein=1000.0)
    purity = next(r for r in outcome.reportables if r.attribute == "ev-purity")
    assert purity.value == pytest.approx(sum(CONCENTRATIONS) / 5 / 1000.0, rel=1e-12)
    unknown = _bead_run({"purity_attribute": "ev-purity"})
    assert not any(r.attribute == "ev-purity" for r in unknown.reportables)
    assert any("no total protein" in flag for flag in unknown.flags)


def test_same_inputs_give_the_same_numbers() -> None:
    assert _bead_run().result == _bead_run().result


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"size_statistic": "median"}, "size_statistic"),
        ({"dilution_source": "guess"}, "dilution_source"),
        ({"dilution": -1}, "dilution"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        get_kind("nta").check_settings(settings)


def test_a_file_without_a_lot_is_refused() -> None:
    with pytest.raises(ValueError, match="lot"):
        get_kind("nta").analyse([_input(sample_bytes(NTA_34), "beads2.csv")], {}, Decisions(), RunContext())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_demo_nta_files_are_read_and_give_back_the_true_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = ev_truth(rng, f"CM-2026-00{seed}")
    content = nta_experiment_summary(truth, rng, CAPTURED)
    reading = read(content, f"{truth.lot}-ExperimentSummary.csv")
    assert reading.format == "nanosight-nta" and reading.warnings == ()
    assert reading.samples == [truth.lot]
    context = RunContext(lots={truth.lot: LotContext(truth.lot)})
    outcome = get_kind("nta").analyse(
        [MethodInput(1, "0" * 64, "f.csv", reading)], nta_method_settings(), Decisions(), context
    )
    values = {r.attribute: r.value for r in outcome.reportables}
    # 5 videos with 6 % noise each: the mean is within 4 standard errors (~11 %).
    assert values["ev-concentration"] == pytest.approx(truth.concentration, rel=4 * 0.06 / math.sqrt(5))
    # Video medians vary by 1.5 %, and the mode is read on 1-nm bins.
    assert values["ev-size"] == pytest.approx(truth.mode, rel=0.03, abs=1.0)
    assert 1e9 <= truth.concentration <= 1e10 and 80 <= truth.mode <= 150
    assert outcome.flags == ()


def test_demo_nta_file_is_the_same_bytes_for_the_same_seed() -> None:
    first = nta_experiment_summary(
        ev_truth(np.random.default_rng(5), "L"), np.random.default_rng(6), CAPTURED
    )
    second = nta_experiment_summary(
        ev_truth(np.random.default_rng(5), "L"), np.random.default_rng(6), CAPTURED
    )
    assert first == second
