"""The built-in method kinds; each module registers its kind on import (one import line per kind)."""

from __future__ import annotations

from secretome.methods.kinds import flow_identity  # noqa: F401
