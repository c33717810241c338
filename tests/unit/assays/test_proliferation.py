"""Dye-dilution proliferation: indices from generation counts (by hand) and generation peaks fitted to
simulated events with known generation fractions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from secretome.analysis.assays.proliferation import (
    ProliferationModel,
    indices_from_counts,
    undivided_position,
)


def test_indices_follow_the_formulas_from_generation_counts_by_hand() -> None:
    # Cells per generation N = 100, 80, 120, 160; original cells O_g = N_g / 2^g = 100, 40, 30, 20 (sum 190).
    indices = indices_from_counts([100, 80, 120, 160])
    assert indices.original == (100.0, 40.0, 30.0, 20.0)
    # % divided = 100 (40 + 30 + 20) / 190
    assert indices.percent_divided == pytest.approx(100.0 * 90.0 / 190.0, rel=1e-12)
    # division index = (0*100 + 1*40 + 2*30 + 3*20) / 190 = 160 / 190
    assert indices.division_index == pytest.approx(160.0 / 190.0, rel=1e-12)
    # proliferation index = (1*40 + 2*30 + 3*20) / (40 + 30 + 20) = 160 / 90
    assert indices.proliferation_index == pytest.approx(160.0 / 90.0, rel=1e-12)
    # expansion index = (100 + 80 + 120 + 160) / 190 = 460 / 190
    assert indices.expansion_index == pytest.approx(460.0 / 190.0, rel=1e-12)
    # replication index = (80 + 120 + 160) / (40 + 30 + 20) = 360 / 90
    assert indices.replication_index == pytest.approx(4.0, rel=1e-12)
    # fraction diluted = (80 + 120 + 160) / 460, of the final cells
    assert indices.fraction_diluted == pytest.approx(360.0 / 460.0, rel=1e-12)


def test_indices_of_a_culture_where_responders_divided_three_times() -> None:
    # 1000 original cells: 400 never divided, 600 divided exactly three times (4800 cells in generation 3).
    indices = indices_from_counts([400, 0, 0, 4800])
    assert indices.percent_divided == pytest.approx(60.0, rel=1e-12)
    assert indices.division_index == pytest.approx(1.8, rel=1e-12)  # 600 x 3 / 1000
    assert indices.proliferation_index == pytest.approx(3.0, rel=1e-12)
    assert indices.expansion_index == pytest.approx(5.2, rel=1e-12)  # 5200 / 1000
    assert indices.replication_index == pytest.approx(8.0, rel=1e-12)  # 2^3


def test_indices_of_an_undivided_culture_leave_the_responder_indices_undefined() -> None:
    indices = indices_from_counts([500, 0, 0])
    assert indices.percent_divided == 0.0
    assert indices.division_index == 0.0
    assert math.isnan(indices.proliferation_index)
    assert indices.to_dict()["proliferation_index"] is None


def _events(
    rng: np.random.Generator, fractions: list[float], n: int, peak: float, sigma_log2: float
) -> np.ndarray:
    generation = rng.choice(len(fractions), size=n, p=fractions)
    return peak * 2.0 ** (-generation + rng.normal(0.0, sigma_log2, n))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_recovers_known_generation_fractions_of_simulated_events(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = [0.30, 0.10, 0.15, 0.20, 0.15, 0.07, 0.03]
    events = _events(rng, truth, 20000, 40000.0, 0.25)
    # The undivided position is given 0.15 log2 units off; the fit moves it back within its tolerance.
    result = ProliferationModel(max_generations=8, peak_tolerance=0.3).fit(events, 40000.0 * 2**0.15)
    assert result.converged
    fitted = np.asarray(result.weights)
    # Binomial SD of a fraction of 0.2 over 20000 events is 0.003; 0.012 allows for peak overlap.
    np.testing.assert_allclose(fitted[: len(truth)], truth, atol=0.012)
    assert fitted[len(truth) :].sum() < 0.005
    assert result.peak_log2 == pytest.approx(math.log2(40000.0), abs=0.02)
    assert result.sigma_log2 == pytest.approx(0.25, abs=0.01)
    expected = indices_from_counts(truth)
    assert result.indices.percent_divided == pytest.approx(expected.percent_divided, abs=1.5)
    assert result.indices.division_index == pytest.approx(expected.division_index, abs=0.04)
    assert result.readout("division_index") == result.indices.division_index


def test_a_fixed_undivided_peak_stays_where_it_is_given() -> None:
    rng = np.random.default_rng(7)
    events = _events(rng, [0.5, 0.3, 0.2], 5000, 20000.0, 0.3)
    result = ProliferationModel(max_generations=4, peak_tolerance=0.0).fit(events, 20000.0)
    assert result.peak_log2 == math.log2(20000.0)
    np.testing.assert_allclose(result.weights[:3], [0.5, 0.3, 0.2], atol=0.025)
    assert result.events == 5000 and result.nonpositive == 0


def test_nonpositive_events_are_left_out_and_counted() -> None:
    rng = np.random.default_rng(8)
    events = np.concatenate([_events(rng, [1.0], 2000, 30000.0, 0.25), [0.0, -12.0]])
    result = ProliferationModel(max_generations=2).fit(events, 30000.0)
    assert result.nonpositive == 2 and result.events == 2000
    assert result.indices.percent_divided < 1.0


def test_cells_beyond_the_last_generation_raise_a_flag() -> None:
    rng = np.random.default_rng(9)
    events = _events(rng, [0.2, 0.2, 0.2, 0.4], 4000, 30000.0, 0.25)
    result = ProliferationModel(max_generations=2, min_events=10000).fit(events, 30000.0)
    assert any(flag.startswith("cells_in_last_generation") for flag in result.flags)
    assert any(flag.startswith("few_events") for flag in result.flags)


def test_undivided_position_finds_the_main_peak_of_an_unstimulated_control() -> None:
    rng = np.random.default_rng(10)
    events = _events(rng, [0.93, 0.07], 8000, 50000.0, 0.25)
    assert math.log2(undivided_position(events)) == pytest.approx(math.log2(50000.0), abs=0.02)


def test_result_serialises_and_plots_the_fitted_peaks() -> None:
    rng = np.random.default_rng(11)
    result = ProliferationModel(max_generations=4).fit(_events(rng, [0.6, 0.4], 3000, 10000.0, 0.25), 10000.0)
    payload = result.to_dict()
    assert payload["percent_divided"] == pytest.approx(result.indices.percent_divided)
    assert payload["generations"] == 4 and len(payload["weights"]) == 5
    figure = result.plot(title="stimulated")
    assert figure.axes[0].get_xlabel().startswith("log2")
    # The fitted density integrates to the events modelled.
    grid = np.linspace(result.peak_log2 - 10, result.peak_log2 + 5, 20001)
    assert np.trapezoid(result.density(grid).sum(axis=0), grid) == pytest.approx(3000, rel=1e-3)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"max_generations": 0}, "max_generations"),
        ({"max_generations": 2.5}, "max_generations"),
        ({"peak_tolerance": -0.1}, "peak_tolerance"),
        ({"peak_tolerance": math.nan}, "peak_tolerance"),
        ({"min_events": -1}, "min_events"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_setting(arguments: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        ProliferationModel(**arguments)  # type: ignore[arg-type]


def test_bad_undivided_or_intensities_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"^undivided:"):
        ProliferationModel().fit([1.0, 2.0, 3.0], 0.0)
    with pytest.raises(ValueError, match=r"^intensities:"):
        ProliferationModel().fit([1.0, math.nan], 1.0)
    with pytest.raises(ValueError, match=r"^cells:"):
        indices_from_counts([1.0])
