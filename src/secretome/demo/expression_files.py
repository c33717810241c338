"""Instrument files of the demo's EV and gene-expression measurements, in the vendors' export layouts.

Pure functions: the values come from a seeded :class:`numpy.random.Generator`, the timestamps are
arguments, and the functions return bytes (the demo writes and imports them). The layouts copy real
exports (the NanoSight NTA 3.4 ``ExperimentSummary.csv`` under ``tests/data/samples/nta``), so the
system's own readers read them like any user's file. Each writer has a ``*_truth`` companion that draws
the true values the file is made from, so tests can check that the analysis gives them back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from secretome.analysis.ev import distribution_statistics, percentile_size

#: Size bins of NTA 3.4: 1 nm wide, centres 0.5 to 999.5 nm.
NTA_BIN_CENTRES = np.arange(1000) + 0.5
NTA_VERSION = "NTA 3.4 Build 3.4.003"


@dataclass(frozen=True)
class EvTruth:
    """The true EV content of one lot's conditioned medium, from which its NTA file is written.

    ``concentration`` particles/mL of the undiluted sample; sizes in nm for a log-normal number
    distribution with median ``d50`` and log-SD ``sigma`` (mode ``d50 x exp(-sigma^2)``); ``dilution`` is
    what the operator diluted the sample by before measuring.
    """

    lot: str
    concentration: float
    d50: float
    sigma: float
    dilution: float

    @property
    def mode(self) -> float:
        return self.d50 * math.exp(-(self.sigma**2))


def ev_truth(rng: np.random.Generator, lot: str) -> EvTruth:
    """Realistic MSC-EV values: 2-9 x 10^9 particles/mL of CM, modal size 90-140 nm (domain section 5.3).

    The dilution is chosen as an operator would, to bring the sample to 2-6 x 10^8 particles/mL in the cell.
    """
    concentration = float(rng.uniform(2.0, 9.0)) * 1e9
    sigma = float(rng.uniform(0.28, 0.38))
    mode = float(rng.uniform(90.0, 140.0))
    dilution = 10.0 if concentration < 5e9 else 20.0
    return EvTruth(
        lot=lot, concentration=concentration, d50=mode * math.exp(sigma**2), sigma=sigma, dilution=dilution
    )


def _lognormal_bins(d50: float, sigma: float) -> Any:
    """Number fraction per 1 nm bin of a log-normal distribution (integrated over each bin, so it sums to ~1)."""
    from scipy.stats import lognorm

    edges = np.arange(1001, dtype=np.float64)
    cdf = lognorm.cdf(edges, s=sigma, scale=d50)
    return np.diff(cdf)


def nta_experiment_summary(
    truth: EvTruth, rng: np.random.Generator, captured: datetime, *, videos: int = 5
) -> bytes:
    """A NanoSight NTA 3.4 ExperimentSummary CSV of ``videos`` 60-s videos of the lot's diluted CM.

    Each video sees the concentration with 6 % relative noise and the size distribution with its median
    shifted by 1.5 %; the per-video mean, mode and D-values written are those of the video's distribution,
    as the software computes them. Concentrations are written multiplied by the dilution, as NTA does.
    """
    if videos < 1:
        raise ValueError(f"videos: {videos} must be at least 1")
    names = [f"{truth.lot}_{index:02d}" for index in range(videos)]
    video_concentration = truth.concentration * rng.normal(1.0, 0.06, size=videos)
    distributions = []
    statistics = []
    for index in range(videos):
        d50 = truth.d50 * float(rng.normal(1.0, 0.015))
        bins = np.round(_lognormal_bins(d50, truth.sigma) * video_concentration[index])
        distributions.append(bins)
        statistics.append(distribution_statistics(NTA_BIN_CENTRES, bins))
    # The per-video concentration the software writes is the integral of its distribution.
    written = [float(np.sum(d)) for d in distributions]
    measured = [c / truth.dilution for c in written]
    frame_particles = [c / 4.1e6 for c in measured]
    mean_c = float(np.mean(written))
    se_c = float(np.std(written, ddof=1) / math.sqrt(videos)) if videos > 1 else 0.0
    pad = "," * videos

    def row(label: str, cells: list[str], extra: list[str] | None = None) -> str:
        return ",".join([label, *cells, *(extra or [])]) + ","

    lines = [
        "NTA Experiment Summary File,",
        f"Created with {NTA_VERSION},",
        ",",
        "[Experiment Details],,",
        f"Software Version,{NTA_VERSION},",
        f"Experiment Name,{truth.lot}_EV.nano,",
        "Operator Name,QC analyst,",
        f"Time Captured,{captured:%H:%M:%S  %d/%m/%Y},",
        f"Sample Description,{truth.lot},",
        "Pre-treatment,none,",
        "Diluent,PBS (0.02 um filtered),",
        "Remarks,MSC-CM EV particle analysis,",
        ",,",
        "," * (videos + 1),
        row("Filename:", names),
        row("Processed", ["Yes"] * videos),
        "",
        "[Conditions]," + pad,
        row("Temperature/C", ["25.000"] * videos),
        row("Viscosity/cP", ["0.889634"] * videos),
        row("Camera Type", ["sCMOS"] * videos),
        row("Laser Type", ["Blue488"] * videos),
        row("Camera Level", ["12"] * videos),
        row("Slider Shutter", ["1206"] * videos),
        row("Slider Gain", ["245"] * videos),
        row("Shutter/ms", ["30.000000"] * videos),
        row("Camera Histogram Upper Limit", ["16380"] * videos),
        row("Camera Histogram Lower Limit", ["0"] * videos),
        row("Frame rate/fps", ["24.982500"] * videos),
        row("Syringe Pump Speed/AU", ["50"] * videos),
        "," * (videos + 1),
        "[Settings]," + pad,
        row("Detection Threshold", ["5"] * videos),
        row("Max Jump Mode", ["Auto"] * videos),
        row("Max Jump Distance", [f"{rng.uniform(14.0, 15.5):.4f}" for _ in names]),
        row("Blur", ["Auto"] * videos),
        row("Min Track Length", ["Auto"] * videos),
        row("First frame", ["0"] * videos),
        row("Total frames analysed", ["1498"] * videos),
        "," * (videos + 1),
        "[Exclusion Regions]",
        "No Exclusion Regions Used" + pad,
        "",
        "[Results]" + pad + ",Average,Standard Error,",
        row(
            "Dilution factor (concentrations adjusted for this factor)",
            [f"{truth.dilution:.2e}"] * videos,
            ["", ""],
        ),
        row(
            "Concentration (Particles / ml)",
            [f"{c:.2e}" for c in written],
            [f"{mean_c:.2e}", f"{se_c:.2e}"],
        ),
        row("Concentration Upgrade?", ["Yes"] * videos, ["", ""]),
        row(
            "Particles per frame",
            [f"{p:.1f}" for p in frame_particles],
            [f"{np.mean(frame_particles):.1f}", f"{np.std(frame_particles, ddof=1) / math.sqrt(videos):.1f}"],
        ),
        row(
            "Centres per frame",
            [f"{p * 0.9:.1f}" for p in frame_particles],
            [
                f"{np.mean(frame_particles) * 0.9:.1f}",
                f"{np.std(frame_particles, ddof=1) * 0.9 / math.sqrt(videos):.1f}",
            ],
        ),
        row("Completed tracks", [str(int(p * 41)) for p in frame_particles], ["", ""]),
        row("X-Drift (pix/frame)", [f"{rng.normal(0, 0.3):.1f}" for _ in names], ["", ""]),
        row("Y-Drift (pix/frame)", [f"{rng.normal(0, 0.1):.1f}" for _ in names], ["", ""]),
        "," * (videos + 3),
        "[Concentration Warnings]",
        row("Validity of concentration measurement", ["OK"] * videos),
        row("Completed Tracks", ["OK"] * videos),
        row("Particles per frame", ["OK"] * videos),
        row("Noise level", ["No"] * videos),
        row("Brightness", ["OK"] * videos),
        row("Detection Threshold", ["OK"] * videos),
        row("Camera Histogram Lower Limit", ["OK"] * videos),
        "",
        "[Information]",
        row("Completed Tracks", ["OK"] * videos),
        row("Concentration", ["OK"] * videos),
        row("Video length", ["OK"] * videos),
        row("Noise level", ["No"] * videos),
        row("Vibration detected", ["No"] * videos),
        row("Vibration correction applied", ["No"] * videos),
        row("Settings changed?", ["No"] * videos),
        row("Errors (1)", [""] * videos),
        row("Errors (2)", [""] * videos),
        "",
        "[Data Included],",
        "Size distribution - Number weighting - With Percentiles,",
        ",",
        "[Size Data],,",
        "Analysis Method,FTLA,",
        "Weighting,Number,",
        row("Filename", names, ["Average", "Standard Error"]),
    ]
    for label, key in (
        ("Mean", "mean"),
        ("Mode", "mode"),
        ("SD", "sd"),
        ("D10", "d10"),
        ("D50", "d50"),
        ("D90", "d90"),
    ):
        if key == "sd":
            values = [
                math.sqrt(float(np.sum(d * (NTA_BIN_CENTRES - s["mean"]) ** 2) / np.sum(d)))
                for d, s in zip(distributions, statistics, strict=True)
            ]
        else:
            values = [s[key] for s in statistics]
        lines.append(
            row(
                label,
                [f"{v:.1f}" for v in values],
                [
                    f"{np.mean(values):.1f}",
                    f"{np.std(values, ddof=1) / math.sqrt(videos) if videos > 1 else 0:.1f}",
                ],
            )
        )
    lines.append(row("Valid Tracks", [f"{p * 17:.1f}" for p in frame_particles], ["", ""]))
    lines.append("Graph Data,")
    lines.append(
        row(
            "Bin centre (nm)",
            ["Concentration (particles / ml)"] * videos,
            ["Concentration average", "Standard Error"],
        )
    )
    stacked = np.vstack(distributions)
    averages = np.mean(stacked, axis=0)
    errors = np.std(stacked, axis=0, ddof=1) / math.sqrt(videos) if videos > 1 else np.zeros_like(averages)
    for index, centre in enumerate(NTA_BIN_CENTRES):
        cells = [f"{stacked[v, index]:.0f}" for v in range(videos)]
        lines.append(row(f"{centre:g}", cells, [f"{averages[index]:.0f}", f"{errors[index]:.0f}"]))
    lines.append("")
    lines.append(row("Percentile", ["Size (nm)"] * videos))
    for percent in range(101):
        sizes = []
        for d in distributions:
            if percent == 0:
                sizes.append(float(NTA_BIN_CENTRES[int(np.argmax(d > 0))]))
            elif percent == 100:
                sizes.append(float(NTA_BIN_CENTRES[len(d) - 1 - int(np.argmax(d[::-1] > 0))]))
            else:
                sizes.append(percentile_size(NTA_BIN_CENTRES, d, percent / 100))
        lines.append(row(str(percent), [f"{s:.1f}" for s in sizes]))
    lines.append("," * (videos + 1))
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def nta_method_settings() -> dict[str, Any]:
    """Settings of the demo's NTA method: concentration and modal size of the lot's CM, dilution from the file."""
    return {
        "concentration_attribute": "ev-concentration",
        "size_attribute": "ev-size",
        "size_statistic": "mode",
        "purity_attribute": None,
        "dilution_source": "file",
        "dilution": 1.0,
        "cv_limit": 20.0,
        "min_videos": 3,
    }
