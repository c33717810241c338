"""EV particle statistics: checked against the NanoSight software's own numbers and against closed forms."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from scipy.stats import lognorm, norm

from secretome.analysis.ev import NtaAnalyzer, distribution_statistics, percentile_size
from secretome.instruments.nta import read_nta
from tests.unit.instruments.samples import sample_bytes

NTA_34 = "nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv"
NTA_32 = "nta/NanoSight_NTA3.2_ExperimentSummary_beads.csv"
SIZES = {"mean": "mean size", "mode": "mode size", "d10": "D10", "d50": "D50", "d90": "D90"}


def _file(relative: str) -> tuple[list[str], list[float], np.ndarray, np.ndarray, dict[str, list[float]]]:
    reading = read_nta(sample_bytes(relative), relative.split("/")[-1])
    videos = list(reading.run_metadata["videos"])
    concentration = [reading.values("concentration", well=v)[0] for v in videos]
    centres = np.array([x for x, _ in reading.series[f"size distribution {videos[0]}"]])
    distributions = np.array([[y for _, y in reading.series[f"size distribution {v}"]] for v in videos])
    sizes = {k: [reading.values(q, well=v)[0] for v in videos] for k, q in SIZES.items()}
    return videos, concentration, centres, distributions, sizes


@pytest.mark.parametrize(("relative", "tolerance"), [(NTA_34, 0.051), (NTA_32, 1.051)])
def test_d_values_from_the_distribution_agree_with_the_nanosight_software(
    relative: str, tolerance: float
) -> None:
    # NTA 3.4 prints D10/D50/D90 to 0.1 nm; NTA 3.2 places them one 1-nm bin lower than the distribution
    # it exports (a known offset of that version), hence one bin of tolerance there.
    videos, _, centres, distributions, sizes = _file(relative)
    for index in range(len(videos)):
        computed = distribution_statistics(centres, distributions[index])
        assert computed["mean"] == pytest.approx(sizes["mean"][index], abs=0.051)
        for name in ("d10", "d50", "d90"):
            assert computed[name] == pytest.approx(sizes[name][index], abs=tolerance)


def test_concentration_statistics_match_the_file_average_and_standard_error() -> None:
    videos, concentration, centres, distributions, sizes = _file(NTA_34)
    result = NtaAnalyzer().fit(
        videos, concentration, bin_centres=centres, distributions=distributions, video_size=sizes
    )
    rows = list(csv.reader(io.StringIO(sample_bytes(NTA_34).decode())))
    header = next(r for r in rows if r and r[0] == "[Results]")
    row = next(r for r in rows if r and r[0] == "Concentration (Particles / ml)")
    file_average, file_error = float(row[header.index("Average")]), float(row[header.index("Standard Error")])
    # The file prints three significant digits.
    assert result.concentration == pytest.approx(file_average, rel=5e-3)
    assert result.concentration_se == pytest.approx(file_error, rel=1e-2)
    by_hand = [5.91e12, 6.05e12, 6.01e12, 6.25e12, 6.24e12]
    mean = sum(by_hand) / 5
    sd = math.sqrt(sum((c - mean) ** 2 for c in by_hand) / 4)
    assert result.concentration_sd == pytest.approx(sd, rel=1e-12)
    assert result.concentration_cv == pytest.approx(100 * sd / mean, rel=1e-12)
    assert result.size_source == "instrument"
    assert result.size["mode"] == pytest.approx(sum(sizes["mode"]) / 5, rel=1e-12)
    assert result.span == pytest.approx((result.size["d90"] - result.size["d10"]) / result.size["d50"])
    assert result.flags == ()


def test_percentiles_of_a_finely_binned_lognormal_are_its_quantiles() -> None:
    median, sigma = 110.0, 0.35
    edges = np.arange(0.0, 1000.0 + 0.1, 0.1)
    counts = np.diff(lognorm.cdf(edges, s=sigma, scale=median))
    centres = (edges[1:] + edges[:-1]) / 2
    stats = distribution_statistics(centres, counts)
    for fraction, name in ((0.1, "d10"), (0.5, "d50"), (0.9, "d90")):
        expected = median * math.exp(sigma * norm.ppf(fraction))
        assert stats[name] == pytest.approx(expected, abs=0.01)
    assert stats["mean"] == pytest.approx(median * math.exp(sigma**2 / 2), abs=0.01)
    assert stats["mode"] == pytest.approx(median * math.exp(-(sigma**2)), abs=0.1)


def test_dilution_multiplies_concentrations_and_the_protein_ratio_follows() -> None:
    result = NtaAnalyzer(dilution=50).fit(["a", "b", "c"], [1e8, 1.1e8, 0.9e8], protein_ug_per_ml=0.5)
    assert result.concentration == pytest.approx(5e9)
    assert result.particles_per_ug == pytest.approx(5e9 / 0.5)
    assert result.purity == "low purity"  # 2e9 to 2e10 particles/ug (Webber & Clayton 2013)
    impure = NtaAnalyzer(dilution=50).fit(["a", "b", "c"], [1e8, 1.1e8, 0.9e8], protein_ug_per_ml=25.0)
    assert impure.purity == "impure"
    assert "no size statistics" in result.flags[0]


def test_high_between_video_cv_and_too_few_videos_are_flagged() -> None:
    result = NtaAnalyzer(cv_limit=10, min_videos=3).fit(["a", "b"], [1e8, 2e8])
    assert any("CV" in flag for flag in result.flags)
    assert any("only 2 video" in flag for flag in result.flags)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"dilution": 0}, "dilution"), ({"cv_limit": -1}, "cv_limit"), ({"min_videos": 0}, "min_videos")],
)
def test_invalid_settings_name_the_parameter(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        NtaAnalyzer(**kwargs)  # type: ignore[arg-type]


def test_percentile_fraction_must_be_inside_zero_one() -> None:
    with pytest.raises(ValueError, match="fraction"):
        percentile_size(np.array([1.0, 2.0]), np.array([1.0, 1.0]), 1.0)


def test_result_dict_is_json_ready_and_the_plot_draws() -> None:
    videos, concentration, centres, distributions, _sizes = _file(NTA_34)
    result = NtaAnalyzer().fit(videos, concentration, bin_centres=centres, distributions=distributions)
    assert result.size_source == "distribution"
    raw = result.to_dict()
    assert raw["videos"] == videos and raw["bins"] == 1000
    figure = result.plot()
    assert figure.axes[0].get_xlabel() == "size (nm)"
