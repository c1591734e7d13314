"""opsim-plan end to end: a known optimum, the budget, risk, determinism, resume, bad input, outputs.

Plans here run on a small sample of consumer_app's market (each simulated user standing
for many) over short horizons, so a trial costs a fraction of a second.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import ConfigError
from sim.app.config import compose
from sim.app.plan import Planner, drop_torn_record, main, make_plan, search, write_plan
from sim.app.plan_config import (
    PLAN_CONFIG_NAME,
    VariableConfig,
    ad_spend_every_plan_has,
    check_plan,
    load_plan_config,
    register_plan_schema,
)
from sim.app.plan_eval import LocalEvaluator

TINY = [
    "population.sample_size=5000",
    "horizon_days=60",
    "strategy.spend_window.end_day=29",
    "plan.seeds=2",
    "plan.trials=8",
    "plan.response_levels=4",
    "progress=false",
]
ADS_ONLY = {
    "search": VariableConfig(key="strategy.paid_ads.search.daily_budget", low=0, high=1500),
    "social": VariableConfig(key="strategy.paid_ads.social.daily_budget", low=0, high=1500),
}


def _load(*overrides: str):
    register_plan_schema()
    return load_plan_config(compose([*TINY, *overrides], config_name=PLAN_CONFIG_NAME))


#: The same two channels searched on a log scale from 10 USD a day.
ADS_LOG_SCALE = {name: replace(var, low=10.0, log=True) for name, var in ADS_ONLY.items()}


def _ads_plan(*overrides: str, variables=ADS_ONLY, **plan_fields):
    run, plan = _load(*overrides)
    plan = replace(plan, variables=dict(variables), **plan_fields)
    return run, check_plan(plan, run)


def _study_best(run, plan, out: Path, workers: int = 1):
    from sim.app.plan import _choose, _open_study, _trial_rows

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    planner = Planner(run, plan, LocalEvaluator(workers))
    study = _open_study(out, run, plan)
    search(study, planner, Bar())
    chosen, _message = _choose(_trial_rows(study, run, plan), plan)
    return chosen, study


@pytest.mark.slow
def test_the_plan_finds_the_optimum_of_two_saturating_ad_channels(tmp_path):
    """Two channels with Hill saturation and different prices (search: CPM 25, social: CPM 6).

    A grid of daily budgets (step 75, every point within the budget) on the same seeds gives
    the best incremental profit; the planner, searching freely, must come within 2 % of it
    without breaking the budget. Both are evaluated on the same two seeds, so the comparison
    is paired and the grid is an exact reference for those seeds.
    """
    run, plan = _ads_plan(
        "population.sample_size=20000",
        "horizon_days=120",
        "strategy.spend_window.end_day=59",
        budget=60_000.0,
        trials=40,
    )
    planner = Planner(run, plan, LocalEvaluator(2))
    per_day = plan.budget / 60
    grid = [
        {"search": float(s), "social": float(t)}
        for s in np.arange(0, 1501, 75)
        for t in np.arange(0, 1501, 75)
        if s + t <= per_day + 1e-9
    ]
    scores = [c.score for c in planner.evaluate(grid)]
    best_grid = max(scores)
    chosen, _study = _study_best(run, plan, tmp_path / "plan", workers=2)
    assert chosen["spend"] <= plan.budget + 1e-6
    assert chosen["score"] >= best_grid - 0.02 * abs(best_grid), (chosen["score"], best_grid)


def test_same_plan_whatever_runs_it_and_twice_the_same(tmp_path):
    run, plan = _ads_plan(budget=15_000.0)
    one, _ = _study_best(run, plan, tmp_path / "one", workers=1)
    two, _ = _study_best(run, plan, tmp_path / "two", workers=2)
    again, _ = _study_best(run, plan, tmp_path / "again", workers=1)
    params = [{k: v for k, v in r.items() if k.startswith("param:")} for r in (one, two, again)]
    assert params[0] == params[1] == params[2]
    assert one["score"] == two["score"] == again["score"]


class _Interrupted(Exception):
    pass


class _DiesOnCall:
    """An evaluator that dies on its n-th call, as a killed process would: nothing is told."""

    def __init__(self, n: int) -> None:
        self.inner, self.n, self.workers = LocalEvaluator(1), n, 1

    def map(self, tasks):
        self.n -= 1
        if self.n == 0:
            raise _Interrupted
        return self.inner.map(tasks)

    def close(self):
        pass


def test_a_study_interrupted_mid_batch_resumes_to_the_uninterrupted_plan(tmp_path):
    """Killed while evaluating its third batch (trials 8–11 asked, none told), then run again."""
    run, plan = _ads_plan(budget=15_000.0, trials=16)
    uninterrupted, _ = _study_best(run, plan, tmp_path / "whole")

    from sim.app.plan import _open_study

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    out = tmp_path / "killed"
    with pytest.raises(_Interrupted):
        planner = Planner(run, plan, _DiesOnCall(4))  # call 1: baseline; 2, 3: batches 0, 1; 4: dies
        search(_open_study(out, run, plan), planner, Bar())
    from optuna.trial import TrialState

    left = _open_study(out, run, plan).get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in left) == 8
    assert sum(t.state == TrialState.RUNNING for t in left) == 4
    resumed, _ = _study_best(run, plan, out)
    assert {k: v for k, v in resumed.items() if k.startswith("param:")} == {
        k: v for k, v in uninterrupted.items() if k.startswith("param:")
    }
    assert resumed["score"] == uninterrupted["score"]


class _CtrlCOnCall(_DiesOnCall):
    """An evaluator whose n-th call is interrupted by Ctrl-C."""

    def map(self, tasks):
        try:
            return super().map(tasks)
        except _Interrupted:
            raise KeyboardInterrupt from None


def _interrupted_plan(argv: list[str], capsys) -> list[str]:
    """``opsim-plan`` stopped by Ctrl-C: its exit code must be 130; the lines it printed."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 130
    return capsys.readouterr().err.strip().splitlines()


PLAN_FILES = ("plan.json", "trials.parquet", "best_strategy.yaml", "report.html")


def test_ctrl_c_says_how_many_trials_are_kept_and_the_same_command_goes_on(tmp_path, capsys, monkeypatch):
    out = tmp_path / "plan"
    argv = [*TINY, f"hydra.run.dir={out}", "plan.trials=6", "plan.batch_size=2"]
    # call 1: the baseline; 2, 3: trials 0-1, 2-3; 4: trials 4-5, interrupted (asked, so in the study as running)
    monkeypatch.setattr("sim.app.plan.make_evaluator", lambda _plan: _CtrlCOnCall(4))
    assert _interrupted_plan(argv, capsys) == [
        f"opsim-plan: interrupted: 4 of 6 trials finished; they are kept in {out / 'study.journal'}; "
        "run the same command again to go on from there (they are not run again)"
    ]
    assert not [name for name in PLAN_FILES if (out / name).exists()]
    from sim.app.plan import _finished_trials

    assert _finished_trials(tmp_path / "study.journal") == 0 and not (tmp_path / "study.journal").exists()
    (tmp_path / "study.journal").write_text('{"op_code": 0, "wor')  # a record cut off: not counted, not guessed
    assert _finished_trials(tmp_path / "study.journal") is None
    from sim.app.plan import _interrupted_line

    _run, plan = _load("plan.trials=6")
    assert _interrupted_line(tmp_path, plan, writing=False) == (
        f"opsim-plan: interrupted: the finished trials are kept in {tmp_path / 'study.journal'}; "
        "run the same command again to go on from there (they are not run again)"
    )
    monkeypatch.undo()
    main(argv)
    assert sorted(pd.read_parquet(out / "trials.parquet")["trial"]) == list(range(6))


@pytest.mark.parametrize(
    ("trials", "kept"),
    [
        (2, "the study's 4 trials finished (more than plan.trials=2); they are kept in"),  # it said "4 of 2"
        (4, "4 of 4 trials finished; they are kept in"),  # the other side: as many as asked
    ],
)
def test_ctrl_c_after_a_rerun_with_fewer_trials_says_how_many_the_study_keeps(
    tmp_path, capsys, monkeypatch, trials, kept
):
    out = tmp_path / "plan"
    argv = [*TINY, f"hydra.run.dir={out}", "plan.batch_size=2"]
    main([*argv, "plan.trials=4"])
    capsys.readouterr()
    # call 1: the baseline; no trial is added; 2: the plan's evaluation, interrupted
    monkeypatch.setattr("sim.app.plan.make_evaluator", lambda _plan: _CtrlCOnCall(2))
    assert _interrupted_plan([*argv, f"plan.trials={trials}"], capsys)[-1] == (
        f"opsim-plan: interrupted: {kept} {out / 'study.journal'}; "
        "run the same command again to go on from there (they are not run again)"
    )


def test_ctrl_c_while_writing_the_plan_or_in_response_mode_or_before_it_started_says_so(tmp_path, capsys, monkeypatch):
    def ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt

    def fails_as_ctrl_c_unwinds(*_args, **_kwargs):  # a finally block that fails while Ctrl-C passes through it
        try:
            raise KeyboardInterrupt
        finally:
            raise OSError(5, "Input/output error")

    out = tmp_path / "writing"
    with monkeypatch.context() as mp:
        mp.setattr("sim.app.plan.write_plan", fails_as_ctrl_c_unwinds)
        assert _interrupted_plan([*TINY, f"hydra.run.dir={out}", "plan.trials=2", "plan.batch_size=2"], capsys) == [
            f"opsim-plan: interrupted while the plan's files were being written in {out}: all of the plan's files "
            "or none were replaced; run the same command again to write them all"
        ]
    out = tmp_path / "baseline"
    with monkeypatch.context() as mp:
        mp.setattr("sim.app.plan.make_evaluator", lambda _plan: _CtrlCOnCall(1))  # call 1: the baseline
        assert _interrupted_plan([*TINY, f"hydra.run.dir={out}", "plan.trials=2", "plan.batch_size=2"], capsys) == [
            "opsim-plan: interrupted: no trial of 2 had finished; run the same command again to start them"
        ]
    out = tmp_path / "response"
    with monkeypatch.context() as mp:
        mp.setattr("sim.app.plan.make_evaluator", lambda _plan: _CtrlCOnCall(2))
        assert _interrupted_plan([*TINY, f"hydra.run.dir={out}", "plan.mode=response"], capsys) == [
            "opsim-plan: interrupted: the response curves were not finished and nothing was written; "
            "run the same command again to redo them"
        ]
    assert not [name for name in (*PLAN_FILES, "study.journal") if (out / name).exists()]
    with monkeypatch.context() as mp:
        mp.setattr("sim.app.hydra_runner.run_hydra", ctrl_c)
        assert _interrupted_plan([*TINY, f"hydra.run.dir={tmp_path / 'none'}"], capsys) == [
            "opsim-plan: interrupted before the plan started; run the same command again"
        ]


class _DiskFullOnCall(_DiesOnCall):
    """An evaluator whose n-th call fails as a full disk would fail the study's journal."""

    def __init__(self, n: int, journal: Path) -> None:
        super().__init__(n)
        self.journal = journal

    def map(self, tasks):
        try:
            return super().map(tasks)
        except _Interrupted:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.journal)) from None


def _failed_plan(argv: list[str], capsys) -> list[str]:
    """``opsim-plan`` stopped by an error: exit 1, no traceback; the lines it printed."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


def test_a_full_disk_or_an_unusable_folder_is_one_line_that_says_what_is_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"
    journal = out / "study.journal"
    argv = [*TINY, f"hydra.run.dir={out}", "plan.trials=6", "plan.batch_size=2"]
    # call 1: the baseline; 2: trials 0-1; 3: fails
    with monkeypatch.context() as mp:
        mp.setattr("sim.app.plan.make_evaluator", lambda _plan: _DiskFullOnCall(3, journal))
        assert _failed_plan(argv, capsys) == [
            f"opsim-plan: error: cannot write {journal}: No space left on device; 2 of 6 trials finished; they are "
            f"kept in {journal}; run the same command again to go on from there (they are not run again)"
        ]
    assert not [name for name in PLAN_FILES if (out / name).exists()]

    import sim.output.files

    real_write_all = sim.output.files.write_all

    def frontier_meets_a_full_disk(files):  # the real all-or-nothing write; the frontier's write fails
        def full(temporary):
            raise OSError(errno.ENOSPC, "No space left on device", str(temporary))

        real_write_all({path: full if path.name == "frontier.parquet" else write for path, write in files.items()})

    said = [
        f"opsim-plan: error: cannot write {out / 'frontier.parquet'}: No space left on device; all of the plan's "
        "files or none were replaced; run the same command again to write them all"
    ]
    with monkeypatch.context() as mp:
        mp.setattr(sim.output.files, "write_all", frontier_meets_a_full_disk)
        assert _failed_plan(argv, capsys) == said
    assert not [name for name in PLAN_FILES if (out / name).exists()]  # none written, not even the first ones
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".hydra"]  # no temporaries
    main(argv)  # room again: the same command goes on from the 6 trials and writes the plan
    assert sorted(pd.read_parquet(out / "trials.parquet")["trial"]) == list(range(6))
    written = {name: (out / name).stat().st_ino for name in PLAN_FILES}
    with monkeypatch.context() as mp:
        mp.setattr(sim.output.files, "write_all", frontier_meets_a_full_disk)
        assert _failed_plan(argv, capsys) == said
    assert {name: (out / name).stat().st_ino for name in PLAN_FILES} == written  # the earlier plan, untouched

    (tmp_path / "a_file").write_text("not a folder")
    cannot = tmp_path / "a_file" / "plan"
    assert _refused_plan([*TINY, f"hydra.run.dir={cannot}"], capsys) == (  # refused before anything runs: exit 2
        f"opsim-plan: error: hydra.run.dir='{cannot}' is not allowed: a folder to write the results into "
        f"({tmp_path / 'a_file'} is a file)"
    )

    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("a bug keeps its traceback")

    with monkeypatch.context() as mp:
        mp.setattr("sim.app.plan.write_plan", bug)
        with pytest.raises(ZeroDivisionError):
            main([*TINY, f"hydra.run.dir={tmp_path / 'bug'}", "plan.trials=2", "plan.batch_size=2"])


def test_a_bad_plan_config_reaching_the_task_is_one_line_and_exit_2(capsys):
    """The task's own check (main checks first; a config that changed on the way still meets this one)."""
    from sim.app.plan import _task

    register_plan_schema()
    with pytest.raises(SystemExit) as info:
        _task(compose([*TINY, "plan.budget=0"], config_name=PLAN_CONFIG_NAME))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("opsim-plan: error: ") and "plan.budget" in err and err.count("\n") == 1


def test_the_planner_runs_the_baseline_on_its_own_seeds_and_counts_it():
    run, plan = _load("seed=3")
    inner, tasks, outcomes = LocalEvaluator(1), [], []

    class Recording:
        def map(self, batch):
            tasks.extend(batch)
            outcomes.extend(inner.map(batch))
            return outcomes[-len(batch) :]

    planner = Planner(run, plan, Recording())
    assert planner.seeds == list(range(3, 3 + plan.seeds)) == [seed for _cfg, seed, _days in tasks]
    assert planner.simulations == plan.seeds and planner.step_seconds == sum(o.step_seconds for o in outcomes)


@pytest.mark.parametrize("mode", ["search", "response"])
def test_each_progress_bar_counts_the_simulations_it_waits_for(tmp_path, monkeypatch, mode):
    """Every bar ends full: its total is the simulations its phase runs, counted as they finish."""
    import tqdm.auto

    bars = []

    class Bar(tqdm.auto.tqdm):
        def close(self):
            if not getattr(self, "recorded", False):  # tqdm closes a bar again when it is collected
                self.recorded = True
                bars.append((self.desc, self.total, self.n, self.unit))
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    run, plan = _load(f"plan.mode={mode}", "plan.trials=2", "plan.batch_size=2")
    evaluator = LocalEvaluator(1)
    make_plan(run, plan, tmp_path / mode, evaluator=evaluator, progress=True)
    variables, seeds, levels = len(plan.variables), plan.seeds, plan.response_levels
    evaluation = ("evaluating the plan", seeds * (2 + variables + variables * levels))
    baseline = ("organic baseline", seeds)
    assert bars[0][1:] == (seeds, seeds, "sim")  # the baseline's simulations, before any other bar
    if mode == "search":
        assert [b[:2] for b in bars] == [baseline, ("plan trials", 2), evaluation] and bars[1][2] == 2
    else:
        assert [b[:2] for b in bars] == [baseline, ("response curves", variables * levels * seeds), evaluation]
        assert bars[1][2] == bars[1][1] and bars[1][3] == "sim"
    assert bars[-1][2] == bars[-1][1] and bars[-1][3] == "sim"


def test_the_plan_never_breaks_the_budget_and_cvar_is_at_most_the_mean(tmp_path):
    run, plan = _ads_plan("plan.risk.measure=cvar", "plan.risk.alpha=0.5", budget=6_000.0)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    assert result.best.spend <= plan.budget + 1e-6
    feasible = result.trials[result.trials["feasible"]]
    assert (feasible["spend"] <= plan.budget + 1e-6).all()
    profits = result.best.series("incremental_profit")
    assert result.best.score == pytest.approx(profits.min())  # CVaR 50 % of two seeds: the worse one
    assert result.best.score <= profits.mean()


#: Settings the printed command must carry as given: a list (no space may split it) and non-ASCII text.
ECONOMICS_SET = {"currency": "人民币", "spend_response_multipliers": [0.5, 2.0]}


def test_outputs_reproduce_with_opsim_and_say_what_the_plan_buys(tmp_path, capsys):
    """The printed command, pasted into a shell, runs the plan (it read ``--config-dir plan dir``, ``[0.5, 2.0]``
    and ``"\\u4eba..."`` unquoted: two words, a list Hydra refused, a currency taken literally)."""
    import shlex

    from sim.app.cli import parse_argv
    from sim.app.config import load_config

    out = tmp_path / "plan dir"  # a space: the folder must stay one shell word
    economics = ["economics.spend_response_multipliers=[0.5,2.0]", "economics.currency='人民币'"]
    main([*TINY, f"hydra.run.dir={out}", "plan.trials=4", "plan.batch_size=2", *economics])
    summary = json.loads((out / "plan.json").read_text())
    for key in (
        "budget",
        "total_spend",
        "allocation",
        "objective",
        "risk",
        "base_strategy",
        "spend_nothing",
        "marginal_roi",
    ):
        assert key in summary
    assert set(summary["objective"]) >= {"name", "mean", "low", "high"}
    assert summary["total_spend"] <= summary["budget"]
    for name in ("trials", "frontier", "response"):
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    for name in ("plan_allocation", "plan_frontier", "plan_response", "plan_history"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert "opsim plan" in (out / "report.html").read_text()
    # the log's last line and the strategy file's header print the same command
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"run it: {summary['reproduce']}")
    header = (out / "best_strategy.yaml").read_text("utf-8").splitlines()[0]
    assert header.endswith(summary["reproduce"].replace(shlex.quote(str(out)), "'<this folder>'"))
    # the command, as a shell splits it, is read by opsim's own parser into the plan's config
    cmd = shlex.split(summary["reproduce"])
    assert cmd[:3] == ["opsim", "--config-dir", str(out)]
    args = parse_argv(cmd[1:], prog="opsim")
    run = load_config(compose(args.overrides, extra_dir=args.config_dir))
    assert run.economics.currency == ECONOMICS_SET["currency"]
    assert run.economics.spend_response_multipliers == ECONOMICS_SET["spend_response_multipliers"]
    assert (run.horizon_days, run.seed) == (60, 0)
    for planned in summary["allocation"].values():
        _strategy, lever, *knob = planned["key"].split(".")
        node = getattr(run.strategy, lever)
        for part in knob:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        assert node == pytest.approx(planned["value"], rel=1e-12), planned["key"]
    # and run as opsim, it reproduces the plan's first seed exactly
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            *cmd[1:],
            f"hydra.run.dir={tmp_path / 'check'}",
            "figures=false",
            "economics.marginal_roi=false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    check = json.loads((tmp_path / "check" / "summary.json").read_text())
    assert check["economics"]["incremental"]["profit"] == pytest.approx(
        summary["per_seed"][0]["incremental_profit"], rel=1e-12
    )
    assert check["economics"]["cost_total"] == pytest.approx(summary["per_seed"][0]["cost"], rel=1e-12)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("人民币", "'人民币'"),
        ("it's", r"'it\'s'"),
        ("a\\", r"'a\\'"),
        ("${x}", r"'\${x}'"),
        ([0.5, 2.0], "[0.5,2.0]"),
        ([], "[]"),
        (1e-05, "1e-05"),
        (True, "true"),
        (365, "365"),
        ({"a": 1, "b_c": [1.5]}, "{a:1,b_c:[1.5]}"),  # it wrote {'a':1}, which Hydra cannot parse
    ],
)
def test_a_value_is_written_as_a_hydra_override_that_reads_back_the_same(value, written):
    """Text quoted (Hydra refuses 人民币 unquoted; ${ is no interpolation), lists without spaces, numbers exact."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from sim.app.plan import hydra_value

    assert hydra_value(value) == written
    composed = OmegaConf.create()
    given = OverridesParser.create().parse_override(f"x={written}").value()
    composed.x = given
    assert OmegaConf.to_container(composed, resolve=True)["x"] == value


#: t_{0.975, 1}: the 95 % half-width of two seeds is this times their standard error |x1 − x2| / 2.
T_975_1 = 12.706204736174694


def _fixed_candidate(values: dict, costs: list[float], d30s: list[float]):
    """A candidate whose seeds spent ``costs`` and kept ``d30s`` (nothing else happened)."""
    from sim.app.plan import Candidate
    from sim.app.plan_eval import Outcome

    outcomes = [
        Outcome(seed, 0.0, 0.0, cost, {}, (cost,), d30, 0.0, np.zeros(1), np.zeros(1))
        for seed, (cost, d30) in enumerate(zip(costs, d30s, strict=True))
    ]
    metrics = [
        {
            "payback_day": float("nan"),
            "incremental_profit": -cost,
            "incremental_roi": -1.0,
            "incremental_users": 0.0,
            "incremental_gross_profit": 0.0,
            "cost": cost,
            "d30": d30,
        }
        for cost, d30 in zip(costs, d30s, strict=True)
    ]
    return Candidate(values, outcomes, metrics)


def test_a_plans_cost_and_d30_intervals_are_clipped_as_a_sweeps_and_differences_are_not(tmp_path):
    """plan.json had base_strategy.metrics.d30.low = −0.048 and trials.parquet d30_low −0.014, while the sweep's
    tables (and the plan page's glossary) clip a retention to 0–100 % and a cost at 0."""
    from sim.app.plan import PlanResult, _candidate_row, plan_summary
    from sim.output.plan_report import plan_verdict

    run, plan = _ads_plan(budget=6_000.0)
    # the plan: its t-intervals reach below 0 (clipped); the base: above 0 on both seeds' sides (kept)
    best = _fixed_candidate({"search": 0.0, "social": 0.0}, costs=[100.0, 300.0], d30s=[0.01, 0.05])
    base = _fixed_candidate({}, costs=[1000.0, 1010.0], d30s=[0.300, 0.302])
    row = _candidate_row(0, best)
    result = PlanResult(
        run=run,
        plan=plan,
        best=best,
        config=run,
        base=base,
        trials=pd.DataFrame([row]),
        frontier=None,
        response=pd.DataFrame(),
        marginal={},
        message=None,
        simulations=0,
        seconds=0.0,
        step_seconds=0.0,
    )
    summary = plan_summary(result, tmp_path)
    exact = {"rel": 1e-12, "abs": 1e-12}
    assert (row["d30_low"], row["cost_low"]) == (0.0, 0.0)
    assert row["d30_high"] == pytest.approx(0.03 + T_975_1 * 0.02, **exact)
    plan_d30, plan_cost = summary["metrics"]["d30"], summary["metrics"]["cost"]
    assert (plan_d30["low"], plan_cost["low"]) == (0.0, 0.0)
    assert plan_cost["high"] == pytest.approx(200.0 + T_975_1 * 100.0, **exact)
    base_metrics = summary["base_strategy"]["metrics"]
    assert base_metrics["d30"]["low"] == pytest.approx(0.301 - T_975_1 * 0.001, **exact)
    assert base_metrics["cost"]["low"] == pytest.approx(1005.0 - T_975_1 * 5.0, **exact)
    # a difference has no bound: the plan's D30 minus the base's keeps its whole t-interval
    assert summary["difference"]["d30"]["low"] == pytest.approx(-0.271 - T_975_1 * 0.019, **exact)
    # the page's verdict gives the cost's wider side, the t-interval's half-width, not half the clipped range
    assert plan_verdict(summary).cost.half_width == pytest.approx(T_975_1 * 100.0, **exact)


def test_rerunning_continues_the_study_and_another_plan_in_its_folder_is_refused(tmp_path, capsys, monkeypatch):
    import sim.app.plan

    out = tmp_path / "plan"
    common = [*TINY, f"hydra.run.dir={out}", "plan.batch_size=2"]
    for trials in (4, 6):
        main([*common, f"plan.trials={trials}"])
    trials = pd.read_parquet(out / "trials.parquet")
    assert sorted(trials["trial"]) == list(range(6))  # the second run added trials 4 and 5
    capsys.readouterr()
    baselines = []  # refused before any simulation: the organic baseline is not run first
    monkeypatch.setattr(sim.app.plan, "Planner", lambda *args, **kwargs: baselines.append(args))
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as info:
        main([*common, "plan.trials=6", "plan.budget=5000"])
    assert info.value.code == 2 and baselines == []
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].endswith(
        f"hydra.run.dir={str(out)!r} is not allowed: a folder without another plan's study: this one holds "
        "a study of different settings, or one made by an opsim version whose run settings differ "
        f"(delete {out / 'study.journal'}, or give hydra.run.dir=<new folder>)"
    )
    # refused before Hydra starts: no record appended to the study, no line to the log, no file touched
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_fewer_trials_than_a_study_has_is_said_in_one_line_and_the_plan_uses_them_all(tmp_path, caplog):
    """``plan.trials=3`` on a study of 4 was silently ignored: the log said 3 trials, the plan came from 4."""
    from sim.app.plan import trials_beyond_note

    run, plan = _ads_plan(budget=15_000.0, trials=4, batch_size=2)
    _chosen, study = _study_best(run, plan, tmp_path / "p")
    for trials in (4, 5):  # the other side: as many trials as the study has, or more (which are added)
        assert trials_beyond_note(study, replace(plan, trials=trials), tmp_path / "p") is None
    with caplog.at_level("WARNING", logger="opsim"):
        result = make_plan(run, replace(plan, trials=3), tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    notes = [r.getMessage() for r in caplog.records if "plan.trials" in r.getMessage()]
    assert notes == [
        f"the study in {tmp_path / 'p' / 'study.journal'} already has 4 finished trials, more than plan.trials=3: "
        "none are added, and the plan is chosen from all 4 (give hydra.run.dir=<new folder> for a study of 3)"
    ]
    assert sorted(result.trials["trial"]) == [0, 1, 2, 3]


def test_a_rerun_says_when_the_studys_trials_were_made_by_other_code(tmp_path, caplog, monkeypatch):
    """A plan rerun after a code change (the referral fix moved results) continued its study silently: the plan
    was chosen among trials of two codes. Each trial records its code; a rerun says how many are of another."""
    import sim.app.plan as plan_module
    from sim.app.plan import other_code_note

    run, plan = _ads_plan(budget=15_000.0, trials=2, batch_size=2)
    _chosen, study = _study_best(run, plan, tmp_path / "p")
    assert other_code_note(study, tmp_path / "p") is None  # the other side: every trial of this code
    monkeypatch.setattr(plan_module, "code_fingerprint", lambda: "another code")
    with caplog.at_level("WARNING", logger="opsim"):
        make_plan(run, replace(plan, trials=3), tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    notes = [r.getMessage() for r in caplog.records if "other code" in r.getMessage()]
    assert notes == [
        f"2 of the 2 finished trials in {tmp_path / 'p' / 'study.journal'} were made by other code than this "
        "opsim's (an earlier version, or one before trials recorded theirs): they are not simulated again, so the "
        "plan is chosen among results of two codes (give hydra.run.dir=<new folder> to plan afresh)"
    ]


def test_a_study_goes_on_with_settings_that_change_no_trial_and_an_earlier_versions_study_too(tmp_path):
    from sim.app.plan import _open_study, _plan_hash, _plan_hash_before_2026_11_30

    run, plan = _ads_plan(budget=15_000.0)
    study = _open_study(tmp_path / "p", run, plan)
    recorded = study.user_attrs["plan_hash"]
    shown = replace(run, progress=not run.progress, figures=not run.figures, threads=1, parallel="threads")
    after = replace(plan, description="Q3", marginal_step=0.2, trials=plan.trials + 5, workers=3)
    assert _open_study(tmp_path / "p", shown, after).user_attrs["plan_hash"] == recorded  # not refused
    for changed_run, changed_plan in ((replace(run, seed=run.seed + 1), plan), (run, replace(plan, budget=9_000.0))):
        with pytest.raises(ConfigError, match="holds a study of different settings"):
            _open_study(tmp_path / "p", changed_run, changed_plan)
    # a study an earlier version made (its hash took in every setting) goes on, and is recorded anew;
    # the digest is the one commit afa6fb9's _plan_hash gave for this plan
    legacy = "11d5f36108fc70bdfaacc2a9592af98c97e2b640518c42b63d27f005a13a9551"
    assert _plan_hash_before_2026_11_30(run, plan) == legacy
    old = _open_study(tmp_path / "old", run, plan)
    old.set_user_attr("plan_hash", legacy)
    assert _open_study(tmp_path / "old", run, plan).user_attrs["plan_hash"] == _plan_hash(run, plan)


def test_a_new_study_is_made_in_a_new_folder_and_maximises_or_minimises_as_its_objective_says(tmp_path):
    from optuna.study import StudyDirection

    from sim.app.plan import _open_study

    run, plan = _ads_plan(budget=15_000.0)
    study = _open_study(tmp_path / "new" / "plan", run, plan)  # neither folder exists yet
    assert (tmp_path / "new" / "plan" / "study.journal").exists()
    assert study.direction == StudyDirection.MAXIMIZE  # incremental profit
    run, plan = _ads_plan(
        "plan.objective=least_spend", "plan.target.metric=incremental_users", "plan.target.value=0", budget=3_000.0
    )
    assert _open_study(tmp_path / "least", run, plan).direction == StudyDirection.MINIMIZE


def test_a_target_the_budget_cannot_reach_says_so_and_returns_the_closest_plan(tmp_path):
    run, plan = _ads_plan(
        "plan.objective=least_spend", "plan.target.metric=incremental_users", "plan.target.value=0", budget=3_000.0
    )
    plan = replace(plan, target=replace(plan.target, value=1e9))
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    assert result.message is not None and "cannot reach the target" in result.message
    assert result.best.constraints["target"] > 0


def test_a_least_spend_plan_writes_its_files_its_frontier_the_targets_metric(tmp_path):
    """``opsim-plan plan.objective=least_spend`` ended in a KeyError ('score_low') drawing the frontier, every time."""
    run, plan = _ads_plan(
        "plan.objective=least_spend", "plan.target.metric=incremental_users", "plan.target.value=0", budget=3_000.0
    )
    plan = replace(plan, trials=4, frontier_budgets=[0.5, 1.0])
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    files = write_plan(result, tmp_path / "p")
    assert {"plan.json", "plan_frontier.png", "report.html"} <= set(files)
    summary = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert summary["objective"]["name"] == "least_spend" and summary["objective"]["metric"] == "cost"
    frontier = pd.read_parquet(tmp_path / "p" / "frontier.parquet")
    assert {"incremental_users", "incremental_users_low", "incremental_users_high"} <= set(frontier.columns)
    assert "cost" not in frontier.columns  # so the figure plots the target's metric, not the objective's
    page = (tmp_path / "p" / "report.html").read_text()
    row = re.search(r"D30 retention</th>(.*?)</tr>", page, re.S).group(1)
    assert re.search(r">[-+]\d+\.\d( ± \d+\.\d)? pt<", row), row  # a difference of shares: signed points, not "0.1 %"


def test_figures_false_draws_no_figure_and_the_page_says_so(tmp_path, monkeypatch):
    """``opsim-plan figures=false`` drew its four figures all the same."""
    from sim.output import plan_report

    drawn = []
    monkeypatch.setattr(plan_report, "_png", lambda fig: drawn.append(fig) or b"png")
    run, plan = _ads_plan("figures=false", budget=15_000.0, trials=2, batch_size=2)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    (tmp_path / "p" / "plan_frontier.png").write_bytes(b"an earlier plan's")
    files = write_plan(result, tmp_path / "p")
    assert not drawn and not [f for f in files if f.endswith(".png")]
    assert not list((tmp_path / "p").glob("*.png"))  # the earlier plan's figure does not pass for this one's
    page = (tmp_path / "p" / "report.html").read_text()
    assert plan_report.FIGURES_NOT_DRAWN in page and "<h2>Allocation</h2>" in page
    files = write_plan(replace(result, run=replace(result.run, figures=True)), tmp_path / "p")  # the other side
    assert {f"{n}.png" for n in plan_report.FIGURE_NAMES} <= set(files) and len(drawn) == 4
    assert plan_report.FIGURES_NOT_DRAWN not in (tmp_path / "p" / "report.html").read_text()


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("incremental_users", 2100.0, "2,100"),  # users whole: it printed "2,100.00"
        ("incremental_users", -1439.28, "-1,439"),
        ("incremental_profit", 12345.6, "12,346"),
        ("cost", 4.0, "4"),
        ("incremental_roi", 0.934, "0.93"),
        ("d30", 0.0614, "6.1 %"),
        ("incremental_roi", None, "—"),
        ("incremental_profit", float("nan"), "—"),
    ],
)
def test_the_plans_log_line_shows_each_objective_as_its_unit_reads(metric, value, text):
    from sim.app.plan import _objective_number

    assert _objective_number(metric, value) == text


@pytest.mark.parametrize(
    ("variable", "value", "stepped"),
    [
        (ADS_ONLY["search"], 0.0, 75.0),  # from 0: 5 % of the 0-1500 searched, not 0 x 1.05 = 0 (no ROI)
        (ADS_ONLY["search"], 200.0, 210.0),
        (ADS_ONLY["search"], 1450.0, 1450.0 * 0.95),  # + 5 % would pass high: down
        (VariableConfig(key="strategy.onboarding.days", low=1, high=30), 10.0, 11.0),  # 10.5 rounds back to 10
        (VariableConfig(key="strategy.onboarding.days", low=1, high=20), 20.0, 19.0),  # at high: down by at least 1
        (replace(ADS_ONLY["search"], per_period=True), [0.0, 200.0], [75.0, 210.0]),
    ],
)
def test_each_lever_steps_for_its_marginal_roi_including_from_0(variable, value, stepped):
    from sim.app.plan import marginal_value

    run, plan = _ads_plan()
    assert marginal_value(run, plan, variable, value) == pytest.approx(stepped)


def test_a_lever_at_0_gets_a_marginal_roi_and_the_page_gives_the_step_used():
    """Every lever at 0 had no marginal ROI (0 x 1.05 is 0), and the page said "+1 %" for a step of 5 %."""
    from sim.app.plan import _marginal
    from sim.output.plan_report import _step_text, marginal_roi_definition

    run, plan = _ads_plan(budget=15_000.0)
    planner = Planner(run, plan, LocalEvaluator(1))
    best = planner.evaluate([{"search": 0.0, "social": 0.0}])[0]
    marginal, steps = _marginal(planner, best)
    assert all(np.isfinite(marginal[label][0]) for label in ("paid_ads_search", "paid_ads_social")), marginal
    assert steps["paid_ads_search"] == {"from": 0.0, "to": pytest.approx(0.05 * 500)}  # 15,000 / 30 days: 500 a day
    assert _step_text({"from": 0.0, "to": 25.0}) == "0.000 → 25.000"
    text = marginal_roi_definition(0.2)
    assert "20 % higher" in text and "1 %" not in text


def test_response_curve_mode_allocates_within_the_budget(tmp_path):
    run, plan = _ads_plan("plan.mode=response", budget=15_000.0)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    assert result.best.spend <= plan.budget * 1.05  # knob values are interpolated from the measured spend levels
    assert set(result.response["variable"]) == {"search", "social"}


def test_response_mode_splits_only_what_the_unplanned_channels_leave_of_the_budget(tmp_path):
    """Planning search alone with 30,000: social, unplanned, spends 555 a day x 30 days = 16,650 in every run.

    The split gave search 25,578 of the whole 30,000 (its curve pays at that spend), and the verified plan
    spent 42,228; search gets what is left, 30,000 - 16,650 = 13,350 (445 a day).
    """
    from sim.app.plan import planned_budget

    run, plan = _load(*SEARCH_ONLY, "plan.mode=response", "plan.budget=30000")
    assert planned_budget(run, plan) == pytest.approx(13_350.0)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    assert result.best.lever_spend("paid_ads_search") == pytest.approx(13_350.0, rel=1e-6)
    assert result.best.lever_spend("paid_ads_social") == pytest.approx(16_650.0)
    assert result.best.spend == pytest.approx(30_000.0, rel=1e-6) and result.message is None
    run, plan = _ads_plan("plan.mode=response", budget=30_000.0)  # the other side: every channel planned
    assert planned_budget(run, plan) == 30_000.0


@pytest.mark.parametrize("knob", ["cpm", "saturation.half_saturation", "conversion_multiplier"])
def test_response_mode_refuses_an_ad_knob_that_moves_no_spend_up_front(tmp_path, capsys, knob):
    """A cpm planned in response mode: the channel spent its budget at every cpm, so its response to spend was
    one point, and the split took the highest cpm (20, whose gain was 36,057 against 83,712 at a cpm of 2)."""
    out = tmp_path / "p"
    argv = [*TINY, "plan.mode=response", f"plan.variables.search.key=strategy.paid_ads.search.{knob}"]
    line = _refused_plan(
        [*argv, "plan.variables.search.low=0.5", "plan.variables.search.high=1", f"hydra.run.dir={out}"], capsys
    )
    assert line == (
        f"opsim-plan: error: plan.variables.search.key='strategy.paid_ads.search.{knob}' is not allowed: with "
        "plan.mode=response, a knob that moves its lever's spend, up or down at every step of its range (response "
        "mode splits the budget by each lever's response to its spend; plan.mode=search plans any knob), e.g. "
        "strategy.paid_ads.search.daily_budget"
    )
    assert not out.exists()


def test_search_mode_and_a_spend_knob_in_response_mode_are_not_refused():
    """The other sides: the same knob in search mode; the channel's daily budget in response mode."""
    cpm = {"search": VariableConfig(key="strategy.paid_ads.search.cpm", low=2, high=20)}
    _run, plan = _ads_plan(variables=cpm)
    assert plan.variables == cpm
    _run, plan = _ads_plan("plan.mode=response")
    assert plan.variables["search"].key == "strategy.paid_ads.search.daily_budget"


@pytest.mark.parametrize(
    ("spend", "refused"),
    [
        ([0.0, 10.0, 20.0, 30.0], False),
        ([30.0, 20.0, 10.0, 0.0], False),  # a knob that spends less as it rises: the split can still map it back
        ([0.0, 10.0, 10.0, 30.0], True),  # one flat step: two values of the knob for one spend
        ([0.0, 0.0, 0.0, 0.0], True),
        ([0.0, 20.0, 10.0, 30.0], True),  # up and down: a spend maps to more than one value
    ],
)
def test_a_response_whose_spend_does_not_move_one_way_is_refused(spend, refused):
    from sim.app.plan import check_spend_moves
    from sim.base.errors import ConfigError

    var = VariableConfig(key="strategy.push.messages_per_week", low=0, high=3)
    values, spend = np.array([0.0, 1.0, 2.0, 3.0]), np.array(spend)
    if not refused:
        check_spend_moves("push", var, values, spend, "USD")
        return
    with pytest.raises(ConfigError) as info:
        check_spend_moves("push", var, values, spend, "USD")
    spent = ", ".join(f"{s:,.0f} at {v:g}" for v, s in zip(values, spend, strict=True))
    assert str(info.value).startswith("plan.variables.push.key='strategy.push.messages_per_week' is not allowed")
    assert str(info.value).endswith(f"its lever spent {spent} USD")


def test_a_whole_number_knob_runs_each_of_its_response_levels_once():
    """silent_days 7-10 at six levels ran 7, 8, 8, 9, 9, 10 (rounded as the runs round them) and was refused as
    flat, its message naming levels that never ran (7.6, 8.2); now each whole value once, a float knob as before."""
    from sim.app.plan import _response_simulations, response_levels

    days = VariableConfig(key="strategy.winback.silent_days", low=7, high=10)
    lift = VariableConfig(key="strategy.push.visit_lift", low=0.1, high=0.6)
    run, plan = _load("plan.response_levels=6")
    assert response_levels(run, plan, days).tolist() == [7.0, 8.0, 9.0, 10.0]
    assert response_levels(run, plan, lift).tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    plan = replace(plan, variables={"days": days, "lift": lift})
    assert _response_simulations(run, plan) == (4 + 6) * plan.seeds  # the progress bar counts what runs


def test_a_response_curve_of_one_value_is_refused():
    from sim.app.plan import check_spend_moves
    from sim.base.errors import ConfigError

    var = VariableConfig(key="strategy.winback.silent_days", low=7, high=7.4)
    with pytest.raises(ConfigError, match=r"^plan.variables.days.high=7.4 is not allowed: .* at least 2 values"):
        check_spend_moves("days", var, np.array([7.0]), np.array([70.0]), "USD")
    check_spend_moves("days", var, np.array([7.0, 8.0]), np.array([70.0, 60.0]), "USD")  # the other side: two


def test_response_mode_refuses_a_knob_whose_simulated_spend_is_flat_in_one_line(tmp_path, capsys):
    """Search ads starting on days 40-58 spend nothing in a spend window of days 0-29: one line, exit 2, no plan."""
    out = tmp_path / "p"
    argv = [
        *TINY,
        "plan.mode=response",
        "~plan.variables.referral",
        "~plan.variables.push",
        "~plan.variables.social",
        "plan.variables.search.key=strategy.paid_ads.search.schedule.start_day",
        "plan.variables.search.low=40",
        "plan.variables.search.high=58",
        f"hydra.run.dir={out}",
    ]
    line = _refused_plan(argv, capsys)
    assert line.endswith("its lever spent 0 at 40, 0 at 46, 0 at 52, 0 at 58 USD"), line
    # refused inside Hydra's task: the folder Hydra made for it goes (its .hydra/ and log marked it a plan's,
    # which opsim then refused), and a folder that was there stays with what Hydra wrote
    assert not out.exists()
    out.mkdir()
    _refused_plan(argv, capsys)
    assert sorted(p.name for p in out.iterdir()) == [".hydra", "opsim-plan.log"]


def test_response_mode_writes_no_frontier_and_its_page_says_why(tmp_path):
    """Response mode wrote a frontier of its one verified plan: NaN at every level below its spend (all of them
    when it spent a little over the budget, as the benchmark's does), and that plan again at every other level."""
    from sim.output.plan_report import NO_FRONTIER_IN_RESPONSE_MODE

    out = tmp_path / "p"
    run, plan = _ads_plan("plan.mode=response", budget=15_000.0)
    result = make_plan(run, plan, out, evaluator=LocalEvaluator(1), progress=False)
    assert result.frontier is None
    out.mkdir()
    (out / "frontier.parquet").write_bytes(b"an earlier search plan's")
    files = write_plan(result, out)
    assert "frontier.parquet" not in files and "plan_frontier.png" not in files and "plan_response.png" in files
    assert not (out / "frontier.parquet").exists()  # the earlier plan's frontier does not pass for this one's
    assert NO_FRONTIER_IN_RESPONSE_MODE in (out / "report.html").read_text()
    run, plan = _ads_plan(budget=15_000.0, trials=2, batch_size=2)  # the other side: search mode has its frontier
    result = make_plan(run, plan, tmp_path / "s", evaluator=LocalEvaluator(1), progress=False)
    files = write_plan(replace(result, run=replace(result.run, figures=False)), tmp_path / "s")
    assert (
        "frontier.parquet" in files and NO_FRONTIER_IN_RESPONSE_MODE not in (tmp_path / "s" / "report.html").read_text()
    )


def test_ad_budgets_can_be_planned_per_period(tmp_path):
    run, plan = _load("plan.period_days=10", "plan.trials=4", "plan.batch_size=2")
    variables = {"search": replace(ADS_ONLY["search"], per_period=True)}
    plan = check_plan(replace(plan, variables=variables, budget=20_000.0), run)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    value = result.best.values["search"]
    assert isinstance(value, list) and len(value) == 3  # a 30-day window in periods of 10 days
    assert result.config.strategy.paid_ads["search"].period_budgets == pytest.approx(value)
    files = write_plan(result, tmp_path / "p")
    assert "strategy/best_strategy.yaml" in files
    assert "period_budgets" in (tmp_path / "p" / "best_strategy.yaml").read_text()


@pytest.mark.parametrize(
    ("override", "key", "allowed"),
    [
        ("plan.variables.search.low=2000", "plan.variables.search.high", "> plan.variables.search.low"),
        ("plan.variables.search.low=-5", "plan.variables.search.low", ">= 0"),
        ("plan.budget=0", "plan.budget", "> 0"),
        ("plan.variables.search.key=strategy.paid_ads.search.cpm_typo", "plan.variables.search.key", "numeric knob"),
        ("plan.variables.search.key=population.market_size", "plan.variables.search.key", "lever knob"),
        ("plan.variables.search.min_spend=200000", "plan.budget", "min_spend"),
        ("plan.objective=fame", "plan.objective", "incremental_profit"),
        # the planner's own keys: "expected a key the schema defines" (only the run config's were listed)
        ("plan.budgt=5", "plan.budgt", "unknown key in plan; expected one of name, description, budget, objective"),
        ("plan.risk.alfa=0.1", "plan.risk.alfa", "expected one of measure, alpha"),
        ("plan.variables.push.high=9", "plan.variables.push.high", "at most 7"),
        ("plan.risk.measure=median", "plan.risk.measure", "mean, cvar"),
        ("plan.variables.push.log=true", "plan.variables.push.low", "log=true"),
        # least_spend ran with a target nobody gave (incremental_users >= 0), a trivial plan without a word
        ("plan.objective=least_spend", "plan.target.value=None", "a number with objective least_spend"),
        ("plan.ray_address=foo", "plan.ray_address='foo'", "HOST:PORT of a Ray cluster's head"),
        ("plan.ray_address=head:", "plan.ray_address='head:'", "HOST:PORT of a Ray cluster's head"),
        # Ray retried an address that does not answer for minutes, deaf to SIGTERM (port 1: nothing listens)
        ("plan.ray_address=127.0.0.1:1", "plan.ray_address='127.0.0.1:1'", "a Ray cluster that answers (127.0.0.1:1"),
        ("plan.ray_address=ray://127.0.0.1:1", "plan.ray_address='ray://127.0.0.1:1'", "a Ray cluster that answers"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_plans_stop_with_one_line_before_any_simulation(tmp_path, capsys, override, key, allowed):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main([*TINY, f"hydra.run.dir={out}", override])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("opsim-plan: error: ") and key in err[0] and allowed in err[0], err
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "low", "refused"),
    [
        ("strategy.onboarding.days", 0, "plan.variables.push.low=0 is not allowed: at least 1, the smallest"),
        ("strategy.onboarding.days", 1, None),  # the knob's own minimum (ge=1) is allowed
        ("strategy.paid_ads.search.saturation.shape", 0, "plan.variables.push.low=0 is not allowed: more than 0, as"),
        ("strategy.paid_ads.search.saturation.shape", 0.5, None),  # gt=0: anything above it
        ("strategy.paid_ads.search.cpm", 0, "plan.variables.push.low=0 is not allowed: at least 1e-06, the smallest"),
        ("strategy.paid_ads.search.cpm", 1e-6, None),  # MIN_CPM, the knob's own minimum
    ],
)
def test_a_low_bound_outside_its_knobs_range_is_refused_before_anything_is_written(tmp_path, capsys, key, low, refused):
    """A low below the knob's range was refused only by trial 0, after the study was made (naming the knob, not the plan)."""
    overrides = [f"plan.variables.push.key={key}", f"plan.variables.push.low={low}", "plan.variables.push.high=10"]
    if refused is None:
        _run, plan = _load(*overrides)
        assert plan.variables["push"].low == low
        return
    _refused_by_the_api_and_the_command(overrides, refused, tmp_path, capsys)


def _refused_by_the_api_and_the_command(overrides: list[str], refused: str, tmp_path: Path, capsys) -> None:
    """``overrides`` refused with ``refused`` by load_plan_config and by opsim-plan, which writes nothing."""
    with pytest.raises(ConfigError, match=re.escape(refused)):
        _load(*overrides)
    out = tmp_path / "never"
    line = _refused_plan([*TINY, *overrides, f"hydra.run.dir={out}"], capsys)
    assert line.startswith(f"opsim-plan: error: {refused}") and not out.exists()


#: The base strategy's search channel on three periods of 10 days (daily budgets 3000, 0, 1500),
#: planned from 100 a day.
SEARCH_ON_PERIODS = [
    "strategy.paid_ads.search.period_budgets=[3000,0,1500]",
    "strategy.paid_ads.search.period_days=10",
    "plan.variables.search.low=100",
]


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        (SEARCH_ON_PERIODS, "plan.variables.search.per_period=False is not allowed: true (strategy.paid_ads.search"),
        ([*SEARCH_ON_PERIODS, "plan.variables.search.per_period=true"], None),  # plans the period budgets
        ([*SEARCH_ON_PERIODS, "strategy.paid_ads.search.period_budgets=[]"], None),  # daily_budget is spent
    ],
)
def test_one_daily_budget_is_refused_for_a_channel_on_period_budgets(tmp_path, capsys, overrides, refused):
    """Every trial spent the channel's period budgets (45,000) whatever daily_budget it set; marginal ROI was null."""
    if refused is None:
        run, plan = _load(*overrides)
        # the plan moves what search spends: 100 a day at its low over TINY's 30-day spend window
        assert ad_spend_every_plan_has(run, plan)["strategy.paid_ads.search"] == 30 * 100
        return
    _refused_by_the_api_and_the_command(overrides, refused, tmp_path, capsys)


#: quarter_growth planning search alone: social stays at its 555 a day, 16,650 over TINY's 30-day spend window.
SEARCH_ONLY = ["~plan.variables.social", "~plan.variables.referral", "~plan.variables.push"]


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        (
            ["plan.budget=16649"],
            "at least 16,650, the spend that every plan has (strategy.paid_ads.social: 16,650, ",
        ),
        (["plan.budget=16650"], None),  # exactly the fixed spend: a plan that spends nothing more fits
        (["plan.budget=19649", "plan.variables.search.low=100"], "at least 19,650"),  # + 100 a day x 30 at its low
        (["plan.budget=19650", "plan.variables.search.low=100"], None),
    ],
)
def test_a_budget_below_the_ad_spend_of_unplanned_channels_is_refused_up_front(tmp_path, capsys, overrides, refused):
    """Unplanned channels alone spending more than the budget: every trial broke it, and it was said at the end."""
    argv = [*SEARCH_ONLY, *overrides]
    if refused is None:
        _run, plan = _load(*argv)
        assert list(plan.variables) == ["search"]
        return
    out = tmp_path / "never"
    line = _refused_plan([*TINY, *argv, f"hydra.run.dir={out}"], capsys)
    assert line.startswith("opsim-plan: error: plan.budget=") and refused in line and not out.exists()


def test_a_least_spend_target_of_0_and_a_local_ray_address_are_accepted():
    """The other side: a target given (0 is a target: break-even profit), and 'local'/'auto' name no host to ask."""
    run, plan = _load("plan.objective=least_spend", "plan.target.metric=incremental_profit", "plan.target.value=0")
    assert plan.target.value == 0
    for address in ("local", "auto", "head.example:6379"):  # the port of a named host is asked when the plan starts
        assert check_plan(replace(plan, ray_address=address), run).ray_address == address
    assert check_plan(replace(plan, ray_address=""), run).ray_address == ""  # an unset $RAY_ADDRESS: local


def _cut_inside_ask(journal: Path, trial: int, records_written: int) -> bytes:
    """The journal a study killed while asking ``trial`` leaves: every record up to the trial's
    creation, then the first ``records_written`` records about it (Optuna writes each value, and
    each piece of a sampler's state, as a record of its own)."""
    lines = journal.read_bytes().splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    created = [i for i, r in enumerate(records) if r["op_code"] == 4][trial]
    about = [i for i, r in enumerate(records) if i > created and r.get("trial_id") == trial]
    return b"".join(lines[: about[records_written]])


@pytest.fixture(scope="module")
def uninterrupted_studies(tmp_path_factory):
    """One uninterrupted 16-trial study per sampler, made when a test first asks for it."""
    made = {}

    def study(kind: str):
        """``kind``: a sampler name, or ``tpe-log`` for TPE over log-scale variables."""
        if kind not in made:
            sampler, _, scale = kind.partition("-")
            variables = ADS_LOG_SCALE if scale == "log" else ADS_ONLY
            run, plan = _ads_plan(budget=15_000.0, trials=16, sampler=sampler, variables=variables)
            out = tmp_path_factory.mktemp(f"whole-{kind}")
            best, _ = _study_best(run, plan, out)
            made[kind] = run, plan, out / "study.journal", best
        return made[kind]

    return study


@pytest.mark.parametrize(
    ("sampler", "trial", "records_written"),
    [
        ("tpe", 0, 0),  # the enqueued all-lows trial, still queued
        ("tpe", 0, 1),  # ... taken off the queue, no value written yet
        ("tpe", 0, 2),  # ... one of its two values written
        ("tpe", 9, 0),  # a trial of the third batch drawn at random (TPE's start-up phase): created, no values
        ("tpe", 9, 1),  # ... one value written
        ("tpe", 11, 1),  # the last of its batch: no later ask sets the sampler the batch's tells use
        ("tpe", 13, 1),  # a trial of the fourth batch, drawn by TPE's model of the 12 told trials
        ("tpe-log", 9, 1),  # variables searched on a log scale
        ("cmaes", 9, 0),  # CMA-ES writes its state (3 records) into the trial before the values; trial 9's
        #                    generation tag decides which trials the optimizer is told in the next batch
        ("cmaes", 13, 0),
        ("random", 9, 1),  # independent draws, one after the other from the trial's generator
        ("cmaes", 13, 1),  # ... one of the three written
        ("cmaes", 13, 4),  # ... all three and one value
    ],
)
def test_a_study_killed_while_asking_a_trial_resumes_to_the_uninterrupted_plan(
    tmp_path, caplog, uninterrupted_studies, sampler, trial, records_written
):
    """The journal cut where a SIGKILL during ``ask`` cuts it: the half-asked trial gets its values back."""
    run, plan, whole, best = uninterrupted_studies(sampler)
    out = tmp_path / "killed"
    out.mkdir()
    (out / "study.journal").write_bytes(_cut_inside_ask(whole, trial, records_written))
    with caplog.at_level("WARNING", logger="opsim"):
        resumed, study = _study_best(run, plan, out)
    still_queued = trial == 0 and records_written == 0  # an enqueued trial not yet taken: nothing to complete
    completed = f"trial {trial}: completed the values a killed run had left half-written"
    assert (completed in caplog.text) is not still_queued
    assert {k: v for k, v in resumed.items() if k.startswith("param:")} == {
        k: v for k, v in best.items() if k.startswith("param:")
    }
    assert resumed["score"] == best["score"]
    import optuna

    every = optuna.load_study(
        study_name="plan",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(whole))),
    ).get_trials(deepcopy=False)
    assert [t.params for t in study.get_trials(deepcopy=False)] == [
        t.params for t in every
    ]  # every trial, not just the best
    assert [t.distributions for t in study.get_trials(deepcopy=False)] == [t.distributions for t in every]


@pytest.mark.parametrize("records", [1, 2])
def test_a_study_killed_while_it_was_being_created_resumes_to_the_uninterrupted_plan(
    tmp_path, uninterrupted_studies, records
):
    """Killed after writing only the study (1 record), or the study and its all-lows first trial (2)."""
    run, plan, whole, _best = uninterrupted_studies("tpe")
    out = tmp_path / "killed"
    out.mkdir()
    (out / "study.journal").write_bytes(b"".join(whole.read_bytes().splitlines(keepends=True)[:records]))
    _, study = _study_best(run, plan, out)
    import optuna

    every = optuna.load_study(
        study_name="plan",
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(whole))),
    ).get_trials(deepcopy=False)
    assert [t.params for t in study.get_trials(deepcopy=False)] == [t.params for t in every]
    assert every[0].params == {"search": 0.0, "social": 0.0}


@pytest.mark.slow
def test_a_study_killed_by_sigkill_resumes_to_the_uninterrupted_plan(tmp_path):
    """A real process, killed with SIGKILL once a few trials are told, then the same command again."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    common = [*TINY, "plan.trials=16", "plan.batch_size=2", "plan.workers=1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    cmd = [sys.executable, "-c", "from sim.app.plan import main; main()"]
    subprocess.run([*cmd, *common, f"hydra.run.dir={whole}"], check=True, capture_output=True, env=env, timeout=600)
    proc = subprocess.Popen(
        [*cmd, *common, f"hydra.run.dir={killed}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None and done < 6:
        time.sleep(0.3)
        journal = killed / "study.journal"
        if journal.exists():
            try:
                study = optuna.load_study(study_name="plan", storage=JournalStorage(JournalFileBackend(str(journal))))
                done = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
            except Exception:  # the journal is being written: look again
                continue
    assert proc.poll() is None, "the study finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    resumed = subprocess.run(
        [*cmd, *common, f"hydra.run.dir={killed}"], capture_output=True, text=True, env=env, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = json.loads((whole / "plan.json").read_text())
    b = json.loads((killed / "plan.json").read_text())
    assert a["allocation"] == b["allocation"] and a["objective"] == b["objective"]


def _journal_with_trials(path: Path, values: list[float]) -> None:
    optuna = pytest.importorskip("optuna")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="plan", storage=JournalStorage(JournalFileBackend(str(path))), load_if_exists=True
    )
    for v in values:
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=v))


def _trial_values(path: Path) -> list[float]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="plan", storage=JournalStorage(JournalFileBackend(str(path))))
    return [t.value for t in study.get_trials(deepcopy=False)]


def test_a_record_half_written_by_a_killed_study_is_dropped_so_the_resumed_study_stays_readable(tmp_path, caplog):
    journal = tmp_path / "study.journal"
    _journal_with_trials(journal, [1.0, 2.0])
    whole = journal.read_bytes()
    assert drop_torn_record(journal) is False and journal.read_bytes() == whole  # complete: untouched
    with journal.open("ab") as f:
        f.write(b'{"op_code":5,"worker_id":"x","study_id":0,"da')  # SIGKILL in the middle of a record
    torn = journal.read_bytes()

    unrepaired = tmp_path / "unrepaired.journal"
    unrepaired.write_bytes(torn)
    with pytest.raises(ValueError):  # what resuming did before: append after the torn record, then read
        _journal_with_trials(unrepaired, [3.0])
        _trial_values(unrepaired)

    with caplog.at_level("WARNING", logger="opsim"):
        assert drop_torn_record(journal) is True
    assert f"{journal}: dropped a half-written last record ({len(torn) - len(whole)} bytes)" in caplog.text
    assert journal.read_bytes() == whole  # cut exactly after the last complete line
    _journal_with_trials(journal, [3.0])
    assert _trial_values(journal) == [1.0, 2.0, 3.0]


def test_dropping_a_torn_record_leaves_a_missing_or_empty_journal_alone_and_empties_a_lone_torn_one(tmp_path):
    assert drop_torn_record(tmp_path / "absent.journal") is False
    empty = tmp_path / "empty.journal"
    empty.write_bytes(b"")
    assert drop_torn_record(empty) is False and empty.read_bytes() == b""
    lone = tmp_path / "lone.journal"
    lone.write_bytes(b'{"op_code":0,"wor')
    assert drop_torn_record(lone) is True and lone.read_bytes() == b""


def _enqueued(study) -> list[dict[str, float]]:
    return [t.system_attrs["fixed_params"] for t in study.get_trials(deepcopy=False)]


#: paid_growth's daily budgets at TINY's sample (read from the run config in the test) and its
#: spending days: the spend window's days 0 … 29.
PAID_GROWTH_SPEND_DAYS = 30


@pytest.mark.parametrize(
    ("low", "high", "budget", "base_is_trial_1"),
    [
        (0.0, 1500.0, 100_000.0, True),
        ("base", 1500.0, 100_000.0, True),  # the base value on the low bound: inside
        ("above base", 1500.0, 100_000.0, False),
        (0.0, "base", 100_000.0, True),  # on the high bound: inside
        (0.0, "below base", 100_000.0, False),
        (0.0, 1500.0, "base budget", True),  # the budget spent at the base value alone: searched up to it
        (0.0, 1500.0, "below base budget", False),  # the search stops below the base value
    ],
)
def test_trial_1_is_the_base_strategys_own_values_where_they_are_searched(tmp_path, low, high, budget, base_is_trial_1):
    from sim.app.plan import _open_study

    run, _plan = _ads_plan("strategy=paid_growth")
    base = run.strategy.paid_ads["search"].daily_budget
    assert run.strategy.paid_ads["social"].daily_budget == base and 0 < base < 1500
    step = 0.01
    bound = {"base": base, "above base": base + step, "below base": base - step}
    spend = {"base budget": base * PAID_GROWTH_SPEND_DAYS, "below base budget": (base - step) * PAID_GROWTH_SPEND_DAYS}
    variables = {
        name: replace(var, low=bound.get(low, low), high=bound.get(high, high)) for name, var in ADS_ONLY.items()
    }
    run, plan = _ads_plan("strategy=paid_growth", variables=variables, budget=spend.get(budget, budget))
    enqueued = _enqueued(_open_study(tmp_path / "plan", run, plan))
    floor = {name: var.low for name, var in variables.items()}
    own = {"search": base, "social": base}
    # trial 0 spends the least; trial 1 is the base strategy, unless trial 0 already is (not twice)
    assert enqueued == ([floor, own] if base_is_trial_1 and own != floor else [floor])
    assert (own in enqueued) == base_is_trial_1
    # continued after a kill that came once both were enqueued, before the plan's hash was recorded
    journal = tmp_path / "plan" / "study.journal"
    records = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(records[:-1]))  # the hash is the last record
    assert _enqueued(_open_study(tmp_path / "plan", run, plan)) == enqueued


def test_trial_1_needs_every_base_value_inside_its_own_searched_range(tmp_path):
    from sim.app.plan import _open_study

    run, _plan = _ads_plan("strategy=paid_growth")
    base = run.strategy.paid_ads["search"].daily_budget
    own = {"search": base, "social": base}
    # one variable's base value on its low bound, the other's inside: trial 1 is the base strategy
    variables = {"search": replace(ADS_ONLY["search"], low=base), "social": ADS_ONLY["social"]}
    run, plan = _ads_plan("strategy=paid_growth", variables=variables, budget=100_000.0)
    assert _enqueued(_open_study(tmp_path / "low", run, plan)) == [{"search": base, "social": 0.0}, own]
    # social spends on 10 days, search on 30: a budget that covers social's base value alone
    # (B / 10 > base) but not search's (B / 30 < base) searches search below its base value
    social_days = "strategy.paid_ads.social.schedule.end_day=9"
    run, plan = _ads_plan("strategy=paid_growth", social_days, budget=(base - 0.01) * PAID_GROWTH_SPEND_DAYS)
    assert _enqueued(_open_study(tmp_path / "capped", run, plan)) == [{"search": 0.0, "social": 0.0}]


def test_opsim_plan_print_command_checks_the_config_name_in_its_config_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text("defaults: [opsim_plan, _self_]\nhorizon_days: 33\n")
    (tmp_path / "bad.yaml").write_text("defaults: [opsim_plan, _self_]\nplan:\n  trials: 0\n")
    study = ["--config-dir", str(tmp_path), "--cfg", "job", "--config-name"]
    with pytest.raises(SystemExit) as stop:
        main([*study, "bad"])
    assert stop.value.code == 2 and "plan.trials=0 is not allowed" in capsys.readouterr().err
    try:
        main([*study, "good"])
    except SystemExit as stop:
        assert stop.code in (0, None), capsys.readouterr().err
    assert "horizon_days: 33" in capsys.readouterr().out


def test_a_plan_without_frontier_levels_draws_a_frontier_that_says_so():
    """plan.frontier_budgets=[] passed the checks and ended, after the whole search, in a ValueError traceback."""
    from sim.output import plan_report

    empty = pd.DataFrame()
    assert plan_report._frontier_metric(empty, "incremental_profit") == "incremental_profit"
    fig = plan_report.frontier_figure(empty, "incremental_profit")
    assert [t.get_text() for t in fig.axes[0].texts] == [plan_report.NO_FRONTIER_LEVELS]
    none_fits = pd.DataFrame({"budget": [1.0], "incremental_profit": [np.nan], "incremental_profit_low": [np.nan]})
    none_fits["incremental_profit_high"] = np.nan
    fig = plan_report.frontier_figure(none_fits, "incremental_profit")
    assert [t.get_text() for t in fig.axes[0].texts] == [plan_report.NO_FRONTIER_PLAN]


def _refused_plan(argv: list[str], capsys) -> str:
    """``opsim-plan`` refusing its input: exit 2, one line, no traceback; that line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    return lines[0]


def test_a_plan_too_large_for_memory_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import sim.app.memory

    out = tmp_path / "big"
    monkeypatch.setattr(sim.app.memory, "available_memory", lambda: (1 << 30, "the test"))  # 1 GiB
    reached = []  # Hydra, where the plan would start: never for a refused plan (and no run of 100M users)
    monkeypatch.setattr("sim.app.hydra_runner.run_hydra", lambda *args, **kwargs: reached.append(args))
    argv = [*TINY, "population.sample_size=100000000", "population.market_size=100000000", f"hydra.run.dir={out}"]
    line = _refused_plan(argv, capsys)  # 100,000,000 users need several GB, whatever the count of workers
    assert line.startswith("opsim-plan: error: population.sample_size=100000000 is not allowed: at most what fits")
    assert "and 1.1 GB is available (the test)" in line
    assert not out.exists()
    _refused_plan([*argv[:-1], "plan.workers=1", f"hydra.run.dir={out}"], capsys)  # one worker does not fit either
    assert not reached
    main([*TINY, f"hydra.run.dir={out}"])  # the other side: a small plan passes the check and goes on to Hydra
    assert len(reached) == 1 and capsys.readouterr().err == ""


def test_a_plan_folder_that_is_a_file_is_refused_before_anything_is_written(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert _refused_plan([*TINY, f"hydra.run.dir={afile}"], capsys) == (
        f"opsim-plan: error: hydra.run.dir='{afile}' is not allowed: a folder to write the results into (it is a file)"
    )
    assert afile.read_text() == "mine"


@pytest.mark.parametrize(
    ("marker", "owner"),
    [("DONE.json", "an opsim run"), ("summary.json", "an opsim run"), ("multirun.yaml", "an opsim sweep")],
)
def test_an_opsim_run_or_sweep_folder_is_refused_and_its_report_kept(tmp_path, capsys, monkeypatch, marker, owner):
    """``opsim-plan hydra.run.dir=<an opsim run's folder>`` replaced that run's report.html (and its .hydra/)."""
    reached = []  # Hydra, where the plan would start (and write .hydra/): never for a refused folder
    monkeypatch.setattr("sim.app.hydra_runner.run_hydra", lambda *args, **kwargs: reached.append(args))
    out = tmp_path / "run"
    out.mkdir()
    (out / marker).write_text("{}")
    (out / "report.html").write_text("the earlier run's page")
    line = _refused_plan([*TINY, f"hydra.run.dir={out}"], capsys)
    assert line == (
        f"opsim-plan: error: hydra.run.dir='{out}' is not allowed: a new or empty folder, or an earlier plan's "
        f"folder (to continue its study); this one holds {owner} ({marker}), whose report.html the plan would "
        "replace (give hydra.run.dir=<new folder>)"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([marker, "report.html"])
    assert (out / "report.html").read_text() == "the earlier run's page" and not reached
    run, plan = _ads_plan()
    with pytest.raises(ConfigError, match="holds " + owner):  # the Python API refuses it too, before the study
        make_plan(run, plan, out, evaluator=LocalEvaluator(1), progress=False)
    assert not (out / "study.journal").exists()
    (out / marker).unlink()  # a folder of a user's files: refused too (it was taken, and its report.html replaced)
    assert "this one holds files of no opsim plan (report.html)" in _refused_plan(
        [*TINY, f"hydra.run.dir={out}"], capsys
    )
    (out / "opsim-plan.log").write_text("")  # the other side: a plan's own folder goes on to Hydra
    main([*TINY, f"hydra.run.dir={out}"])
    assert len(reached) == 1 and capsys.readouterr().err == ""


def test_a_plan_into_an_empty_folder_path_or_a_users_files_is_refused(tmp_path, capsys, monkeypatch):
    """``hydra.run.dir=`` ($OUT unset) wrote the plan into the current folder; a folder of notes was taken."""
    from sim.app.plan import check_plan_folder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    line = _refused_plan([*TINY, "hydra.run.dir="], capsys)
    assert line.startswith("opsim-plan: error: hydra.run.dir='' is not allowed: a folder path, not an empty one")
    line = _refused_plan([*TINY, f"hydra.run.dir={tmp_path}"], capsys)
    assert "this one holds files of no opsim plan (notes.txt)" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    made = tmp_path / "made"
    (made / ".hydra").mkdir(parents=True)  # the other side: what Hydra made for the plan's own task
    check_plan_folder(made)


@pytest.mark.parametrize(
    ("content", "line"), [("garbage\n", "line 1: JSONDecodeError"), ('{"op_code": 0}\n[1]\n', "line 2: not a journal")]
)
def test_a_journal_that_is_not_a_study_is_one_line_and_left_as_it_was(content, line, tmp_path, capsys):
    out = tmp_path / "damaged"
    out.mkdir()
    (out / "study.journal").write_text(content)
    with pytest.raises(SystemExit) as info:
        main([*TINY, f"hydra.run.dir={out}", "plan.trials=2", "plan.batch_size=2"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"opsim-plan: error: hydra.run.dir='{out}' is not allowed: a folder without a damaged study: its "
            f"study.journal cannot be read as a plan's study ({line}"
        )
    )
    assert (out / "study.journal").read_text() == content


def test_a_bare_string_for_load_plan_config_says_to_write_a_list():
    with pytest.raises(TypeError, match=re.escape("not a single string: write ['plan=quarter_growth']")):
        load_plan_config("plan=quarter_growth")
    _run, plan = load_plan_config(["plan=quarter_growth"])  # the other side: the list it asks for
    assert plan.name == "quarter_growth"


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        (["plan.name=''"], "plan.name=''"),
        (["plan.name='  '"], "plan.name='  '"),
        (["plan.name=a/b"], "plan.name='a/b'"),
        (["plan.name=.."], "plan.name='..'"),
        (["plan.name='运营计划'"], None),  # any other name, Chinese included
        (["plan.name=q3.v2"], None),
        ([*(least := ["plan.objective=least_spend", "plan.target.metric=d30"]), "plan.target.value=1.01"], "=1.01"),
        ([*least, "plan.target.value=0", "horizon_days=60"], "plan.target.value=0 "),
        ([*least, "plan.target.value=1", "horizon_days=31"], None),  # a share of 1: allowed, day 30 observed
        ([*least, "plan.target.value=0.05", "horizon_days=30"], "horizon_days=30"),  # day 30 is not observed
        (["plan.objective=least_spend", "plan.target.value=2", "horizon_days=30"], None),  # users, not a share
    ],
)
def test_plan_names_and_retention_targets_are_checked_before_anything_runs(overrides, refused):
    argv = ["plan=quarter_growth", *overrides]
    if refused is None:
        load_plan_config(argv)
        return
    with pytest.raises(ConfigError) as info:
        load_plan_config(argv)
    assert str(info.value).startswith(refused) or refused in str(info.value).split(" is not allowed")[0]


def test_the_memory_check_counts_the_runs_a_plan_steps_at_once():
    from sim.app.plan import side_by_side

    _run, plan = _ads_plan()
    assert side_by_side(replace(plan, workers=64, batch_size=4, seeds=4)) == 16  # a batch: 4 candidates x 4 seeds
    assert side_by_side(replace(plan, workers=3, batch_size=4, seeds=4)) == 3
    assert side_by_side(replace(plan, workers=64, batch_size=4, seeds=4, mode="response")) == 64
    assert side_by_side(replace(plan, workers=0, batch_size=1000, seeds=1000)) == (os.cpu_count() or 1)


# ------------------------------------------------------- a new variable from the command line
#: quarter_growth plus a variable added from the command line, its keys set one by one.
NEW_VARIABLE = [
    "+add@plan.variables.onboarding=variable",
    "plan.variables.onboarding.key=strategy.onboarding.days",
    "plan.variables.onboarding.low=1",
    "plan.variables.onboarding.high=14",
]


@pytest.mark.parametrize(
    "overrides",
    [
        NEW_VARIABLE,
        # its keys in one mapping, once it is added
        [NEW_VARIABLE[0], "plan.variables.onboarding={key: strategy.onboarding.days, low: 1, high: 14}"],
    ],
    ids=["key by key", "one mapping"],
)
def test_a_variable_added_from_the_command_line_is_planned(overrides):
    """``+plan.variables.ob={...}`` and ``+plan.variables.ob.key=...`` failed with OmegaConf's 'dict is not a
    subclass of VariableConfig' and no way to add a variable from the command line."""
    _run, plan = _load(*overrides)
    assert plan.variables["onboarding"] == VariableConfig(key="strategy.onboarding.days", low=1.0, high=14.0)
    assert list(plan.variables) == ["search", "social", "referral", "push", "onboarding"]


@pytest.mark.parametrize(
    "override",
    [
        "+plan.variables.ob={key: strategy.onboarding.days, low: 1, high: 14}",
        "+plan.variables.ob.key=strategy.onboarding.days",
        "++plan.variables.ob={key: strategy.onboarding.days}",
        "plan.variables.ob.key=strategy.onboarding.days",
    ],
)
def test_a_variable_given_without_add_says_how_to_add_it(tmp_path, capsys, override):
    """Hydra cannot make a typed entry from a value: the line says what to write (it said 'ob=None is not allowed')."""
    out = tmp_path / "never"
    line = _refused_plan([*TINY, override, f"hydra.run.dir={out}"], capsys)
    assert line.startswith("opsim-plan: error: plan.variables.ob") and not out.exists()
    assert line.endswith(
        "is not allowed: plan.variables has no entry 'ob': create it first with +add@plan.variables.ob=variable, "
        "then set its keys"
    ), line


def test_opsim_refuses_a_plans_variable_and_leaves_it_out_of_its_help(capsys):
    """A run's config has no plan: the entry is named as opsim-plan's (the other side of the test above)."""
    from sim.app.cli import main as opsim_main

    with pytest.raises(ConfigError, match=re.escape("an entry for opsim-plan (plan.variables is a plan's: opsim-plan")):
        compose(["+add@plan.variables.x=variable"])
    with pytest.raises(SystemExit):
        opsim_main(["--help"])
    assert "add: channel, segment, viral_event\n" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "add: channel, segment, variable, viral_event\n" in capsys.readouterr().out


# ------------------------------------------------------------------ figure titles
#: A planned ad channel with a long name: its key has no space for matplotlib's wrap to break at.
LONG_KEY = "strategy.paid_ads.a_rather_long_channel_name_for_tiktok_in_asia_and_europe.daily_budget"


def _titles_outside(fig) -> list[str]:
    """The titles (of each Axes, and the figure's) whose window extent is not wholly inside the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer, bounds = canvas.get_renderer(), fig.bbox
    titles = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]
    titles += [fig._suptitle] if fig._suptitle is not None else []
    outside = []
    for text in (t for t in titles if t.get_text()):
        box = text.get_window_extent(renderer)
        if box.x0 < bounds.x0 or box.x1 > bounds.x1 or box.y0 < bounds.y0 or box.y1 > bounds.y1:
            outside.append(text.get_text())
    return outside


def _plan_figures() -> dict[str, object]:
    from matplotlib.figure import Figure

    from sim.output import plan_report

    def narrow():  # a notebook's own 4-inch Axes, as a user's would be
        return Figure(figsize=(4, 4)).add_subplot()

    summary = {
        "allocation": {
            "tiktok": {"key": LONG_KEY, "value": 100.0, "lever_spend": 3000.0},
            "push": {"key": "strategy.push.messages_per_week", "value": 3.0, "lever_spend": 100.0},
        },
        "currency": "USD",
        "total_spend": 3100.0,
        "budget": 5000.0,
    }
    levels = (0.0, 10.0, 20.0, 30.0)
    response = pd.DataFrame(
        [
            {"variable": name, "value": x, "lever_spend": 30 * x, "incremental_gross_profit": x}
            | {"incremental_gross_profit_low": x - 1, "incremental_gross_profit_high": x + 1}
            for name in ("tiktok",)  # one panel, 5.2 inches wide
            for x in levels
        ]
    )
    metric = "incremental_profit"
    frontier = pd.DataFrame({"budget": [1e3, 2e3], metric: [1.0, 2.0], f"{metric}_low": 0.0, f"{metric}_high": 3.0})
    trials = pd.DataFrame({"trial": [0, 1], "score": [1.0, 2.0], "feasible": [True, False]})
    return {
        "allocation on a 4-inch Axes": plan_report.allocation_figure(summary, ax=narrow()),
        "frontier on a 4-inch Axes": plan_report.frontier_figure(frontier, metric, "USD", ax=narrow()),
        "history on a 4-inch Axes": plan_report.history_figure(trials, True, ax=narrow()),
        "response of a long key": plan_report.response_figure(response, summary),
    }


@pytest.mark.parametrize("name", list(_plan_figures()))
def test_the_plans_figure_titles_stay_inside_the_figure(name):
    """The frontier's title ran 61 px past a 4-inch Axes' figure, and a long channel's key past its response panel."""
    assert _titles_outside(_plan_figures()[name]) == []


def test_a_keys_title_is_broken_after_a_dot_only_where_it_is_too_long():
    from sim.output.plan_report import key_title

    assert key_title("strategy.paid_ads.search.daily_budget") == "paid_ads.search.daily_budget"
    assert key_title(LONG_KEY) == "paid_ads.\na_rather_long_channel_name_for_tiktok_in_asia_and_europe.\ndaily_budget"
    fits = "paid_ads.channel_of_18_char.daily_budget"  # KEY_TITLE_CHARS = 40 characters: one line
    assert len(fits) == 40 and key_title(f"strategy.{fits}") == fits
    assert key_title("strategy.paid_ads.channel_of_19_chars.daily_budget") == (
        "paid_ads.channel_of_19_chars.\ndaily_budget"  # 41 on one line: 1 too many
    )


# --------------------------------------------------------------- a Ray address that is no Ray head
class _FakeHead:
    """A local TCP server that accepts and then says ``answer`` (nothing: b""), as a port that is no Ray head would.

    A Ray head's GCS is a gRPC server: it answers an HTTP/2 client's preface with a SETTINGS frame, as
    ``answer=SETTINGS_FRAME`` does here.
    """

    def __init__(self, answer: bytes) -> None:
        import socket
        import threading

        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.answer, self.connections = answer, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:  # closed
                return
            self.connections.append(conn)
            if self.answer:
                conn.sendall(self.answer)

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.server.close()


#: An empty HTTP/2 SETTINGS frame: 3 bytes of length 0, type 4, flags 0, stream 0.
SETTINGS_FRAME = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


#: quarter_growth planning social, referral and push: search stays at its 555 a day, 16,650 over TINY's window.
ALL_BUT_SEARCH = ["~plan.variables.search"]


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        # nothing left for the planned levers: SLSQP's bounds were inverted, a traceback after 48 simulations
        (["plan.mode=response", "plan.budget=16650"], "more than 16,650 with plan.mode=response"),
        (["plan.mode=response", "plan.budget=16651"], None),
        (["plan.mode=search", "plan.budget=16650"], None),  # search mode: a plan that spends nothing more fits
        # min_spend passed against the whole budget, with 350 left after search's 16,650
        (["plan.budget=17649", "plan.variables.social.min_spend=1000"], "at least 17,650, the spend that every plan"),
        (["plan.budget=17650", "plan.variables.social.min_spend=1000"], None),
        # social planned at a low of 100 a day (3,000) and a min_spend of 1,000: the larger counts, once
        (["plan.budget=19649", "plan.variables.social.low=100", "plan.variables.social.min_spend=1000"], "19,650"),
        (["plan.budget=19650", "plan.variables.social.low=100", "plan.variables.social.min_spend=1000"], None),
    ],
)
def test_a_budget_below_unplanned_ad_spend_plus_min_spend_is_refused_up_front(tmp_path, capsys, overrides, refused):
    """The unplanned channels' spend and the planned levers' min_spend were checked apart, each against the budget."""
    argv = [*ALL_BUT_SEARCH, *overrides]
    if refused is None:
        _run, plan = _load(*argv)
        assert "search" not in plan.variables
        return
    out = tmp_path / "never"
    line = _refused_plan([*TINY, *argv, f"hydra.run.dir={out}"], capsys)
    assert line.startswith("opsim-plan: error: plan.budget=") and refused in line and not out.exists()


def test_response_mode_with_almost_nothing_left_for_the_planned_levers_ends_with_a_plan(tmp_path):
    """1 left for social, referral and push: the referral lever's least spend is above it (a traceback, exit 1)."""
    from sim.app.plan import planned_budget

    run, plan = _load(*ALL_BUT_SEARCH, "plan.mode=response", "plan.budget=16651")
    assert planned_budget(run, plan) == pytest.approx(1.0)
    result = make_plan(run, plan, tmp_path / "p", evaluator=LocalEvaluator(1), progress=False)
    assert result.best.lever_spend("paid_ads_search") == pytest.approx(16_650.0)
    assert result.best.values["social"] == pytest.approx(0.0, abs=1.0)  # nothing to give: its low


def _search_planned_only_on(knob: str, low: float, high: float, budget: float) -> list[str]:
    """Overrides of a plan whose only search variable is ``knob`` (social planned from 0), with ``budget``."""
    return [
        "+add@plan.variables.ss=variable",
        f"plan.variables.ss.key=strategy.paid_ads.search.{knob}",
        f"plan.variables.ss.low={low}",
        f"plan.variables.ss.high={high}",
        "~plan.variables.search",
        "~plan.variables.referral",
        "~plan.variables.push",
        f"plan.budget={budget}",
    ]


@pytest.mark.parametrize(
    ("knob", "budget", "refused"),
    [
        # start_day planned: was refused as "search: 16,650, not planned" though start_day >= 2 fits 16,000
        ("schedule.start_day", 16_000, None),
        ("schedule.start_day", 1, None),  # its spend moves with the schedule: nothing counted
        ("cpm", 16_649, "at least 16,650"),  # cpm leaves the spend as it is: 555 a day x 30, planned or not
        ("cpm", 16_650, None),
    ],
)
def test_a_variable_on_any_knob_of_an_ad_channel_plans_it(tmp_path, capsys, knob, budget, refused):
    """Only a variable on ``daily_budget`` made a channel planned; one on its schedule left it "not planned".

    Search's budget is not planned, its ``knob`` is; social's budget is planned from 0.
    """
    from sim.app.plan import planned_budget
    from sim.app.plan_config import ad_spend_every_plan_has, unplanned_ad_spend

    low, high = (0, 29) if knob == "schedule.start_day" else (1, 20)
    argv = _search_planned_only_on(knob, low, high, budget)
    if refused is not None:
        out = tmp_path / "never"
        line = _refused_plan([*TINY, *argv, f"hydra.run.dir={out}"], capsys)
        assert "strategy.paid_ads.search: 16,650, planned" in line and refused in line and not out.exists()
        return
    # response mode refuses a cpm (it moves no spend): that plan is checked in search mode
    run, plan = _load(*argv, *(["plan.mode=response"] if knob == "schedule.start_day" else []))
    assert unplanned_ad_spend(run, plan) == {}
    assert planned_budget(run, plan) == budget  # nothing taken off for search either
    spent = ad_spend_every_plan_has(run, plan)
    assert spent == ({} if knob == "schedule.start_day" else {"strategy.paid_ads.search": 16_650.0})


@pytest.fixture
def quick_answer(monkeypatch):
    """The wait for a head's answer cut to 0.5 s (the command waits RAY_ANSWER_TIMEOUT_S = 5 s)."""
    monkeypatch.setattr("sim.app.plan_eval.RAY_ANSWER_TIMEOUT_S", 0.5, raising=False)


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        (b"", "it accepted the connection but did not answer as a Ray head within 0.5 s"),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "it answered, but not as a Ray head (a gRPC server) does"),
        (SETTINGS_FRAME, None),  # the other side: what a Ray head answers (checked against a real one, ray 2.60)
    ],
    ids=["silent", "http/1", "gRPC"],
)
def test_a_port_that_accepts_but_is_no_ray_head_is_refused_in_bounded_time(
    tmp_path, capsys, quick_answer, answer, refused
):
    """A port that accepted and said nothing passed the check, and ray.init then waited on it without end."""
    from sim.app.plan_eval import check_ray_answers

    head = _FakeHead(answer)
    try:
        if refused is None:
            check_ray_answers(head.address)
            check_ray_answers(f"ray://{head.address}")
            return
        started = time.perf_counter()
        with pytest.raises(ConfigError, match=re.escape(refused)):  # it passed: the command then waited on ray.init
            check_ray_answers(head.address)
        out = tmp_path / "never"
        line = _refused_plan([*TINY, f"hydra.run.dir={out}", f"plan.ray_address={head.address}"], capsys)
        assert time.perf_counter() - started < 30  # each wait bounded
    finally:
        head.close()
    assert line.startswith(f"opsim-plan: error: plan.ray_address='{head.address}' is not allowed: ")
    assert f"a Ray cluster that answers ({head.address}: {refused}); HOST:PORT" in line and not out.exists()


def test_auto_without_a_cluster_on_this_machine_is_refused_with_exit_2(tmp_path, capsys, monkeypatch, quick_answer):
    """``plan.ray_address=auto`` with no cluster running ended in ray.init's ConnectionError: exit 1, a folder made."""
    import ray._private.services as ray_services

    def none_running(address, temp_dir=None):  # what Ray raises when it finds no cluster running here
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray_services, "canonicalize_bootstrap_address", none_running)
    out = tmp_path / "never"
    line = _refused_plan([*TINY, f"hydra.run.dir={out}", "plan.ray_address=auto"], capsys)
    assert line == (
        "opsim-plan: error: plan.ray_address='auto' is not allowed: a Ray cluster running on this machine (none is: "
        "start one with 'ray start --head', give its HOST:PORT, or 'local' to start one for the plan)"
    )
    assert not out.exists()
    from sim.app.plan_eval import check_ray_answers

    head = _FakeHead(SETTINGS_FRAME)  # the other side: the cluster Ray finds is asked, and answers
    monkeypatch.setattr(ray_services, "canonicalize_bootstrap_address", lambda address, temp_dir=None: head.address)
    try:
        check_ray_answers("auto")
    finally:
        head.close()


def test_auto_reads_ray_address_as_the_user_set_it(tmp_path, capsys, monkeypatch, quick_answer):
    """``RAY_ADDRESS=ray://…`` (which ray.init reads) ended in Ray's ValueError traceback, exit 1; and
    ``RAY_ADDRESS=127.0.0.1:PORT`` was named by Ray's rewritten host (this machine's address), not as given."""
    from sim.app.plan_eval import check_ray_answers

    closed = _FakeHead(b"")
    closed.close()  # a port nothing listens on any more
    out = tmp_path / "never"
    cases = {
        f"ray://{closed.address}": f"a Ray cluster that answers (RAY_ADDRESS=ray://{closed.address}: ",
        closed.address: f"a Ray cluster that answers (RAY_ADDRESS={closed.address}: ",
        "bogus": "a Ray address in the environment's RAY_ADDRESS, which auto reads: RAY_ADDRESS='bogus' is none",
    }
    for env, refused in cases.items():
        monkeypatch.setenv("RAY_ADDRESS", env)
        line = _refused_plan([*TINY, f"hydra.run.dir={out}", "plan.ray_address=auto"], capsys)
        assert line.startswith(f"opsim-plan: error: plan.ray_address='auto' is not allowed: {refused}"), line
        assert not out.exists()
    head = _FakeHead(SETTINGS_FRAME)  # the other side: the head RAY_ADDRESS names answers, through Ray Client too
    try:
        for env in (head.address, f"ray://{head.address}"):
            monkeypatch.setenv("RAY_ADDRESS", env)
            check_ray_answers("auto")
    finally:
        head.close()


# --- the twenty-fifth mutation run (docs/mutation.md): the planner's checks at their boundaries ----


@pytest.mark.parametrize(
    ("high", "refused"),
    [
        (
            1.0,
            "plan.variables.push.high=1 is not allowed: less than 1, as strategy.paid_ads.search.adstock.decay must",
        ),
        (0.99, None),  # the other side: below the knob's exclusive maximum (lt=1)
    ],
)
def test_a_high_bound_at_a_knobs_exclusive_maximum_is_refused(high, refused):
    """Adstock decay must be below 1: a high of 1 would be refused only by the trial that reached it."""
    overrides = [
        "plan.variables.push.key=strategy.paid_ads.search.adstock.decay",
        "plan.variables.push.low=0.1",
        f"plan.variables.push.high={high}",
    ]
    if refused is None:
        assert _load(*overrides)[1].variables["push"].high == high
        return
    with pytest.raises(ConfigError, match=re.escape(refused)):
        _load(*overrides)


@pytest.mark.parametrize(
    ("knob", "low", "high"),
    [
        ("adstock.decay", 0.1, 0.9),
        ("saturation.half_saturation", 0.1, 2.0),
        ("quality.churn_multiplier", 0.5, 2.0),
        ("conversion_multiplier", 0.5, 2.0),
    ],
)
@pytest.mark.parametrize(("budget", "refused"), [(16_649, True), (16_650, False)])
def test_a_variable_on_a_knob_that_leaves_the_spend_as_it_is_counts_the_channels_budget(
    knob, low, high, budget, refused
):
    """Search planned only on ``knob`` spends its 555 a day x 30 = 16,650 in every trial, as with cpm."""
    argv = _search_planned_only_on(knob, low, high, budget)
    if refused:
        with pytest.raises(ConfigError, match=r"at least 16,650, .*strategy\.paid_ads\.search: 16,650, planned"):
            _load(*argv)
        return
    _run, plan = _load(*argv)
    assert set(plan.variables) == {"ss", "social"}


@pytest.mark.parametrize(("budget", "refused"), [(19_649, True), (19_650, False)])
def test_a_per_period_budget_at_its_low_counts_every_period_of_the_window(budget, refused):
    """Search per period of 10 days at a low of 100 a day: 3 periods x 10 days x 100 = 3,000, plus social's 16,650."""
    argv = [
        *SEARCH_ONLY,
        "plan.variables.search.per_period=true",
        "plan.period_days=10",
        "plan.variables.search.low=100",
        f"plan.budget={budget}",
    ]
    if refused:
        with pytest.raises(ConfigError, match="at least 19,650, the spend that every plan has"):
            _load(*argv)
        return
    assert _load(*argv)[1].variables["search"].per_period


@pytest.mark.parametrize("marker", ["meta.json", "SUMMARY.json"])
def test_a_folder_with_a_runs_meta_or_a_sweeps_summary_is_refused_too(tmp_path, marker):
    """The two markers the parametrised test above does not try: each is refused by itself."""
    from sim.app.plan import check_plan_folder

    (tmp_path / marker).write_text("{}")
    with pytest.raises(ConfigError, match=re.escape(f"({marker})")):
        check_plan_folder(tmp_path)
    (tmp_path / marker).unlink()
    check_plan_folder(tmp_path)  # the other side: the same folder without it


@pytest.mark.parametrize(
    ("low", "high", "value", "stepped"),
    [
        (1, 11, 10.0, 11.0),  # 10.5 rounds to 10, at least one more: 11, exactly high, is taken
        (1, 10, 10.0, 9.0),  # at high: 9.5 rounds (to even) back to 10, at least one less: 9
        (9, 10, 10.0, 9.0),
        (10, 11, 11.0, 10.0),  # 11 x 0.95 = 10.45 rounds to 10, its low
    ],
)
def test_a_whole_number_knob_steps_by_at_least_1_for_its_marginal_roi(low, high, value, stepped):
    from sim.app.plan import marginal_value

    run, plan = _ads_plan()
    variable = VariableConfig(key="strategy.onboarding.days", low=low, high=high)
    assert marginal_value(run, plan, variable, value) == stepped


@pytest.mark.parametrize(("low", "stepped"), [(1000, 1000.0), (900, 1005 * 0.95)])
def test_a_step_down_from_near_high_stops_at_the_variables_low(low, stepped):
    """Search at 1,005 a day with high 1,010: 5 % up passes high, so 5 % down, 954.75, unless that passes low."""
    from sim.app.plan import marginal_value

    run, plan = _ads_plan()
    variable = VariableConfig(key="strategy.paid_ads.search.daily_budget", low=low, high=1010)
    assert marginal_value(run, plan, variable, 1005.0) == pytest.approx(stepped)


def test_only_a_search_plan_is_checked_against_the_study_in_its_folder(tmp_path):
    """Response mode uses no study: the same plan in response mode in its search folder (another hash) goes on."""
    from sim.app.plan import _open_study, check_study

    run, plan = _ads_plan(budget=15_000.0)
    _open_study(tmp_path, run, plan)  # the study a search plan leaves, its settings recorded
    check_study(tmp_path, run, plan)  # the same search plan: its own study
    check_study(tmp_path, run, replace(plan, mode="response"))
    with pytest.raises(ConfigError, match="a folder without another plan's study"):
        check_study(tmp_path, run, replace(plan, budget=20_000.0))  # the other side: a search of other settings
