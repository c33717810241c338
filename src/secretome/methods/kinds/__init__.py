# ruff: noqa: I001  (one import line per kind, so kinds added side by side merge cleanly)
"""The built-in method kinds; each module registers its kind on import (one import line per kind)."""

from __future__ import annotations

from secretome.methods.kinds import cell_count  # noqa: F401
from secretome.methods.kinds import nta  # noqa: F401
from secretome.methods.kinds import qpcr  # noqa: F401
from secretome.methods.kinds import relative_potency  # noqa: F401
from secretome.methods.kinds import standard_curve  # noqa: F401
from secretome.methods.kinds import ido_activity  # noqa: F401
from secretome.methods.kinds import t_cell_suppression  # noqa: F401
from secretome.methods.kinds import angiogenesis  # noqa: F401
from secretome.methods.kinds import wound_healing  # noqa: F401
from secretome.methods.kinds import flow_identity  # noqa: F401
from secretome.methods.kinds import t_cell_suppression_flow  # noqa: F401
