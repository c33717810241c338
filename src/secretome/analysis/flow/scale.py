"""From the values an FCS file stores to the FCS scale (FCS 3.1 section 3.3.x), one channel at a time.

Kept apart from the file reader so gating can scale only the columns and events it reads: a strategy on a
1,000,000-event file touches a few columns of each block of events while they are in cache, instead of
a float64 copy of the whole event matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChannelScale:
    """How one stored channel value becomes its FCS scale value.

    A log-amplified channel (``decades`` > 0, from ``$PnE`` = decades,log_zero with ``$PnR`` = ``limit``)
    gives 10^(decades x / limit) log_zero; any other channel gives x / ``gain`` (``$PnG``) times ``factor``
    (``$TIMESTEP`` on the time channel). The default is the identity.
    """

    #: ``$TIMESTEP`` for the time channel
    factor: float = 1.0
    #: ``$PnG`` of a linear channel
    gain: float = 1.0
    #: ``$PnE`` = decades,log_zero and ``$PnR`` = limit of a log-amplified channel
    decades: float = 0.0
    limit: float = 0.0
    log_zero: float = 1.0

    @property
    def identity(self) -> bool:
        """True when the stored value is already the FCS scale value."""
        return self.decades <= 0 and self.gain == 1.0 and self.factor == 1.0

    def apply(self, column: FloatArray) -> FloatArray:
        """Scale ``column`` (float64) in place and return it."""
        if self.decades > 0:
            column[...] = 10 ** (self.decades * column / self.limit) * self.log_zero
            return column
        if self.gain != 1.0:
            column /= self.gain
        if self.factor != 1.0:
            column *= self.factor
        return column

    def __post_init__(self) -> None:
        infinite = [(name, value) for name, value in vars(self).items() if not math.isfinite(value)]
        if infinite:
            raise ValueError(f"{infinite[0][0]}: must be finite, got {infinite[0][1]!r}")
        if self.gain == 0:
            raise ValueError("gain: must not be zero")
        if self.decades > 0 and not self.limit > 0:
            raise ValueError(f"limit: a log-amplified channel needs a positive $PnR, got {self.limit!r}")
