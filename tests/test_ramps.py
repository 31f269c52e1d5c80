import math

import pytest

from mtlib.training import ramps


def test_sigmoid_rampup_values():
    assert ramps.sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))        # 0.006738
    assert ramps.sigmoid_rampup(50, 100) == pytest.approx(math.exp(-1.25))    # 0.286505
    assert ramps.sigmoid_rampup(100, 100) == 1.0
    assert ramps.sigmoid_rampup(500, 100) == 1.0
    assert ramps.sigmoid_rampup(3, 0) == 1.0


def test_sigmoid_rampdown_only_in_last_steps():
    # total 1000, ramp-down over the last 200 steps: 1 until step 800, exp(-12.5) at the end
    assert ramps.sigmoid_rampdown(0, 200, 1000) == 1.0
    assert ramps.sigmoid_rampdown(800, 200, 1000) == 1.0
    assert ramps.sigmoid_rampdown(900, 200, 1000) == pytest.approx(math.exp(-12.5 * 0.25))  # 0.0439
    assert ramps.sigmoid_rampdown(1000, 200, 1000) == pytest.approx(math.exp(-12.5))


def test_linear_and_cosine():
    assert ramps.linear_rampup(25, 100) == 0.25
    assert ramps.cosine_rampdown(0, 10) == 1.0
    assert ramps.cosine_rampdown(5, 10) == pytest.approx(0.5)
    assert ramps.cosine_rampdown(10, 10) == pytest.approx(0.0)


def test_negative_length_is_rejected():
    with pytest.raises(ValueError, match="length"):
        ramps.sigmoid_rampup(1, -5)
