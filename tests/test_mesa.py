"""Users are Mesa agents: AgentSet and DataCollector read the vectorized state."""

from __future__ import annotations

from collections import Counter

import mesa
import numpy as np
import pytest

from sim import Stage, UserLifecycleModel


@pytest.fixture
def stepped_model(small_preset):
    model = UserLifecycleModel(small_preset("consumer_app", market_size=2000, days=40, agents="all"))
    for _ in range(40):
        model.step()
    return model


def test_every_slot_is_an_agent_and_agentset_reads_the_arrays(stepped_model):
    model = stepped_model
    assert len(model.agents) == model.market_size
    counts = model.agents.groupby("stage").count()
    assert {Stage(k): v for k, v in counts.items()} == {
        Stage(code): int(n) for code, n in enumerate(model.stage_counts) if n
    }
    activated = model.agents.select(lambda a: a.stage == Stage.ACTIVATED)
    assert len(activated) == model.stage_counts[Stage.ACTIVATED]
    assert model.agents.agg("habit", np.mean) == pytest.approx(float(model.population.habit.mean()), rel=1e-5)
    acquired = model.agents.select(lambda a: a.acquired)
    assert len(acquired) == int((model.population.acquired_day >= 0).sum())
    assert Counter(a.segment for a in acquired) == Counter(
        model.segments.names[s] for s in model.population.segment[model.population.acquired_day >= 0]
    )
    assert set(model.agents.get("channel")) <= {None, "organic", "word_of_mouth"}


def test_datacollector_model_and_agent_reporters(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=500, days=10, agents="all"))
    collector = mesa.DataCollector(
        model_reporters={"DAU": "dau", "MAU": lambda m: m.mau, "revenue": "revenue"},
        agent_reporters={"stage": lambda a: a.stage.name},
    )
    for _ in range(10):
        model.step()
        collector.collect(model)
    frame = collector.get_model_vars_dataframe()
    assert frame["DAU"].tolist() == model.log.columns["dau"][:10].tolist()
    assert frame["MAU"].iloc[-1] == model.mau
    agents = collector.get_agent_vars_dataframe()
    last = agents.xs(agents.index.get_level_values(0).max(), level=0)
    assert (last["stage"] == "UNAWARE").sum() == model.stage_counts[Stage.UNAWARE]
    assert model.steps == 10  # Mesa counts the wrapped step


def test_large_market_creates_agents_only_on_demand(small_preset):
    model = UserLifecycleModel(small_preset("consumer_app", market_size=200_000, days=5))
    assert len(model.agents) == 0
    for _ in range(5):
        model.step()
    user = model.user(123)
    assert model.user(123) is user and len(model.agents) == 1
    assert user.churn_hazard == pytest.approx(float(model.population.churn_hazard[123]))
    assert user.stage == Stage(int(model.population.stage[123]))
    with pytest.raises(IndexError, match="slot=200000 is out of range"):
        model.user(200_000)


def test_reference_stepping_refuses_huge_markets(small_preset):
    with pytest.raises(ValueError, match="too large for reference stepping"):
        UserLifecycleModel(small_preset("game", market_size=300_000), reference=True)


def test_stepping_past_the_horizon_is_an_error(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=2))
    model.step()
    model.step()
    with pytest.raises(RuntimeError, match="horizon_days=2 reached"):
        model.step()
