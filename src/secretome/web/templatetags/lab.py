"""Template filters that print numbers the way a laboratory reads them."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django import template

from secretome.domain.specification import format_number

register = template.Library()


@register.filter
def significant(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, as certificates print numbers (``5.91 × 10¹²``)."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return str(value)
    return format_number(Decimal(f"{number:.{int(digits)}g}"))
