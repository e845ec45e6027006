"""Fixtures for the losses tests: float64 gradient checks against central differences.

Losses keep float64 inputs in float64 (everything else computes in float32), so gradients are
compared with finite differences at float64 precision.
"""

import numpy as np
import pytest

from tests.losses.gradients import numeric_gradient, tape_gradient


@pytest.fixture
def assert_gradient_matches():
    """``check(fn, x)``: the tape gradient of scalar ``fn`` at float64 ``x`` equals the
    central-difference one."""

    def check(fn, x, eps=1e-6, rtol=1e-5, atol=1e-8):
        x = np.asarray(x, np.float64)
        _, grad = tape_gradient(fn, x)
        np.testing.assert_allclose(grad, numeric_gradient(fn, x, eps), rtol=rtol, atol=atol)

    return check


@pytest.fixture
def value_and_gradient():
    """``value_and_gradient(fn, x)`` -> (value, d value / d x) as NumPy."""
    return tape_gradient
