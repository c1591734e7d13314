"""Every value the schema accepts gives finite results.

A huge impression count (a daily budget of 1e300, a CPM of 1e-300) made the ads' Hill curve
inf / inf = NaN: the NaN awareness hazard wiped out organic acquisition too, with exit 0.
The curve now saturates where (A/K)^n overflows.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from sim.levers.paid_ads import hill


def _no_runtime_warnings(run: Any) -> Any:
    """Call ``run`` with numpy's overflow / invalid-value RuntimeWarnings turned into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return run()


# ----------------------------------------------------------------- the Hill curve
@pytest.mark.parametrize(
    ("adstock", "half", "shape", "expected"),
    [
        (1e300, 1e-300, 1.5, 0.002),  # (A/K)^n overflows: saturated
        (1e21, 1e-300, 2.0, 0.002),
        (2.0, 1.0, 1e300, 0.002),  # A > K with a huge shape: a step up to h_max
        (0.5, 1.0, 1e300, 0.0),  # A < K: nothing
        (0.0, 1e-300, 1.5, 0.0),  # no impressions, no effect, however small K
    ],
)
def test_hill_saturates_where_its_ratio_overflows(adstock, half, shape, expected):
    assert _no_runtime_warnings(lambda: hill(adstock, 0.002, half, shape)) == expected


def test_hill_is_unchanged_below_overflow():
    # h · r / (1 + r) as before, r = (A / K)^n: A = 3K, n = 2 gives h · 9/10
    assert hill(3.0, 0.002, 1.0, 2.0) == 0.002 * 9.0 / 10.0
