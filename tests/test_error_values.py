"""How a refused value is echoed: as the user wrote it, not as the float field holds it."""

from __future__ import annotations

import math
import pickle

import pytest

import sim
from sim.base.errors import ConfigError, MemoryLimitError, shown_value


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


@pytest.mark.parametrize(
    ("call", "line"),
    [
        # a true/false key refused 1.0 as "figures=1 is not allowed: true or false (or 1/0, ...)": it named 1
        (lambda: sim.load_config({"figures": 1.0}), "figures=1.0 is not allowed: true or false"),
        (lambda: sim.simulate(["horizon_days=3"], progress=1.0), "progress=1.0 is not allowed: True or False"),
        (lambda: sim.UserLifecycleModel(reference=0.0), "reference=0.0 is not allowed: True or False"),
        # the other side: a float field's refusal shows what was typed (8, not 8.0)
        (lambda: sim.load_config(["strategy.push.messages_per_week=8"]), "messages_per_week=8 is not allowed"),
    ],
)
def test_a_true_or_false_refusal_shows_the_float_it_refused(call, line):
    with pytest.raises(ConfigError) as info:
        call()
    assert line in str(info.value)


def test_an_exact_error_survives_pickling_as_sweeps_send_it():
    for error in (ConfigError("figures", 1.0, "true or false", exact=True), MemoryLimitError("n", 2.0, "less")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error) and back.exact == error.exact
