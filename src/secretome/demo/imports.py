"""Demo step of the instrument imports: a Vi-CELL BLU count linked to a lot, an ELISA plate (BMG MARS) read
with a versioned plate layout, and an MSC identity panel (FCS 3.1) - then the same files again, to show
that a re-import changes nothing.

The demo writes its instrument files itself (seeded, so every run gives the same bytes) in each vendor's
export layout; the real sample exports are exercised by the test suite.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from secretome.demo.context import DemoContext
from secretome.demo.instrument_files import CellCount, vi_cell_blu_csv

#: ELISA standards (pg/mL) in columns 1-2, rows A-G; H1-H2 blanks; reference and test CM in columns 3-6.
STANDARDS = [2000.0, 1000.0, 500.0, 250.0, 125.0, 62.5, 31.25]
DOSES = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125]


def _vi_cell_blu(rng: np.random.Generator) -> bytes:
    counts = []
    for index in range(1, 4):
        counts.append(
            CellCount(
                f"MSC-P{index + 2}",
                rng.uniform(1.2, 2.4),
                rng.uniform(92.0, 98.5),
                f"3/{index + 10}/2026 10:{10 + index}:00",
            )
        )
    return vi_cell_blu_csv(counts)


def _four_pl(
    x: float, bottom: float = 0.05, top: float = 2.6, ec50: float = 300.0, hill: float = 1.1
) -> float:
    return float(bottom + (top - bottom) / (1 + (ec50 / x) ** hill))


def _mars_plate(rng: np.random.Generator) -> bytes:
    grid: dict[tuple[int, int], float] = {}
    for row, level in enumerate(STANDARDS):
        for column in (0, 1):
            grid[(row, column)] = _four_pl(level) * rng.normal(1, 0.02)
    grid[(7, 0)] = grid[(7, 1)] = 0.048
    for row, dose in enumerate(DOSES):
        for column, potency in ((2, 1.0), (3, 1.0), (4, 0.85), (5, 0.85)):
            grid[(row, column)] = _four_pl(2000 * dose * potency) * rng.normal(1, 0.02)
    lines = [
        "User: DEMO,Path: C:\\Program Files (x86)\\BMG\\CLARIOstar\\User\\Data,Test run no.: 7,,,,,,,,,,,",
        "Test name: VEGF ELISA 450,Date: 03/12/2026,Time: 11:20:00,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        "ID1: CM-ELISA-001,,,,,,,,,,,,",
        "Absorbance,,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        "Raw Data (450),,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        "," + ",".join(str(c) for c in range(1, 13)),
    ]
    for row in range(8):
        cells = [f"{grid[(row, c)]:.3f}" if (row, c) in grid else "" for c in range(12)]
        lines.append(chr(ord("A") + row) + "," + ",".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _elisa_layout() -> Any:
    from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole

    wells = {}
    for row, level in enumerate(STANDARDS):
        for column in (1, 2):
            wells[f"{chr(ord('A') + row)}{column}"] = WellAssignment(WellRole.STANDARD, "VEGF std", level)
    wells["H1"] = wells["H2"] = WellAssignment(WellRole.BLANK)
    for row, dose in enumerate(DOSES):
        for column, preparation in ((3, "REF"), (4, "REF"), (5, "TEST"), (6, "TEST")):
            role = WellRole.REFERENCE if preparation == "REF" else WellRole.TEST
            wells[f"{chr(ord('A') + row)}{column}"] = WellAssignment(role, preparation, dose)
    wells["H12"] = WellAssignment(WellRole.EXCLUDED)
    return PlateLayout(
        "VEGF-ELISA-96", 96, wells, unit="pg/mL", description="standards, reference and test CM"
    )


def _identity_panel(rng: np.random.Generator) -> bytes:
    import flowio

    events = 20_000
    names = ["FSC-A", "SSC-A", "CD73-PE", "CD90-FITC", "CD105-APC", "CD45-PerCP", "HLA-DR-BV421"]
    positive = rng.lognormal(mean=9.0, sigma=0.35, size=(events, 3))
    negative = rng.lognormal(mean=5.0, sigma=0.5, size=(events, 2))
    scatter = np.column_stack([rng.normal(90_000, 12_000, events), rng.normal(40_000, 9_000, events)])
    matrix = np.column_stack([scatter, positive, negative]).astype(np.float32)
    handle = io.BytesIO()
    flowio.create_fcs(
        handle, matrix.flatten(), names, metadata_dict={"CYT": "Demo cytometer", "SRC": "MSC-P4"}
    )
    return handle.getvalue()


def import_files(ctx: DemoContext) -> None:
    """Import three instrument files (one linked to a lot, one with a plate layout), then import them again."""
    from secretome.services import genealogy, imports

    analyst = ctx.users["ana"]
    rng = np.random.default_rng(606)
    lots = genealogy.lots()
    lot = lots[0].number if lots else None
    files = [
        ("ViCell_BLU_MSC_harvest.csv", _vi_cell_blu(rng), None, lot),
        ("MARS_VEGF_ELISA_plate1.csv", _mars_plate(rng), "VEGF-ELISA-96", None),
        ("MSC_identity_panel.fcs", _identity_panel(rng), None, lot),
    ]
    layout = imports.save_layout(analyst, "demo: ELISA plate layout", _elisa_layout())
    records = []
    for name, content, layout_name, lot_number in files:
        outcome = imports.import_file_outcome(
            analyst, "demo: QC data from the instrument", name, content, layout=layout_name, lot=lot_number
        )
        records.append(outcome.record)
        ctx.say(
            f"imported {name}: {outcome.record.format}, {outcome.record.measurements.count()} measurements"
            + (f", lot {lot_number}" if lot_number else "")
        )
    repeats = [
        imports.import_file_outcome(analyst, "demo: same file again", n, c).created for n, c, _, _ in files
    ]
    tables = imports.tables_for_import(records[1], "absorbance")
    ctx.say(
        f"plate layout {layout.name} v{layout.version}: {len(tables.standards.wells)} standard wells, "
        f"{len(set(tables.potency.preparation))} preparations for potency, blank mean {tables.blank_mean:.3f}"
    )
    ctx.say(f"re-importing the same {len(files)} files created {sum(repeats)} new imports (idempotent)")
    ctx.summary["imports"] = {
        "files": [r.filename for r in records],
        "measurements": sum(r.measurements.count() for r in records),
        "reimports_created": sum(repeats),
        # The release step links QC results to these imports (raw files named by their SHA-256).
        "raw_files": dict(
            zip(
                ("cell_count", "elisa_plate", "identity_panel"),
                (r.raw_file.sha256 for r in records),
                strict=True,
            )
        ),
    }
