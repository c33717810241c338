"""FCS scale decoding of one channel (FCS 3.1): log amplification, gain, time step."""

from __future__ import annotations

import numpy as np
import pytest

from secretome.analysis.flow.scale import ChannelScale


def test_a_log_amplified_channel_spans_its_decades_over_its_range() -> None:
    # $PnE = 4,1 and $PnR = 1024: channel 0 is 1, channel 1024 is 10^4, channel 256 is 10^1.
    column = np.array([0.0, 256.0, 1024.0])
    ChannelScale(decades=4.0, limit=1024.0, log_zero=1.0).apply(column)
    np.testing.assert_allclose(column, [1.0, 10.0, 10_000.0], rtol=1e-15)


def test_gain_divides_and_the_time_step_multiplies_in_place() -> None:
    column = np.array([10.0, 20.0])
    assert ChannelScale(gain=4.0).apply(column) is column
    np.testing.assert_array_equal(column, [2.5, 5.0])
    ChannelScale(factor=0.01).apply(column)
    np.testing.assert_allclose(column, [0.025, 0.05], rtol=1e-15)


def test_only_the_default_scale_is_the_identity() -> None:
    assert ChannelScale().identity
    assert not ChannelScale(factor=0.001).identity
    assert not ChannelScale(gain=2.0).identity
    assert not ChannelScale(decades=4.0, limit=1024.0).identity


@pytest.mark.parametrize(
    ("arguments", "name"),
    [({"gain": 0.0}, "gain"), ({"factor": float("nan")}, "factor"), ({"decades": 4.0}, "limit")],
)
def test_invalid_scales_are_refused_naming_the_parameter(arguments: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ChannelScale(**arguments)
