"""Users are Mesa agents: AgentSet and DataCollector read the vectorized state."""

from __future__ import annotations

from collections import Counter

import mesa
import numpy as np
import pandas as pd
import pytest

from sim import ConfigError, Stage, UserLifecycleModel, load_config


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


def test_a_refused_day_leaves_mesas_clock_and_later_refusals_still_raise(small_preset):
    """Refused before Mesa's step: its step count stays, and Mesa 3.4+ (which schedules each next
    step only after one that returned) cannot turn a later call into a silent no-op."""
    model = UserLifecycleModel(small_preset("game", market_size=100, days=2))
    model.step()
    model.step()
    assert model.steps == 2
    for _ in range(2):
        with pytest.raises(RuntimeError, match="horizon_days=2 reached"):
            model.step()
    assert model.steps == 2


def test_a_day_that_raised_is_refused_on_every_later_call(small_preset, monkeypatch):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=5))
    model.step()
    monkeypatch.setattr(model, "_step_day", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        model.step()
    monkeypatch.undo()
    for _ in range(2):  # with Mesa 3.4+ stepping on would otherwise do nothing, silently
        with pytest.raises(RuntimeError, match=r"^day 1 failed \(division by zero\): this model is part-way"):
            model.step()
    assert model.day == 1


class _MesaStepAfterAFailure:
    """Mesa 3.4+'s step once a step raised (or past the schedule's end): it steps nothing, silently.

    Put in place of the model's ``_mesa_step`` (Mesa's own wrapper), so that on Mesa 3.3 too the
    model must refuse such a day itself, before Mesa's step is called.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_a_day_past_the_horizon_is_refused_before_mesas_step(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=1))
    model.step()
    model._mesa_step = silent = _MesaStepAfterAFailure()
    with pytest.raises(RuntimeError, match="horizon_days=1 reached"):
        model.step()
    assert silent.calls == 0


def test_a_day_after_one_that_raised_is_refused_before_mesas_step(small_preset, monkeypatch):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=5))
    with monkeypatch.context() as patch:
        patch.setattr(model, "_step_day", lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            model.step()
    model._mesa_step = silent = _MesaStepAfterAFailure()
    with pytest.raises(RuntimeError, match=r"^day 0 failed \(division by zero\)"):
        model.step()
    assert silent.calls == 0


def test_a_day_that_can_be_stepped_goes_through_mesas_step(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=5))
    mesas = model._mesa_step
    model._mesa_step = counted = _MesaStepAfterAFailure()
    model.step()
    assert counted.calls == 1 and model.day == 0  # Mesa's step (here a stand-in) steps the day
    model._mesa_step = mesas
    model.step()
    assert model.day == 1 and model.steps == 1


# ------------------------------------------------------------- Mesa conventions
REPORTED_STAGES = ("unaware", "aware", "new", "retained", "activated", "dormant", "churned")


def _paid_model(days=15, **params):
    return UserLifecycleModel(
        population="game", strategy="paid_growth", horizon_days=days, population__market_size=2000, **params
    )


def test_datacollector_rows_are_the_daily_log_with_the_starting_market_first():
    model = _paid_model(rng=5)
    model.run_model()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == model.horizon + 1  # collected when built and after each of the 15 days
    start = frame.iloc[0]
    assert start["unaware"] == model.market_size
    assert (start.drop("unaware") == 0).all()
    log = model.log.columns
    renamed = {"cost": "cost_total"}
    for name in (*REPORTED_STAGES, "new_users", "dau", "wau", "mau", "revenue", "cost"):
        assert frame[name].iloc[1:].tolist() == log[renamed.get(name, name)].tolist(), name
    assert frame["cost"].iloc[1:].sum() > 0  # paid ads cost money every day: a real column, not zeros
    assert frame[list(REPORTED_STAGES)].iloc[1:].sum(axis=1).eq(model.market_size).all()


def test_agent_reporters_are_collected_at_the_same_moments_as_the_model_reporters(small_preset):
    model = UserLifecycleModel(
        small_preset("consumer_app", market_size=300, days=12, agents="all"), agent_reporters={"stage": "stage"}
    )
    model.run_model()
    agents = model.datacollector.get_agent_vars_dataframe()
    frame = model.datacollector.get_model_vars_dataframe()
    for step in (0, 1, 6, 12):
        counts = agents.xs(step, level="Step")["stage"].map(lambda s: Stage(s).name.lower()).value_counts()
        expected = {k: v for k, v in frame.loc[step, list(REPORTED_STAGES)].items() if v}
        assert counts.to_dict() == expected, step


def test_running_turns_false_exactly_at_the_horizon(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=200, days=3))
    assert model.running
    model.step()
    model.step()
    assert model.running
    model.step()
    assert not model.running and model.steps == 3
    with pytest.raises(RuntimeError, match="horizon_days=3 reached"):
        model.step()


def test_keyword_construction_is_the_same_as_overrides():
    model = _paid_model(days=30, rng=42)
    expected = load_config(
        ["population=game", "strategy=paid_growth", "horizon_days=30", "seed=42", "population.market_size=2000"]
    )
    assert model.config == expected
    assert model.horizon == 30 and model.market_size == 2000 and [lv.label for lv in model.levers]


def test_keywords_apply_over_a_given_config(small_preset):
    base = small_preset("ecommerce", market_size=1000, days=10)
    model = UserLifecycleModel(base, horizon_days=4, seed=9, **{"population.awareness.p": 0.05})
    assert (model.horizon, model.seed, model.population_config.awareness.p) == (4, 9, 0.05)
    assert model.config.population.segments == base.population.segments
    switched = UserLifecycleModel(base, population="game")
    assert switched.config.population.name == "game"  # the preset replaces the population whole
    assert list(switched.config.population.segments) == ["tourists", "players"]


def test_seed_and_rng_are_the_same_seed_and_cannot_both_be_given():
    by_seed, by_rng = _paid_model(days=5, seed=3), _paid_model(days=5, rng=3)
    by_seed.run_model()
    by_rng.run_model()
    assert by_seed.config.seed == by_rng.config.seed == 3
    assert by_seed.log.columns["dau"].tolist() == by_rng.log.columns["dau"].tolist()
    with pytest.raises(ValueError, match="either rng or seed, not both"):
        _paid_model(seed=1, rng=1)
    with pytest.raises(ValueError, match=r"rng=Generator.* a whole number >= 0"):
        _paid_model(rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"population.markt_size=.* unknown key in population"):
        UserLifecycleModel(population__markt_size=10)


def test_batch_run_returns_one_row_per_run_and_step_with_the_models_own_data():
    days = 6
    parameters = {
        "population": "game",
        "population.market_size": 1500,
        "horizon_days": days,
        "strategy": ["baseline", "paid_growth"],
        "rng": range(2),
    }
    rows = mesa.batch_run(
        UserLifecycleModel,
        parameters=parameters,
        iterations=2,
        max_steps=100,  # more than the horizon: the model stops itself (running turns False)
        data_collection_period=1,
        display_progress=False,
    )
    table = pd.DataFrame(rows)
    runs = table.groupby("RunId")
    assert runs.ngroups == 2 * 2 * 2  # strategies x seeds x iterations
    # Mesa 3.3.1 reports collections 0 … model.steps - 1 (mesa issue #2514): the state before
    # day 0 and after days 1 … 5; newer Mesa adds the last one.
    assert all(sorted(g["Step"]) in (list(range(days)), list(range(days + 1))) for _, g in runs)
    for (strategy, seed), group in table.groupby(["strategy", "rng"]):
        model = UserLifecycleModel(
            population="game", strategy=strategy, horizon_days=days, rng=seed, **{"population.market_size": 1500}
        )
        model.run_model()
        expected = model.datacollector.get_model_vars_dataframe()
        for _, row in group.iterrows():  # both iterations: the same seed gives the same run
            assert row[expected.columns].tolist() == expected.loc[row["Step"]].tolist()
        assert (group["cost"] > 0).any() == (strategy == "paid_growth")


def test_a_released_model_steps_no_further_day(small_preset):
    model = UserLifecycleModel(small_preset("game", market_size=100, days=5))
    model.step()
    model.release()
    with pytest.raises(RuntimeError, match=r"^this model was released: build a new model to step$"):
        model.step()
    assert model.day == 1


def test_numpy_numbers_are_config_values_as_keywords_and_in_batch_run():
    """``np.int64`` keywords and ``np.linspace`` batch_run parameters are the numbers they hold."""
    model = UserLifecycleModel(horizon_days=np.int64(10), population__market_size=np.int64(2000), threads=1)
    assert (model.config.horizon_days, model.config.population.market_size) == (10, 2000)
    built: list = []

    class Recording(UserLifecycleModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.config)

    mesa.batch_run(
        Recording,
        parameters={
            "economics.margin": np.linspace(0.2, 0.4, 2),
            "population.market_size": 2000,
            "horizon_days": np.int64(3),
            "threads": 1,
        },
        max_steps=3,
        display_progress=False,
    )
    assert sorted(c.economics.margin for c in built) == [0.2, 0.4]
    assert all(type(c.economics.margin) is float and c.horizon_days == 3 for c in built)


@pytest.mark.parametrize(("keyword", "given"), [("reference", "no"), ("keep_events", "yes"), ("keep_events", 2)])
def test_a_true_false_argument_of_the_model_that_is_not_a_bool_is_refused(keyword, given):
    with pytest.raises(ConfigError) as info:
        UserLifecycleModel(population__market_size=2000, horizon_days=5, **{keyword: given})
    assert str(info.value) == f"{keyword}={given!r} is not allowed: True or False (or 1/0)"


@pytest.mark.parametrize(("given", "kept"), [(np.False_, False), (0, False), (True, True), (1, True)])
def test_keep_events_takes_a_bool_1_or_0(given, kept):
    model = UserLifecycleModel(population="game", population__market_size=5000, horizon_days=5, keep_events=given)
    model.run_model()
    assert model.record_events is kept
    assert (model.events()[0].size > 0) is kept  # the game's 5 days have visits to keep
