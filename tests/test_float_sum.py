"""Float sums that must not depend on the Python version (3.12's ``sum()`` compensates rounding).

On Python 3.11 the built-in ``sum()`` adds left to right like :func:`sum_in_order`; the tests
of reported totals therefore run with 3.12's ``sum()`` put in its place
(:func:`compensated_sum.sum_as_in_python_312`), so that they fail on every version if a
total goes back to ``sum()``. The values are chosen so that the two differ: 1e16 has a
spacing of 2 between neighbouring doubles, so 1e16 + 1 rounds back to 1e16 (ties to
even), while a compensated sum of 1e16, 1 and 1 keeps both ones.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import replace

import numpy as np
import pytest
from compensated_sum import compensated_sum, sum_as_in_python_312
from protocol_lever import ProtocolOnlyLever

from sim import load_config
from sim.app.calibrate import base_parameters
from sim.app.plan import _choose
from sim.app.plan_config import PlanConfig
from sim.base.float_sum import sum_in_order
from sim.core.model import LifecycleModel

BIG = 1e16  # neighbouring doubles are 2 apart here


@pytest.mark.parametrize(
    ("values", "start", "expected"),
    [
        ([BIG, 1.0, 1.0], 0.0, BIG),  # each 1 is rounded away in turn
        ([1.0, 1.0, BIG], 0.0, BIG + 2.0),  # the ones first: 2 survives (BIG + 2 is a double)
        ([1.0, BIG], 1.0, BIG + 2.0),  # start + 1 = 2, then BIG
        ([], 2.5, 2.5),
        ([0.1, 0.2], 0.0, 0.30000000000000004),
    ],
)
def test_floats_are_added_left_to_right_each_addition_rounded(values, start, expected):
    assert sum_in_order(values, start) == expected


@pytest.mark.parametrize(
    ("values", "start", "expected"),
    [
        ([BIG, 1.0, 1.0], 0.0, BIG + 2.0),  # both ones kept in the compensation
        ([BIG, 1.0, 1.0], 0, BIG + 2.0),  # 0 + BIG plainly, then the ones compensated
        ([BIG, 1, 1], 0.0, BIG),  # int items of a float sum are added plainly
        ([BIG, True, 1.0, 1.0], 0, BIG + 2.0),  # so is a bool; the float ones are compensated
        ([1, 2, True], 0, 3 + 1),  # ints and bools only: exact, an int
        ([BIG, 1.0, 1.0, np.float64(0.0)], 0, BIG + 2.0),  # the compensation is kept before a numpy float
        ([BIG, 1.0, 1.0], True, BIG),  # a bool start: plain additions
        ([2**63, -(2**63), BIG, 1.0, 1.0], 0, BIG),  # past a C long the total is a Python int: plain from there
        ([2**64, -(2**64), BIG, 1.0, 1.0], 0.0, BIG),  # a float sum meeting an int past a C long: plain from there
        ([], 2.5, 2.5),
        ([0.1, 0.2, 0.3], 0.0, 0.6),  # left to right gives 0.6000000000000001
        ([-0.0], -0.0, -0.0),
    ],
)
def test_the_stand_in_for_python_312s_sum_compensates_float_rounding(values, start, expected):
    got = compensated_sum(values, start)
    assert got == expected
    assert type(got) is type(expected) or isinstance(got, np.float64)
    assert math.copysign(1.0, got) == math.copysign(1.0, expected)


@pytest.mark.skipif(
    not (3, 12) <= sys.version_info < (3, 14),
    reason="compares with the built-in sum() of Python 3.12 and 3.13 (3.14 also compensates int items)",
)
def test_the_stand_in_gives_the_builtin_sums_of_python_312_and_313():
    rng = random.Random(0)
    pool = [BIG, 1.0, -1.0, 0.1, 1e-16, 3, -7, True, False, 2**63, -(2**64), np.float64(0.5), float("inf")]
    for _ in range(5000):
        values = [
            rng.choice([*pool, rng.uniform(-1e6, 1e6), rng.random() * 10.0 ** rng.randint(-20, 20)])
            for _ in range(rng.randint(0, 8))
        ]
        start = rng.choice([0, 0.0, 1.5, 2, True, 2**64])
        want, got = sum(values, start), compensated_sum(values, start)
        assert (got == want or (math.isnan(got) and math.isnan(want))) and type(got) is type(want), (values, start)


def test_sum_as_in_python_312_puts_the_stand_in_in_place_of_the_builtin_only_within_the_block():
    assert sum([BIG, 1.0, 1.0]) == (BIG + 2.0 if sys.version_info >= (3, 12) else BIG)
    with sum_as_in_python_312():
        assert sum([BIG, 1.0, 1.0]) == BIG + 2.0
    assert sum([BIG, 1.0, 1.0]) == (BIG + 2.0 if sys.version_info >= (3, 12) else BIG)


class _Costing(ProtocolOnlyLever):
    def __init__(self, label: str, cost: float) -> None:
        self.label, self.cost = label, cost

    def begin_day(self, model, weekday: int) -> None:
        self.cost_today = self.cost


def test_the_days_total_cost_adds_the_levers_up_in_their_order():
    levers = [_Costing("big", BIG), _Costing("one", 1.0), _Costing("another", 1.0)]
    population = load_config(["population.market_size=1000"]).population
    model = LifecycleModel(population, horizon_days=2, seed=0, levers=levers)
    with sum_as_in_python_312():  # so that sum() would give BIG + 2 on 3.11 too
        model.step()
        model.step()
    assert model.log.columns["cost_total"].tolist() == [BIG, BIG]  # a compensated sum would give BIG + 2
    assert model.log.columns["cost_one"].tolist() == [1.0, 1.0]


def test_the_calibrations_segment_shares_divide_by_the_weights_added_left_to_right():
    population = load_config([]).population
    segments = dict(zip(("a", "b", "c"), [next(iter(population.segments.values()))] * 3, strict=True))
    weights = {"a": 0.1, "b": 0.2, "c": 0.3}  # left to right 0.6000000000000001; compensated 0.6
    population = replace(population, segments={k: replace(s, weight=weights[k]) for k, s in segments.items()})
    with sum_as_in_python_312():
        shares = base_parameters(population)
    total = (0.1 + 0.2) + 0.3
    assert total == 0.6000000000000001
    assert [shares[f"{k}.weight"] for k in weights] == [w / total for w in weights.values()]
    assert shares["a.weight"] != 0.1 / 0.6  # what a compensated total would give


def test_the_least_infeasible_plan_adds_each_plans_violations_left_to_right():
    """Plan A breaks three constraints by 0.1, 0.2 and 0.3 (left to right 0.6000000000000001,
    compensated 0.6), plan B one by 0.6: added left to right A breaks them more, so B is chosen;
    a compensated sum would tie them and keep the first, A."""
    a = {"name": "A", "feasible": False, "score": 1.0, "constraint:x": 0.1, "constraint:y": 0.2, "constraint:z": 0.3}
    b = {"name": "B", "feasible": False, "score": 1.0, "constraint:x": 0.6, "constraint:y": -1.0, "constraint:z": 0.0}
    with sum_as_in_python_312():
        chosen, message = _choose([a, b], PlanConfig())
    assert chosen["name"] == "B"
    assert message is not None and "(it breaks: x)" in message
