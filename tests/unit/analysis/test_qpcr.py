"""Relative gene expression: Livak & Schmittgen (2001), the QuantStudio software's standard curve, the RDML
calibrator run and hand calculations of the Pfaffl / qBase formulas and of geNorm M."""

from __future__ import annotations

import io
import itertools
import math
import statistics
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretome.analysis.qpcr import (
    CqWell,
    RelativeExpression,
    fit_efficiency,
    genorm_m,
    panel_trend,
    passage_of,
    replicate_sets,
)
from secretome.instruments.detect import read
from tests.unit.instruments.samples import sample_bytes

# Livak & Schmittgen (2001) Methods 25:402-408, Table 1: c-myc and GAPDH in separate wells, brain is the
# calibrator. Printed: brain c-myc 30.49 +/- 0.15, GAPDH 23.63 +/- 0.09, dCt 6.86 +/- 0.17; kidney c-myc
# 27.03 +/- 0.06, GAPDH 22.66 +/- 0.08, dCt 4.37 +/- 0.10, ddCt -2.50 +/- 0.10, fold 5.6 (5.3-6.0).
LIVAK = {
    "Brain": {
        "c-myc": [30.72, 30.34, 30.58, 30.34, 30.50, 30.43],
        "GAPDH": [23.70, 23.56, 23.47, 23.65, 23.69, 23.68],
    },
    "Kidney": {
        "c-myc": [27.06, 27.03, 27.03, 27.10, 26.99, 26.94],
        "GAPDH": [22.76, 22.61, 22.62, 22.60, 22.61, 22.76],
    },
}


def _wells(table: dict[str, dict[str, list[float]]]) -> list[CqWell]:
    counter = itertools.count(1)
    return [
        CqWell(f"W{next(counter)}", sample, gene, cq)
        for sample, genes in table.items()
        for gene, values in genes.items()
        for cq in values
    ]


def test_livak_and_schmittgen_2001_table_1_is_reproduced() -> None:
    result = RelativeExpression(reference_genes=("GAPDH",), calibrator="Brain", sd_limit=0.3).fit(
        _wells(LIVAK)
    )
    brain, kidney = result.row("Brain", "c-myc"), result.row("Kidney", "c-myc")
    assert round(brain.cq, 2) == 30.49 and round(brain.cq_sd, 2) == 0.15
    assert round(brain.delta_cq, 2) == 6.86
    assert round(kidney.cq, 2) == 27.03 and round(kidney.cq_sd, 2) == 0.06
    assert round(kidney.delta_cq, 2) == 4.37
    assert round(kidney.delta_delta_cq, 2) == -2.50
    assert round(kidney.fold, 1) == 5.6
    assert (round(kidney.fold_low, 1), round(kidney.fold_high, 1)) == (5.3, 6.0)
    assert brain.fold == 1.0 and (round(brain.fold_low, 1), round(brain.fold_high, 1)) == (0.9, 1.1)
    replicates = {(r.sample, r.target): r for r in result.replicates}
    assert round(replicates[("Brain", "GAPDH")].sd, 2) == 0.09
    assert round(replicates[("Kidney", "GAPDH")].sd, 2) == 0.08
    assert result.flags == ()


def test_pfaffl_ratio_is_the_efficiency_corrected_formula() -> None:
    # Pfaffl (2001): ratio = E_target^dCq_target(control - sample) / E_ref^dCq_ref(control - sample).
    amplification = {"c-myc": 1.93, "GAPDH": 1.97}
    result = RelativeExpression(
        reference_genes=("GAPDH",), calibrator="Brain", method="pfaffl", amplification=amplification
    ).fit(_wells(LIVAK))
    mean = {(s, g): statistics.fmean(v) for s, genes in LIVAK.items() for g, v in genes.items()}
    by_hand = 1.93 ** (mean[("Brain", "c-myc")] - mean[("Kidney", "c-myc")]) / 1.97 ** (
        mean[("Brain", "GAPDH")] - mean[("Kidney", "GAPDH")]
    )
    assert result.fold("Kidney", "c-myc") == pytest.approx(by_hand, rel=1e-12)


def test_pfaffl_with_perfect_efficiency_equals_livak() -> None:
    livak = RelativeExpression(("GAPDH",), "Brain").fit(_wells(LIVAK))
    pfaffl = RelativeExpression(
        ("GAPDH",), "Brain", method="pfaffl", amplification={"c-myc": 2, "GAPDH": 2}
    ).fit(_wells(LIVAK))
    assert pfaffl.fold("Kidney", "c-myc") == pytest.approx(livak.fold("Kidney", "c-myc"), rel=1e-12)


def test_several_reference_genes_normalise_by_their_geometric_mean() -> None:
    # Hellemans et al. (2007): NRQ = RQ_target / geomean(RQ_ref), RQ = A^(Cq_calibrator - Cq_sample).
    table = {
        "cal": {"T": [25.0, 25.2], "R1": [18.0, 18.1], "R2": [20.0, 19.9]},
        "s1": {"T": [23.1, 23.0], "R1": [18.4, 18.3], "R2": [20.6, 20.5]},
    }
    amplification = {"T": 1.90, "R1": 2.00, "R2": 1.95}
    result = RelativeExpression(("R1", "R2"), "cal", method="pfaffl", amplification=amplification).fit(
        _wells(table)
    )

    def rq(gene: str) -> float:
        gap = statistics.fmean(table["cal"][gene]) - statistics.fmean(table["s1"][gene])
        return math.pow(amplification[gene], gap)

    assert result.fold("s1", "T") == pytest.approx(rq("T") / math.sqrt(rq("R1") * rq("R2")), rel=1e-12)


def test_genorm_m_is_the_mean_pairwise_variation() -> None:
    rng = np.random.default_rng(4)
    amount = rng.normal(0, 1, 8)  # cDNA input differs per sample and cancels in every ratio
    genes = {
        "stable1": amount + rng.normal(0, 0.1, 8),
        "stable2": amount + rng.normal(0, 0.1, 8),
        "noisy": amount + rng.normal(0, 0.8, 8),
    }
    stability = genorm_m(genes)
    for gene in genes:
        others = [g for g in genes if g != gene]
        by_hand = statistics.fmean(statistics.stdev(list(genes[gene] - genes[other])) for other in others)
        assert stability[gene] == pytest.approx(by_hand, rel=1e-12)
    assert stability["noisy"] == max(stability.values())
    shifted = genorm_m({g: v + 3.0 for g, v in genes.items()})
    assert shifted == pytest.approx(stability, rel=1e-12)


def test_standard_curve_matches_the_quantstudio_software() -> None:
    # The QuantStudio 7 Flex export prints, for its RNase P standards: slope -3.383, Y-intercept 39.814,
    # R^2 0.997, efficiency 97.505 %.
    text = sample_bytes("qpcr/AB_QS7Flex_standard_curve_example04.txt").decode("utf-8")
    lines = text.split("[Results]", 1)[1].strip().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line.strip()]
    standards = [
        r for r in rows if r.get("Task") == "STANDARD" and r.get("CT", "").replace(".", "").isdigit()
    ]
    assert len(standards) >= 15
    curve = fit_efficiency(
        [float(r["Quantity"].replace(",", "")) for r in standards],
        [float(r["CT"]) for r in standards],
        "RNase P",
    )
    assert curve.slope == pytest.approx(float(standards[0]["Slope"]), abs=5e-4)
    assert curve.intercept == pytest.approx(float(standards[0]["Y-Intercept"]), abs=5e-4)
    assert curve.r_squared == pytest.approx(float(standards[0]["R(superscript 2)"]), abs=5e-4)
    assert 100 * curve.efficiency == pytest.approx(float(standards[0]["Efficiency"]), abs=5e-3)
    assert curve.flags == ()


def test_efficiency_of_an_ideal_dilution_series_is_one_hundred_percent() -> None:
    quantity = [1e6, 1e5, 1e4, 1e3, 1e2]
    curve = fit_efficiency(quantity, [40 - math.log2(q) for q in quantity])
    assert curve.slope == pytest.approx(-1 / math.log10(2), rel=1e-12)
    assert curve.efficiency == pytest.approx(1.0, rel=1e-12)
    assert curve.r_squared == pytest.approx(1.0)
    poor = fit_efficiency(quantity, [40 - 2.6 * math.log10(q) for q in quantity], "X")
    assert any("outside 90-110 %" in flag for flag in poor.flags)


def test_replicate_spread_and_undetermined_wells_are_flagged() -> None:
    wells = [
        CqWell("A1", "s", "T", 30.0),
        CqWell("A2", "s", "T", 30.9),
        CqWell("A3", "s", "T", math.nan),
        CqWell("B1", "s", "R", math.nan),
    ]
    sets = replicate_sets(wells, sd_limit=0.3)
    assert sets[("s", "T")].mean == pytest.approx(30.45)
    assert any("SD 0.64 exceeds 0.3" in f for f in sets[("s", "T")].flags)
    assert any("1 of 3 replicates undetermined" in f for f in sets[("s", "T")].flags)
    assert any("no replicate amplified" in f for f in sets[("s", "R")].flags)


def test_ntc_amplification_and_a_no_rt_too_close_to_its_sample_fail() -> None:
    table = {
        "cal": {"T": [25.0, 25.1], "R": [18.0, 18.1]},
        "s1": {"T": [24.0, 24.1], "R": [18.2, 18.1]},
        "NTC": {"T": [math.nan, math.nan], "R": [33.0, math.nan]},
        "s1 noRT": {"R": [21.0]},
    }
    result = RelativeExpression(("R",), "cal", no_rt={"s1 noRT": "s1"}).fit(_wells(table))
    checks = {(c.kind, c.target): c for c in result.controls}
    assert checks[("NTC", "T")].passed and checks[("NTC", "T")].detail == "no amplification"
    assert not checks[("NTC", "R")].passed
    assert not checks[("no-RT", "R")].passed  # 2.85 cycles after s1, fewer than 5
    assert not result.controls_passed
    assert any(f.startswith("NTC NTC R") for f in result.flags)


def test_rdml_calibrator_run_replicate_statistics_match_an_independent_parse() -> None:
    content = sample_bytes("qpcr/RDML_optical_calibrators_OC_3.rdml")
    xml = zipfile.ZipFile(io.BytesIO(content)).read("rdml_data.xml")
    ns = {"r": "http://www.rdml.org"}
    independent: dict[tuple[str, str], list[float]] = {}
    for react in ElementTree.fromstring(xml).iterfind(".//r:react", ns):
        sample = react.find("r:sample", ns).get("id")  # type: ignore[union-attr]
        for data in react.iterfind("r:data", ns):
            target = data.find("r:tar", ns).get("id")  # type: ignore[union-attr]
            cq = float(data.findtext("r:cq", "nan", ns))
            independent.setdefault((str(sample), str(target)), []).append(cq if cq >= 0 else math.nan)
    reading = read(content, "oc3.rdml")
    wells = [
        CqWell(m.well, m.sample, m.analyte, m.value)
        for m in reading.measurements
        if m.quantity == "cycle threshold"
    ]
    sets = replicate_sets(wells)
    assert set(sets) == set(independent)
    for key, values in independent.items():
        determined = [v for v in values if not math.isnan(v)]
        if len(determined) > 1:
            assert sets[key].mean == pytest.approx(statistics.fmean(determined), rel=1e-12)
            assert sets[key].sd == pytest.approx(statistics.stdev(determined), rel=1e-12)
        else:
            assert any("no replicate amplified" in f for f in sets[key].flags)
    assert sets[("FSTL1-E6", "FSTL1-E6")].mean == pytest.approx((23.007 + 23.036 + 23.030) / 3, rel=1e-12)


def test_panel_trend_orders_by_passage_and_raises_senescence_alerts() -> None:
    table = {
        "cal P2": {"CDKN2A": [27.0, 27.0], "GAPDH": [18.0, 18.0]},
        "L P6": {"CDKN2A": [25.5, 25.5], "GAPDH": [18.0, 18.0]},
        "L P4": {"CDKN2A": [26.5, 26.5], "GAPDH": [18.0, 18.0]},
    }
    result = RelativeExpression(("GAPDH",), "cal P2").fit(_wells(table))
    passage = {s: p for s in table if (p := passage_of(s)) is not None}
    trend = panel_trend(result, ["CDKN2A", "CDKN1A"], passage, {"L P4": 12.0, "L P6": 18.5}, alert_fold=2.0)
    assert trend.samples == ("cal P2", "L P4", "L P6")
    assert trend.genes == ("CDKN2A",)
    assert trend.fold["CDKN2A"] == pytest.approx((1.0, 2**0.5, 2**1.5))
    assert trend.alerts == ("L P6: CDKN2A 2.83-fold >= 2",)
    assert trend.plot().axes[0].get_xlabel() == "passage"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"reference_genes": ()}, "reference_genes"),
        ({"calibrator": ""}, "calibrator"),
        ({"method": "delta"}, "method"),
        ({"amplification": {"T": 3.0}}, "amplification"),
        ({"sd_limit": 0.0}, "sd_limit"),
    ],
)
def test_invalid_settings_name_the_parameter(kwargs: dict[str, object], name: str) -> None:
    settings: dict[str, object] = {"reference_genes": ("R",), "calibrator": "cal", **kwargs}
    with pytest.raises(ValueError, match=name):
        RelativeExpression(**settings)  # type: ignore[arg-type]


def test_pfaffl_without_an_efficiency_names_the_gene() -> None:
    with pytest.raises(ValueError, match="c-myc"):
        RelativeExpression(("GAPDH",), "Brain", method="pfaffl", amplification={"GAPDH": 2.0}).fit(
            _wells(LIVAK)
        )


@given(
    shift=st.floats(min_value=-3, max_value=3),
    sample_cq=st.lists(st.floats(min_value=15, max_value=35), min_size=3, max_size=3),
)
def test_fold_does_not_depend_on_how_much_cdna_went_in(shift: float, sample_cq: list[float]) -> None:
    # More or less cDNA shifts every gene's Cq of that sample alike; the normalised fold must not move.
    target, ref1, ref2 = sample_cq
    base = {
        "cal": {"T": [25.0], "R1": [18.0], "R2": [20.0]},
        "s": {"T": [target], "R1": [ref1], "R2": [ref2]},
    }
    moved = {"cal": base["cal"], "s": {g: [v[0] + shift] for g, v in base["s"].items()}}
    engine = RelativeExpression(("R1", "R2"), "cal")
    assert engine.fit(_wells(moved)).fold("s", "T") == pytest.approx(
        engine.fit(_wells(base)).fold("s", "T"), rel=1e-9
    )
