"""Float sums that must not depend on the Python version (3.12's ``sum()`` compensates rounding).

On Python 3.11 the built-in ``sum()`` adds left to right like :func:`sum_in_order`, so these
tests cannot tell the two apart there; on 3.12 and later they fail if a reported sum goes
back to ``sum()``. The values are chosen so that the two differ: 1e16 has a spacing of 2
between neighbouring doubles, so 1e16 + 1 rounds back to 1e16 (ties to even), while a
compensated sum of 1e16, 1 and 1 keeps both ones.
"""

from __future__ import annotations

import pytest
from protocol_lever import ProtocolOnlyLever

from sim import load_config
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


class _Costing(ProtocolOnlyLever):
    def __init__(self, label: str, cost: float) -> None:
        self.label, self.cost = label, cost

    def begin_day(self, model, weekday: int) -> None:
        self.cost_today = self.cost


def test_the_days_total_cost_adds_the_levers_up_in_their_order():
    levers = [_Costing("big", BIG), _Costing("one", 1.0), _Costing("another", 1.0)]
    population = load_config(["population.market_size=1000"]).population
    model = LifecycleModel(population, horizon_days=2, seed=0, levers=levers)
    model.step()
    model.step()
    assert model.log.columns["cost_total"].tolist() == [BIG, BIG]  # a compensated sum would give BIG + 2
    assert model.log.columns["cost_one"].tolist() == [1.0, 1.0]
