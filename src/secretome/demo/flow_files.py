"""FCS 3.1 files of an MSC identity panel, as a cytometer would write them, for the demo's identity runs.

A panel is four tubes of one lot: the positive cocktail (CD90 FITC, CD73 PE, CD105 APC), the negative
cocktail (CD45 FITC, CD34 PE, CD14 PE-Cy7, CD19 APC, HLA-DR BV421) and one isotype control tube for each,
all with 7-AAD as viability dye. Every tube holds debris, doublets and dead cells besides the MSC, the
fluorochromes spill into neighbouring detectors (the file's ``$SPILLOVER`` undoes it) and the detectors add
electronic noise, so the numbers only come out right through compensation and the gating strategy that
:func:`identity_method_settings` returns. Pure: the bytes depend only on the arguments (seeded generator).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from secretome.analysis.flow.gating import FCS, Dimension, GatingStrategy, live_single_cells
from secretome.analysis.flow.transforms import LogicleTransform
from secretome.instruments.gating_ml import write_gating_ml

CHANNELS = (
    ("FSC-A", ""),
    ("FSC-H", ""),
    ("SSC-A", ""),
    ("FITC-A", ""),
    ("PE-A", ""),
    ("PerCP-Cy5.5-A", "7-AAD"),
    ("PE-Cy7-A", ""),
    ("APC-A", ""),
    ("BV421-A", ""),
    ("Time", ""),
)
FLUORESCENCE = ("FITC-A", "PE-A", "PerCP-Cy5.5-A", "PE-Cy7-A", "APC-A", "BV421-A")
#: Rows: how each fluorochrome's light reaches each detector (FITC, PE, PerCP-Cy5.5, PE-Cy7, APC, BV421).
SPILLOVER = np.array(
    [
        [1.0, 0.18, 0.03, 0.005, 0.0, 0.0],
        [0.02, 1.0, 0.12, 0.035, 0.002, 0.0],
        [0.0, 0.01, 1.0, 0.09, 0.04, 0.0],
        [0.0, 0.02, 0.05, 1.0, 0.01, 0.0],
        [0.0, 0.0, 0.02, 0.06, 1.0, 0.0],
        [0.015, 0.0, 0.0, 0.0, 0.0, 1.0],
    ]
)
POSITIVE_TUBE, NEGATIVE_TUBE = "MSC positive cocktail", "MSC negative cocktail"
POSITIVE_CONTROL, NEGATIVE_CONTROL = "Isotype positive cocktail", "Isotype negative cocktail"
#: attribute code -> (marker, detector, stained tube, control tube)
PANEL = {
    "cd90": ("CD90", "FITC-A", POSITIVE_TUBE, POSITIVE_CONTROL),
    "cd73": ("CD73", "PE-A", POSITIVE_TUBE, POSITIVE_CONTROL),
    "cd105": ("CD105", "APC-A", POSITIVE_TUBE, POSITIVE_CONTROL),
    "cd45": ("CD45", "FITC-A", NEGATIVE_TUBE, NEGATIVE_CONTROL),
    "cd34": ("CD34", "PE-A", NEGATIVE_TUBE, NEGATIVE_CONTROL),
    "cd14": ("CD14", "PE-Cy7-A", NEGATIVE_TUBE, NEGATIVE_CONTROL),
    "cd19": ("CD19", "APC-A", NEGATIVE_TUBE, NEGATIVE_CONTROL),
    "hla-dr": ("HLA-DR", "BV421-A", NEGATIVE_TUBE, NEGATIVE_CONTROL),
}
#: Median stained intensity of the MSC markers (positive cocktail), by detector.
_BRIGHT = {"FITC-A": 26000.0, "PE-A": 34000.0, "APC-A": 12000.0}
_TOP = 262144
_VIABILITY_LIMIT = 2000.0  # 7-AAD, compensated: live cells sit near 250, dead cells near 20,000
_DISPLAY = LogicleTransform("Logicle", 262144.0, 0.5, 4.5, 0.0)


def _tube_events(
    rng: np.random.Generator, tube: str, events: int, cd105_negative_fraction: float
) -> np.ndarray:
    """True (pre-spillover) signals of one tube, one row per event, columns as CHANNELS."""
    kinds = rng.choice(4, size=events, p=[0.08, 0.05, 0.08, 0.79])  # debris, doublet, dead, live MSC
    debris, doublet, dead = kinds == 0, kinds == 1, kinds == 2
    cell = ~debris
    values = np.zeros((events, len(CHANNELS)))
    fsc = rng.normal(115000, 22000, events)
    fsc[debris] = rng.uniform(1000, 28000, debris.sum())
    fsc[dead] *= 0.7
    height = fsc * rng.normal(0.82, 0.035, events)
    fsc[doublet] *= rng.normal(1.85, 0.1, doublet.sum())
    height[doublet] = fsc[doublet] * rng.normal(0.46, 0.04, doublet.sum())
    ssc = rng.lognormal(math.log(60000), 0.35, events)
    ssc[debris] = rng.lognormal(math.log(9000), 0.7, debris.sum())
    values[:, 0], values[:, 1], values[:, 2] = fsc, height, ssc
    fluorescence = rng.lognormal(math.log(220), 0.5, (events, len(FLUORESCENCE)))  # autofluorescence
    fluorescence += rng.lognormal(math.log(90), 0.6, (events, len(FLUORESCENCE)))  # unspecific binding
    fluorescence[dead] *= 2.5
    viability = FLUORESCENCE.index("PerCP-Cy5.5-A")
    fluorescence[dead, viability] = rng.lognormal(math.log(20000), 0.5, dead.sum())
    fluorescence[debris, viability] = rng.lognormal(math.log(3000), 1.2, debris.sum())
    stains: dict[str, tuple[float, float]] = {}  # detector -> (median, fraction positive of MSC)
    if tube == POSITIVE_TUBE:
        stains = {detector: (median, 0.997) for detector, median in _BRIGHT.items()}
        stains["APC-A"] = (_BRIGHT["APC-A"], 0.997 - cd105_negative_fraction)
    elif tube == NEGATIVE_TUBE:
        # Few contaminating haematopoietic cells: each lineage marker bright on about 0.4 % of the cells.
        stains = {d: (15000.0, 0.004) for d in ("FITC-A", "PE-A", "PE-Cy7-A", "APC-A", "BV421-A")}
    for detector, (median, fraction) in stains.items():
        column = FLUORESCENCE.index(detector)
        stained = cell & (rng.random(events) < fraction)
        fluorescence[stained, column] += rng.lognormal(math.log(median), 0.45, stained.sum())
    values[:, 3:9] = fluorescence
    values[:, 9] = np.sort(rng.uniform(0, 6000, events))
    return values


def _measured(rng: np.random.Generator, true: np.ndarray) -> np.ndarray:
    """What the detectors record: spillover, electronic noise, the ADC's range."""
    measured = true.copy()
    measured[:, 3:9] = true[:, 3:9] @ SPILLOVER + rng.normal(0, 45, (true.shape[0], len(FLUORESCENCE)))
    measured[:, :3] += rng.normal(0, 300, (true.shape[0], 3))
    measured[:, :9] = np.clip(measured[:, :9], -_TOP / 2, _TOP - 1)
    measured[:, :3] = np.clip(measured[:, :3], 0, _TOP - 1)
    return measured.astype("<f4")


def fcs_bytes(
    events: np.ndarray, keywords: dict[str, str], channels: tuple[tuple[str, str], ...] = CHANNELS
) -> bytes:
    """An FCS 3.1 file: little-endian float32 list mode, TEXT with ``$PnN``/``$PnS``/``$PnR`` and ``keywords``."""
    events = np.ascontiguousarray(events, dtype="<f4")
    count, width = events.shape
    text_keywords: dict[str, str] = {
        "$BYTEORD": "1,2,3,4",
        "$DATATYPE": "F",
        "$MODE": "L",
        "$NEXTDATA": "0",
        "$PAR": str(width),
        "$TOT": str(count),
        "$BEGINANALYSIS": "0",
        "$ENDANALYSIS": "0",
        "$BEGINSTEXT": "0",
        "$ENDSTEXT": "0",
    }
    for index, (name, label) in enumerate(channels, start=1):
        text_keywords[f"$P{index}N"] = name
        if label:
            text_keywords[f"$P{index}S"] = label
        text_keywords[f"$P{index}B"] = "32"
        text_keywords[f"$P{index}E"] = "0,0"
        text_keywords[f"$P{index}R"] = str(_TOP)
    text_keywords.update(keywords)
    data = events.tobytes()
    text_start = 58
    begin = end = 0
    for _ in range(5):  # the offsets are inside TEXT, whose length depends on them
        text_keywords["$BEGINDATA"], text_keywords["$ENDDATA"] = str(begin), str(end)
        text = "/" + "".join(
            f"{k.replace('/', '//')}/{v.replace('/', '//')}/" for k, v in text_keywords.items()
        )
        encoded = text.encode("latin-1")
        text_end = text_start + len(encoded) - 1
        new_begin = text_end + 1
        new_end = new_begin + len(data) - 1
        if (new_begin, new_end) == (begin, end):
            break
        begin, end = new_begin, new_end
    header = b"FCS3.1    " + b"".join(
        f"{v:>8}".encode()
        for v in (
            text_start,
            text_end,
            begin if end <= 99_999_999 else 0,
            end if end <= 99_999_999 else 0,
            0,
            0,
        )
    )
    return header + encoded + data


def identity_panel_files(
    lot: str, seed: int, cd105_fails: bool = False, events: int = 20000, date: str = "05-DEC-2026"
) -> dict[str, bytes]:
    """The four FCS 3.1 files of one lot's ISCT panel, by file name.

    Parameters
    ----------
    lot
        Written as ``$SRC`` (the specimen), so runs map the tubes to the lot.
    seed
        Seed of the NumPy generator: the same arguments give the same bytes.
    cd105_fails
        Make about 15 % of the MSC CD105-negative (the lot then fails CD105 >= 95 %).
    events
        Events per tube ($TOT).
    date
        ``$DATE`` of acquisition.
    """
    if events < 100:
        raise ValueError(f"events: at least 100 per tube, got {events}")
    rng = np.random.default_rng(seed)
    spill = ",".join([str(len(FLUORESCENCE)), *FLUORESCENCE, *(f"{v:.6g}" for v in SPILLOVER.ravel())])
    files: dict[str, bytes] = {}
    for number, tube in enumerate(
        (POSITIVE_CONTROL, POSITIVE_TUBE, NEGATIVE_CONTROL, NEGATIVE_TUBE), start=1
    ):
        true = _tube_events(rng, tube, events, 0.15 if cd105_fails else 0.0)
        name = f"{lot}_{number:02d}_{tube.replace(' ', '_')}.fcs"
        keywords = {
            "$CYT": "FACSCanto II",
            "$CYTSN": "V96300123",
            "$DATE": date,
            "$BTIM": f"10:{10 + 3 * number:02d}:00",
            "$ETIM": f"10:{12 + 3 * number:02d}:00",
            "$SRC": lot,
            "$FIL": name,
            "TUBE NAME": tube,
            "$TIMESTEP": "0.01",
            "$SPILLOVER": spill,
            "CREATOR": "Secretome demo",
        }
        files[name] = fcs_bytes(_measured(rng, true), keywords)
    return files


def _gating_ml() -> str:
    viable_max = round(float(_DISPLAY.apply(np.array([_VIABILITY_LIMIT]))[0]), 4)
    gates = live_single_cells(
        cells=((38000, 12000), (255000, 12000), (255000, 240000), (60000, 240000), (38000, 80000)),
        singlets=((30000, 19500), (262144, 170000), (262144, 262144), (30000, 31500)),
        viability=Dimension("PerCP-Cy5.5-A", FCS, _DISPLAY.id),
        viability_max=viable_max,
    )
    return write_gating_ml(GatingStrategy(gates, {_DISPLAY.id: _DISPLAY}))


def identity_method_settings() -> dict[str, Any]:
    """Settings of the demo's ``flow-identity`` method: strategy, panel, percentile and ISCT criteria."""
    return {
        "strategy": _gating_ml(),
        "population": "Viable",
        "markers": {
            code: {"marker": marker, "channel": channel, "tube": tube, "control": control}
            for code, (marker, channel, tube, control) in PANEL.items()
        },
        "percentile": 99.5,
        "compensation": "FCS",
        "criteria": {
            code: ({"min": 95.0} if code in ("cd73", "cd90", "cd105") else {"max": 2.0}) for code in PANEL
        },
        "min_events": 5000,
    }
