"""How a refused value is echoed: as the user wrote it, not as the float field holds it."""

from __future__ import annotations

import math

import pytest

from sim.base.errors import ConfigError, shown_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (8.0, "8"),  # a float field given 8 holds 8.0: it said "=8.0 is not allowed"
        (-5.0, "-5"),
        (0.0, "0"),
        (0.5, "0.5"),  # not whole: as it is
        (8, "8"),
        (2.0**53 - 1, "9007199254740991"),  # the largest whole float below the limit, to the unit
        (2.0**53, "9007199254740992.0"),  # from here a float does not hold every integer: its repr
        (1e20, "1e+20"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (True, "True"),  # not a number to reformat
        ("8.0", "'8.0'"),  # a string stays quoted
        (None, "None"),
    ],
)
def test_shown_value(value, shown):
    assert shown_value(value) == shown


def test_a_refused_whole_float_reads_as_typed_and_keeps_its_value():
    error = ConfigError("strategy.push.messages_per_week", 8.0, "a number >= 0 and <= 7")
    assert str(error) == "strategy.push.messages_per_week=8 is not allowed: a number >= 0 and <= 7"
    assert error.value == 8.0 and isinstance(error.value, float)  # what callers read is unchanged
