"""``opsim-plan``: the budget allocation that pays best, with uncertainty, under a total budget.

A plan (``conf/plan/<name>.yaml``, schema :mod:`sim.app.plan_config`) names decision
variables (lever knobs by config key, with bounds, optionally per period of the spend
window), a budget B, an objective and a risk measure. Every candidate is simulated on
the same K seeds as the baseline (common random numbers; the baseline runs once per
seed and is reused), and scored by the mean or the CVaR of its per-seed objective
(:mod:`sim.analysis.planning`).

**Search** (``mode: search``): Optuna's ask-and-tell interface with a seeded sampler
(multivariate TPE by default) and constraints — mean spend ≤ B, each variable's
``min_spend``/``max_spend`` on its lever's spend, ``period_cap`` on every period's
spend, and for ``least_spend`` the target. Trials are asked in batches of
``batch_size``, simulated in parallel (local processes or Ray) and told in trial order;
the sampler is re-seeded from (``sampler_seed``, trial number) before each ask, so the
same seeds and trial budget give the same plan however many workers run them, and a
killed study resumed from its storage file ends with the same plan as an uninterrupted
one (the unfinished batch is completed first, with the same asks).

**Response curves** (``mode: response``): each variable's lever is simulated alone at
``response_levels`` values on the same seeds; its incremental gross profit against its
spend is fitted with a saturating curve; the budget is split by equalising marginal
ROI (scipy SLSQP); the allocation is mapped back to knob values and verified by
simulation.

Outputs in the run folder (``plans/<plan.name>`` unless ``hydra.run.dir`` says
otherwise): ``plan.json``, ``trials.parquet``, ``frontier.parquet``,
``response.parquet``, ``best_strategy.yaml`` (also as ``strategy/best_strategy.yaml``,
so ``opsim --config-dir <folder> strategy=best_strategy`` runs it), ``study.journal``
(the Optuna storage: rerunning the same command continues it), figures and
``report.html``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import open_dict

from sim.analysis.planning import (
    allocate_by_marginal_roi,
    fit_response_curve,
    frontier,
    metric_interval,
    risk_value,
)
from sim.analysis.stats import t_interval
from sim.app.config import Config, compose, config_dir
from sim.app.exits import EXIT_BAD_INPUT, EXIT_INTERRUPTED, fail, interrupted
from sim.app.output_folder import (
    check_folder,
    check_not_blank,
    check_own_folder,
    outermost_missing,
    remove_hydra_files,
)
from sim.app.plan_config import (
    PLAN_CONFIG_NAME,
    RESPONSE_KNOB_RULE,
    PlanConfig,
    VariableConfig,
    knob_is_whole,
    load_plan_config,
    plan_periods,
    register_plan_schema,
    unplanned_ad_spend,
)
from sim.app.plan_eval import (
    Evaluator,
    Outcome,
    apply_values,
    baseline_config,
    check_ray_answers,
    make_evaluator,
    seed_metrics,
)
from sim.base.errors import ConfigError, OpsimError, first_line
from sim.base.float_sum import sum_in_order
from sim.levers.strategy import MULTI_LEVERS, SINGLE_LEVERS
from sim.output import folders
from sim.output.completion import NOT_IN_HASH, code_fingerprint
from sim.output.files import json_ready

__all__ = ["PlanResult", "check_plan_folder", "main", "make_plan", "write_plan"]

log = logging.getLogger("opsim")
#: The command's name, which starts each line it prints for an error or an interruption.
PROG = "opsim-plan"

STUDY_NAME = "plan"
STORAGE_FILE = folders.PLAN_JOURNAL
#: Objectives that are minimised (the rest are maximised).
MINIMISED = ("least_spend",)
#: Per-seed metrics reported for the plan and the base strategy.
PLAN_METRICS = ("incremental_profit", "incremental_roi", "incremental_users", "cost", "d30")
#: How much worse than any real score an infeasible CMA-ES trial is told (CMA-ES ignores constraints).
INFEASIBLE_PENALTY = 1e12


# ----------------------------------------------------------------------------- variables
def lever_label(key: str) -> str:
    """The ``cost_<label>`` column of the lever a config key belongs to."""
    parts = key.split(".")
    if parts[1] in MULTI_LEVERS:
        return f"{MULTI_LEVERS[parts[1]].kind}_{parts[2]}"
    return SINGLE_LEVERS[parts[1]].kind


def _spend_days(run: Config, key: str, days: range) -> int:
    """Days in ``days`` on which the ad channel of a ``daily_budget`` key spends (schedule ∩ spend window)."""
    parts = key.split(".")
    channel = run.strategy.paid_ads[parts[2]]
    window = run.strategy.spend_window
    start = run.population.start_weekday
    return sum(channel.schedule.is_on(d, (start + d) % 7) and window.contains(d) for d in days)


def search_high(run: Config, plan: PlanConfig, var: VariableConfig) -> float:
    """The upper bound searched: ``high``, cut for an ad budget at what alone would spend the whole budget.

    A daily budget b on n spending days costs n·b for sure, so values above B / n can never
    be in a plan; searching only up to there spends the trials where plans can be.
    """
    parts = var.key.split(".")
    if parts[1] != "paid_ads" or parts[-1] != "daily_budget":
        return var.high
    if var.per_period:
        start = run.strategy.spend_window.start_day
        spans = [
            range(start + p * plan.period_days, start + (p + 1) * plan.period_days)
            for p in range(plan_periods(run, plan))
        ]
        days = min((_spend_days(run, var.key, span) for span in spans), default=0)
    else:
        days = _spend_days(run, var.key, range(run.horizon_days))
    return var.high if days == 0 else max(var.low, min(var.high, plan.budget / days))


def _dimensions(run: Config, plan: PlanConfig) -> list[tuple[str, str, VariableConfig]]:
    """(parameter name, variable name, spec): one per variable, one per period for per-period variables."""
    periods = plan_periods(run, plan)
    out = []
    for name, var in plan.variables.items():
        if var.per_period:
            out += [(f"{name}[{p}]", name, var) for p in range(periods)]
        else:
            out.append((name, name, var))
    return out


def _values(run: Config, plan: PlanConfig, params: dict[str, float]) -> dict[str, Any]:
    """Optuna parameters → variable values (lists for per-period variables)."""
    values: dict[str, Any] = {}
    for param, name, var in _dimensions(run, plan):
        if var.per_period:
            values.setdefault(name, []).append(float(params[param]))
        else:
            values[name] = float(params[param])
    return values


def _current_values(run: Config, plan: PlanConfig) -> dict[str, Any] | None:
    """The base strategy's own knob values, if every one lies within the plan's bounds (else None)."""
    values = {}
    for name, var in plan.variables.items():
        node: Any = run
        for part in var.key.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part, None)
            if node is None:
                return None
        if var.per_period or not var.low <= float(node) <= var.high:
            return None
        values[name] = float(node)
    return values


# ------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    """One evaluated plan: its variable values and what it did on every seed."""

    values: dict[str, Any]
    outcomes: list[Outcome]
    metrics: list[dict[str, float]]
    score: float = float("nan")
    constraints: dict[str, float] = field(default_factory=dict)

    @property
    def spend(self) -> float:
        """Mean spend over seeds."""
        return float(np.mean([o.cost for o in self.outcomes]))

    @property
    def feasible(self) -> bool:
        """Every constraint ≤ 0."""
        return all(v <= 0 for v in self.constraints.values())

    def series(self, metric: str) -> np.ndarray:
        """Per-seed values of a metric."""
        return np.array([m[metric] for m in self.metrics], dtype=float)

    def lever_spend(self, label: str) -> float:
        """Mean spend of one lever."""
        return float(np.mean([o.cost_by_lever.get(label, 0.0) for o in self.outcomes]))


class Planner:
    """Evaluates candidates of one plan on its seeds, against a cached baseline.

    Args:
        run: The base run config (market, base strategy, horizon, economics).
        plan: The plan.
        evaluator: Where simulations run.
        on_simulated: Called with the number of simulations each batch ran, from the
            baseline's on (a progress bar's ``update``); the attribute of that name may be
            set again later.

    """

    def __init__(
        self,
        run: Config,
        plan: PlanConfig,
        evaluator: Evaluator,
        on_simulated: Callable[[int], object] | None = None,
    ) -> None:
        self.run, self.plan, self.evaluator = run, plan, evaluator
        self.seeds = list(range(run.seed, run.seed + plan.seeds))
        self.margin = run.economics.margin
        self.simulations = 0
        self.step_seconds = 0.0
        #: Called with the number of simulations each batch ran (a progress bar's ``update``), or None.
        self.on_simulated = on_simulated
        self.baseline = self._simulate([baseline_config(run)])[0]

    def _simulate(self, configs: Sequence[Config]) -> list[list[Outcome]]:
        tasks = [(cfg, seed, self.plan.period_days) for cfg in configs for seed in self.seeds]
        outcomes = self.evaluator.map(tasks)
        self.simulations += len(outcomes)
        self.step_seconds += sum(o.step_seconds for o in outcomes)
        if self.on_simulated is not None:
            self.on_simulated(len(outcomes))
        k = len(self.seeds)
        return [outcomes[i * k : (i + 1) * k] for i in range(len(configs))]

    def evaluate(self, values_list: Sequence[dict[str, Any]]) -> list[Candidate]:
        """Simulate candidates on every seed and score them."""
        configs = [apply_values(self.run, self.plan, v) for v in values_list]
        return [self._score(v, o) for v, o in zip(values_list, self._simulate(configs), strict=True)]

    def evaluate_config(self, cfg: Config) -> Candidate:
        """A whole run config (e.g. the base strategy) as a candidate without variable values."""
        return self._score({}, self._simulate([cfg])[0])

    def _score(self, values: dict[str, Any], outcomes: list[Outcome]) -> Candidate:
        metrics = [seed_metrics(o, b, self.margin) for o, b in zip(outcomes, self.baseline, strict=True)]
        cand = Candidate(values, outcomes, metrics)
        plan = self.plan
        risk = plan.risk
        if plan.objective == "least_spend":
            cand.score = cand.spend
            reached = risk_value(cand.series(plan.target.metric), risk.measure, risk.alpha)
            cand.constraints["target"] = plan.target.value - reached if np.isfinite(reached) else 1.0
        else:
            cand.score = risk_value(cand.series(plan.objective), risk.measure, risk.alpha)
        cand.constraints["budget"] = cand.spend - plan.budget
        for name, var in plan.variables.items():
            spent = cand.lever_spend(lever_label(var.key))
            if var.min_spend is not None:
                cand.constraints[f"{name}.min_spend"] = var.min_spend - spent
            if var.max_spend is not None:
                cand.constraints[f"{name}.max_spend"] = spent - var.max_spend
        if plan.period_cap is not None:
            periods = np.mean([o.spend_by_period for o in outcomes], axis=0)
            cand.constraints["period_cap"] = float(periods.max()) - plan.period_cap
        return cand


# ----------------------------------------------------------------------------- search
#: Run settings that change no trial: how it is shown and how its chunks are stepped (results are bit-identical).
RUN_KEYS_NOT_IN_STUDY = (*NOT_IN_HASH, "figures")


def _plan_hash(run: Config, plan: PlanConfig) -> str:
    """What a study's trials depend on: the run config and the plan settings the search uses.

    Left out: the trial budget, workers and Ray address (how many trials, where), what is
    computed after the search (``frontier_budgets``, ``marginal_step``), the plan's
    ``description``, and the run's ``progress``, ``threads``, ``parallel``, ``kernels`` and
    ``figures``: a study stopped with Ctrl-C goes on with any of them changed.
    """
    searched = dataclasses.replace(
        plan, trials=0, workers=0, ray_address=None, frontier_budgets=[], marginal_step=0.0, description=""
    )
    run_part = {k: v for k, v in dataclasses.asdict(run).items() if k not in RUN_KEYS_NOT_IN_STUDY}
    text = json.dumps([run_part, dataclasses.asdict(searched)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


#: Run settings added since 2026-11-30 (none changes a trial): not in the earlier versions' study hash.
RUN_KEYS_ADDED_SINCE_2026_11_30 = ("kernels",)


def _plan_hash_before_2026_11_30(run: Config, plan: PlanConfig) -> str:
    """The study hash of earlier versions (every run setting, description and marginal step): their studies go on."""
    searched = dataclasses.replace(plan, trials=0, workers=0, ray_address=None, frontier_budgets=[])
    run_part = {k: v for k, v in dataclasses.asdict(run).items() if k not in RUN_KEYS_ADDED_SINCE_2026_11_30}
    text = json.dumps([run_part, dataclasses.asdict(searched)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _sampler(plan: PlanConfig, number: int) -> Any:
    """A sampler seeded from (``sampler_seed``, trial number): the same trial gets the same draws after a resume."""
    import optuna

    seed = int(np.random.SeedSequence([plan.sampler_seed, number]).generate_state(1)[0])
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if plan.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _distributions(run: Config, plan: PlanConfig) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    return {
        p: FloatDistribution(var.low, max(search_high(run, plan, var), var.low * (1 + 1e-9) + 1e-12), log=var.log)
        for p, _n, var in _dimensions(run, plan)
    }


def drop_torn_record(journal: Path) -> bool:
    """Cut a record that a killed study left half-written at the end of its journal; True if one was cut.

    Optuna's journal holds one JSON record per line and skips an unfinished last line
    when it reads, but a resumed study appends after it, fusing the two into one line
    that no later read can parse. The unfinished record was never committed, so it is
    dropped: the file is cut after its last complete line.
    """
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return False
    if not data or data.endswith(b"\n"):
        return False
    end = data.rfind(b"\n") + 1  # 0 when not even the first record is whole
    with journal.open("r+b") as f:
        f.truncate(end)
    log.warning("%s: dropped a half-written last record (%d bytes) left by a killed run", journal, len(data) - end)
    return True


def check_plan_folder(out: Path) -> None:
    """Refuse an output folder that holds another command's results (an ``opsim`` run or sweep) or a user's files.

    ``opsim-plan`` writes ``report.html`` (and Hydra ``.hydra/``) into its folder, so a plan
    there would replace that run's page or a user's own files. A plan folder of its own
    (a study, ``plan.json``) or a new or empty folder passes
    (:func:`sim.app.output_folder.check_own_folder`).

    Raises:
        ConfigError: Naming ``hydra.run.dir``, the folder and what marks it.

    """
    check_own_folder("hydra.run.dir", out, folders.PLAN)


#: What a folder holding a journal opsim-plan cannot read is refused for.
DAMAGED_JOURNAL = "a folder without a damaged study: its {file} cannot be read as a plan's study ({why}; " + (
    "delete it, or give hydra.run.dir=<new folder>)"
)


def _check_journal(out: Path) -> None:
    """Refuse a folder whose journal has a line that is not an Optuna journal record, before Optuna appends to it.

    Raises:
        ConfigError: Naming ``hydra.run.dir``, the file and the first line that is not a record.

    """
    try:
        lines = (out / STORAGE_FILE).read_bytes().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as exc:  # json's JSONDecodeError, or bytes that are not UTF-8
            record, why = None, f"{type(exc).__name__}: {first_line(exc)}"
        else:
            why = "not a journal record (no op_code)"
        if not (isinstance(record, dict) and "op_code" in record):
            where = f"line {number}: {why}"
            raise ConfigError("hydra.run.dir", str(out), DAMAGED_JOURNAL.format(file=STORAGE_FILE, why=where))


@contextlib.contextmanager
def _no_study_created_line() -> Iterator[None]:
    """Optuna's logging at WARNING for the block (no "A new study created" line), then as it was."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


#: Why a folder holding a study of other settings is refused.
OTHER_STUDY = (
    "a folder without another plan's study: this one holds a study of different settings, or one made by an "
    "opsim version whose run settings differ (delete {file}, or give hydra.run.dir=<new folder>)"
)


def _journal_storage(out: Path) -> Any:
    """The Optuna journal storage of ``out/study.journal``, refused in one line if it cannot be read as one."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    try:  # a journal that is not an Optuna journal (edited, another file of that name) fails as it is read
        return JournalStorage(JournalFileBackend(str(out / STORAGE_FILE)))
    except (ValueError, KeyError, TypeError) as exc:  # json's JSONDecodeError is a ValueError
        why = f"{type(exc).__name__}: {first_line(exc)}"
        raise ConfigError("hydra.run.dir", str(out), DAMAGED_JOURNAL.format(file=STORAGE_FILE, why=why)) from None


def _existing_study(out: Path, run: Config, plan: PlanConfig, *, readable: bool = True) -> Any | None:
    """The study already in ``out`` (None if there is none), refused unless it is this plan's; writes nothing.

    Args:
        out: The plan's folder.
        run: The run config.
        plan: The plan settings.
        readable: Refuse a journal that cannot be read (else: None, and the plan's own
            opening, which first drops a record torn by a kill, decides).

    Raises:
        ConfigError: A damaged journal (with ``readable``), or a study of other settings
            (:data:`OTHER_STUDY`).

    """
    import optuna

    if not (out / STORAGE_FILE).is_file():
        return None
    try:
        _check_journal(out)
        storage = _journal_storage(out)
    except ConfigError:
        if readable:
            raise
        return None
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage, sampler=_sampler(plan, 0))
    except KeyError:  # a journal without the study (killed before its first record)
        return None
    recorded = study.user_attrs.get("plan_hash")
    if recorded not in (None, _plan_hash(run, plan), _plan_hash_before_2026_11_30(run, plan)):
        raise ConfigError("hydra.run.dir", str(out), OTHER_STUDY.format(file=out / STORAGE_FILE))
    return study


def check_study(out: Path, run: Config, plan: PlanConfig) -> None:
    """Refuse, before anything is written, a folder whose study is another plan's (see :func:`_existing_study`)."""
    if plan.mode == "search":
        _existing_study(out, run, plan, readable=False)


def _open_study(out: Path, run: Config, plan: PlanConfig) -> Any:
    """The Optuna study in ``out/study.journal``, created or continued (refused, unwritten, if it is another plan's)."""
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    drop_torn_record(out / STORAGE_FILE)
    study = _existing_study(out, run, plan)  # the journal and the study checked before anything is appended
    if study is None:
        direction = "maximize" if plan.objective not in MINIMISED else "minimize"
        with _no_study_created_line():
            study = optuna.create_study(
                study_name=STUDY_NAME,
                storage=_journal_storage(out),
                direction=direction,
                load_if_exists=True,
                sampler=_sampler(plan, 0),
            )
    digest = _plan_hash(run, plan)
    recorded = study.user_attrs.get("plan_hash")
    if recorded is None:  # a new study, or one killed before its settings were recorded: the hash goes last
        space = _distributions(run, plan)
        floor = {p: d.low for p, d in space.items()}
        # trial 0: every knob at its low bound (spend nothing, if the lows allow); trial 1: the base
        # strategy's own knob values, where they lie within the bounds (every planned lever switched on,
        # as in every trial). skip_if_exists: not twice after a kill.
        study.enqueue_trial(floor, skip_if_exists=True)
        current = _current_values(run, plan)
        if current is not None and all(space[n].low <= v <= space[n].high for n, v in current.items()):
            study.enqueue_trial(current, skip_if_exists=True)
        study.set_user_attr("plan_hash", digest)
    elif recorded != digest:  # a study of an earlier version (_existing_study let it through): recorded anew
        study.set_user_attr("plan_hash", digest)
    return study


def _tell(study: Any, trial: Any, cand: Candidate, plan: PlanConfig) -> None:
    import optuna

    t = optuna.trial.Trial(study, trial._trial_id) if isinstance(trial, optuna.trial.FrozenTrial) else trial
    for key, value in cand.constraints.items():
        t.set_constraint(key, value)
    t.set_user_attr("per_seed", [{k: v for k, v in m.items()} for m in cand.metrics])
    t.set_user_attr("code", code_fingerprint())  # the code that made it (other_code_note)
    t.set_user_attr("spend", cand.spend)
    t.set_user_attr(
        "lever_spend", {lever_label(v.key): cand.lever_spend(lever_label(v.key)) for v in plan.variables.values()}
    )
    score = cand.score
    if not np.isfinite(score):
        score = -INFEASIBLE_PENALTY if plan.objective not in MINIMISED else INFEASIBLE_PENALTY
    if plan.sampler == "cmaes" and not cand.feasible:  # CMA-ES ignores constraints: penalise instead
        violation = sum_in_order(max(v, 0.0) for v in cand.constraints.values())
        score = (
            score - INFEASIBLE_PENALTY * violation
            if plan.objective not in MINIMISED
            else score + INFEASIBLE_PENALTY * violation
        )
    study.tell(trial.number if isinstance(trial, optuna.trial.FrozenTrial) else trial, score)


class _ReplaySampler:
    """Hands out given values: completes a trial whose values were drawn elsewhere (see ``_finish_ask``).

    It has the methods of Optuna's ``BaseSampler`` that a ``Trial`` calls (``optuna`` is
    imported only when a plan runs, so it is not subclassed here).
    """

    def __init__(self, values: dict[str, float]) -> None:
        self._values = values

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        return self._values[param_name]

    def before_trial(self, study: Any, trial: Any) -> None:
        pass

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        pass


def _finish_ask(study: Any, plan: PlanConfig, space: dict[str, Any], trial: Any) -> None:
    """Give a trial that a killed study left half-asked the values an uninterrupted study gave it.

    Optuna writes an asked trial's values one journal record at a time, so a study killed
    during ``ask`` leaves a running trial holding only some of them. Its values are drawn
    again as they were first drawn: by its number's sampler, on a scratch in-memory study
    holding the trials before it (what the sampler saw then). Values already written are
    kept, and so are an enqueued trial's fixed values; the sampler's bookkeeping for the
    trial (CMA-ES keeps its state in trial system attributes) is written too, through the
    storage, as Optuna's own samplers write it.
    """
    import optuna

    with _no_study_created_line():
        scratch = optuna.create_study(direction=study.direction, sampler=_sampler(plan, trial.number))
    scratch.add_trials(t for t in study.get_trials(deepcopy=False) if t.number < trial.number)
    scratch.ask(space)
    drawn = scratch.get_trials(deepcopy=False)[-1]
    study.sampler = _ReplaySampler(drawn.params)
    completing = optuna.trial.Trial(study, trial._trial_id)
    for name, dist in space.items():
        completing.suggest_float(name, dist.low, dist.high, log=dist.log)
    for key, value in drawn.system_attrs.items():
        if key not in trial.system_attrs:
            study._storage.set_trial_system_attr(trial._trial_id, key, value)
    study.sampler = _sampler(plan, trial.number)  # the sampler the batch's tells see, as after a plain ask
    log.warning("trial %d: completed the values a killed run had left half-written", trial.number)


def trials_beyond_note(study: Any, plan: PlanConfig, out: Path) -> str | None:
    """The note for a study that already holds more finished trials than ``plan.trials`` (None otherwise).

    A study keeps every trial it has finished: a rerun with a smaller ``plan.trials`` adds
    none and chooses the plan from all of them, which the user is told rather than left to
    think the plan came from the trials asked for.
    """
    from optuna.trial import TrialState

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if done <= plan.trials:
        return None
    return (
        f"the study in {out / STORAGE_FILE} already has {done} finished trials, more than plan.trials={plan.trials}: "
        f"none are added, and the plan is chosen from all {done} (give hydra.run.dir=<new folder> for a study of "
        f"{plan.trials})"
    )


def other_code_note(study: Any, out: Path) -> str | None:
    """The note for a study holding finished trials made by other code than this opsim's (None otherwise).

    A rerun continues a study: its finished trials are not simulated again, so after a
    change of the code (a fix that moves results) the plan would be chosen among trials of
    two codes without a word. Each trial records the code that made it
    (:func:`sim.output.completion.code_fingerprint`, as a sweep's jobs do); trials of a
    version that recorded none count as other code.
    """
    from optuna.trial import TrialState

    code = code_fingerprint()
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    other = sum(t.user_attrs.get("code") != code for t in done)
    if not other:
        return None
    return (
        f"{other} of the {len(done)} finished trials in {out / STORAGE_FILE} were made by other code than this "
        "opsim's (an earlier version, or one before trials recorded theirs): they are not simulated again, so the "
        "plan is chosen among results of two codes (give hydra.run.dir=<new folder> to plan afresh)"
    )


def search(study: Any, planner: Planner, progress: Any) -> None:
    """Run the study to ``plan.trials`` completed trials, batch by batch.

    Batch b holds trial numbers b·k … b·k + k − 1 (k = ``batch_size``): they are asked one
    after the other (the sampler re-seeded per number), simulated together, and told in
    number order. A study killed part-way completes its open batch first — asking only the
    numbers not yet asked, with the earlier members still running, exactly as before —
    so the trials it goes on to ask are the ones an uninterrupted study asks.
    """
    import optuna
    from optuna.trial import TrialState

    plan, run = planner.plan, planner.run
    space = _distributions(run, plan)
    k = plan.batch_size
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*[Cc]onstraints.*", category=UserWarning)
        while True:
            trials = study.get_trials(deepcopy=False)
            complete = sum(t.state == TrialState.COMPLETE for t in trials)
            progress.update(min(complete, plan.trials) - progress.n)
            if complete >= plan.trials:
                return
            state = {t.number: t.state for t in trials}
            first_open = min(n for n in range(len(trials) + 1) if state.get(n) != TrialState.COMPLETE)
            batch = range((first_open // k) * k, min((first_open // k) * k + k, plan.trials))
            for number in batch:
                if state.get(number, TrialState.WAITING) == TrialState.WAITING:
                    study.sampler = _sampler(plan, number)
                    study.ask(space)
                elif state[number] == TrialState.RUNNING and set(trials[number].params) != set(space):
                    _finish_ask(study, plan, space, trials[number])  # killed while its values were written
            pending = sorted(
                (t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING), key=lambda t: t.number
            )
            candidates = planner.evaluate([_values(run, plan, t.params) for t in pending])
            for trial, cand in zip(pending, candidates, strict=True):
                _tell(study, trial, cand, plan)


# ------------------------------------------------------------------------------ result
@dataclass
class PlanResult:
    """What a plan produced.

    Attributes:
        run: The base run config.
        plan: The plan settings.
        best: The chosen plan (re-simulated on the seeds).
        config: The run config of the chosen plan (its strategy is ``best_strategy.yaml``).
        base: The base strategy on the same seeds.
        trials: One row per trial (search mode) or per verified allocation (response mode).
        frontier: Best score at each budget level; None in response mode, which verifies one
            allocation (the whole budget's) and so has no best plan at lower budgets to show.
        response: Each variable's response curve around the plan.
        marginal: Marginal ROI of each variable's lever at the plan: (mean, low, high) over seeds.
        message: A note for the user (e.g. a target the budget cannot reach), or None.
        simulations: Simulations run (this session).
        seconds: Wall time (this session).
        step_seconds: Time spent stepping models (this session).
        marginal_steps: Each lever's step for its marginal ROI: ``{"from": value, "to": value}``
            (lists for a per-period variable; see :func:`marginal_value`).

    """

    run: Config
    plan: PlanConfig
    best: Candidate
    config: Config
    base: Candidate
    trials: Any
    frontier: Any | None
    response: Any
    marginal: dict[str, tuple[float, float, float]]
    message: str | None
    simulations: int
    seconds: float
    step_seconds: float
    marginal_steps: dict[str, dict[str, Any]] = field(default_factory=dict)


def _trial_rows(study: Any, run: Config, plan: PlanConfig) -> list[dict[str, Any]]:
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        per_seed = t.user_attrs.get("per_seed", [])
        row: dict[str, Any] = {"trial": t.number, "score": t.value, "spend": t.user_attrs.get("spend", np.nan)}
        row.update({f"param:{k}": v for k, v in t.params.items()})
        for key, value in t.system_attrs.items():
            if key.startswith("constraints:"):
                row[f"constraint:{key.split(':', 1)[1]}"] = value
        row["feasible"] = all(v <= 0 for k, v in row.items() if k.startswith("constraint:"))
        row.update(_metric_columns(per_seed))
        rows.append(row)
    return rows


def _choose(rows: list[dict[str, Any]], plan: PlanConfig) -> tuple[dict[str, Any], str | None]:
    """The best feasible trial; without one, the least infeasible, with a message saying so."""
    maximize = plan.objective not in MINIMISED
    feasible = [r for r in rows if r["feasible"] and np.isfinite(r["score"])]
    if feasible:
        return (max if maximize else min)(feasible, key=lambda r: r["score"]), None

    def violation(r: dict[str, Any]) -> float:
        return sum_in_order(max(v, 0.0) for k, v in r.items() if k.startswith("constraint:"))

    best = min(rows, key=violation)
    broken = ", ".join(k.split(":", 1)[1] for k, v in best.items() if k.startswith("constraint:") and v > 0)
    if plan.objective == "least_spend":
        message = (
            f"the budget {plan.budget:,.0f} cannot reach the target {plan.target.metric} >= {plan.target.value:,.6g} "
            f"within the bounds searched; the plan below comes closest (it breaks: {broken})"
        )
    else:
        message = f"no plan met every constraint; the plan below comes closest (it breaks: {broken})"
    return best, message


def marginal_value(run: Config, plan: PlanConfig, var: VariableConfig, value: Any) -> Any:
    """A variable's value one marginal step from the plan's, for its lever's marginal ROI.

    The step is ``marginal_step`` of the value, up, or down where up would pass ``high``;
    from 0, where a share of the value moves nothing, it is ``marginal_step`` of the range
    searched (the lever's first step); a whole-number knob moves by at least 1, or the
    rounded value would not move. A per-period variable steps each period's value.
    """
    step = plan.marginal_step
    whole = knob_is_whole(run, var.key)
    top = search_high(run, plan, var)

    def stepped(v: float) -> float:
        up = v * (1.0 + step) if v > 0 else var.low + step * (top - var.low)
        up = float(max(round(up), v + 1)) if whole else up
        if up <= var.high:
            return up
        down = float(min(round(v * (1.0 - step)), v - 1)) if whole else v * (1.0 - step)
        return max(down, var.low)

    return [stepped(v) for v in value] if var.per_period else stepped(value)


def _marginal(
    planner: Planner, best: Candidate
) -> tuple[dict[str, tuple[float, float, float]], dict[str, dict[str, Any]]]:
    """(ΔGP − ΔC)/ΔC per seed between the plan and the plan with one variable a marginal step away.

    Returns:
        Per lever: (mean, low, high) over seeds, NaN where the step changes no spend; and
        the step taken (``from``, ``to``; :func:`marginal_value`).

    """
    plan, run = planner.plan, planner.run
    steps: dict[str, dict[str, Any]] = {}
    names, bumped = [], []
    for name, var in plan.variables.items():
        moved = marginal_value(run, plan, var, best.values[name])
        names.append(name)
        bumped.append({**best.values, name: moved})
        steps[lever_label(var.key)] = {"from": best.values[name], "to": moved}
    out: dict[str, tuple[float, float, float]] = {}
    for name, cand in zip(names, planner.evaluate(bumped), strict=True):
        d_gross = np.array([c.revenue - b.revenue for c, b in zip(cand.outcomes, best.outcomes, strict=True)])
        d_cost = np.array([c.cost - b.cost for c, b in zip(cand.outcomes, best.outcomes, strict=True)])
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(d_cost != 0, (planner.margin * d_gross - d_cost) / d_cost, np.nan)
        mean, lo, hi, _n = t_interval(roi)
        out[lever_label(plan.variables[name].key)] = (mean, lo, hi)
    return out, steps


def _response_simulations(run: Config, plan: PlanConfig) -> int:
    """Simulations of one set of response curves (:func:`_response`): each variable at each level, on each seed."""
    return sum(len(response_levels(run, plan, var)) for var in plan.variables.values()) * plan.seeds


def _levels(var: VariableConfig, high: float, n: int) -> np.ndarray:
    return np.geomspace(var.low, high, n) if var.log else np.linspace(var.low, high, n)


def response_levels(run: Config, plan: PlanConfig, var: VariableConfig) -> np.ndarray:
    """The values a response curve simulates: ``response_levels`` from low to high, each once as it runs.

    A whole-number knob runs at its values rounded (as :func:`sim.app.plan_eval.apply_values`
    rounds them), so levels that round alike are one level: ``silent_days`` 7-10 at six levels
    ran 7, 8, 8, 9, 9, 10 and the spend rule (:func:`check_spend_moves`) saw flat steps.
    """
    levels = _levels(var, search_high(run, plan, var), plan.response_levels)
    if knob_is_whole(run, var.key) and not var.per_period:
        levels = np.unique(np.round(levels))
    return levels


def _response(planner: Planner, around: dict[str, Any], *, alone: bool) -> list[dict[str, Any]]:
    """Each variable at ``response_levels`` values, the others at ``around`` (or at their low bounds if ``alone``)."""
    plan = planner.plan
    floor = {n: ([v.low] * len(around[n]) if v.per_period else v.low) for n, v in plan.variables.items()}
    rows = []
    for name, var in plan.variables.items():
        others = floor if alone else around
        levels = response_levels(planner.run, plan, var)
        values = [{**others, name: ([x] * len(around[name]) if var.per_period else float(x))} for x in levels]
        label = lever_label(var.key)
        for x, cand in zip(levels, planner.evaluate(values), strict=True):
            gross = cand.series("incremental_gross_profit")
            mean, lo, hi, _n = t_interval(gross)
            rows.append(
                {
                    "variable": name,
                    "key": var.key,
                    "value": float(x),
                    "lever_spend": cand.lever_spend(label),
                    "spend": cand.spend,
                    "incremental_gross_profit": mean,
                    "incremental_gross_profit_low": lo,
                    "incremental_gross_profit_high": hi,
                    "score": cand.score,
                }
            )
    return rows


def planned_budget(run: Config, plan: PlanConfig) -> float:
    """What response mode splits among the planned levers: the budget less the unplanned ad channels' spend.

    An ad channel no variable plans spends its base daily budget in every run
    (:func:`sim.app.plan_config.unplanned_ad_spend`), so only the rest of the budget is
    the planned levers'. The spend of other unplanned levers (rewards, coupons) depends on
    what the simulation brings and is not taken off: the verified plan's budget constraint
    counts it.
    """
    return plan.budget - sum_in_order(unplanned_ad_spend(run, plan).values())


#: Fewest values a response curve needs (a curve through one point says nothing of the response).
MIN_RESPONSE_LEVELS = 2


def check_spend_moves(name: str, var: VariableConfig, values: np.ndarray, spend: np.ndarray, currency: str) -> None:
    """Response mode's rule for a variable's simulated response: its spend moves one way at every step.

    The split maps a spend back to the knob's value by interpolation, which needs the
    spend strictly increasing or strictly decreasing over the knob's ``response_levels``
    values (ordered by value); a knob whose lever spends the same at two of them (a
    spend-free knob, or a reward nobody earns in the sample) is refused with what was
    spent, before anything is written.

    Raises:
        ConfigError: naming ``plan.variables.<name>.key``, its value and the spend at each level.

    """
    if values.size < MIN_RESPONSE_LEVELS:
        raise ConfigError(
            f"plan.variables.{name}.high",
            var.high,
            f"with plan.mode=response, a range holding at least {MIN_RESPONSE_LEVELS} values of its knob "
            f"(from low = {var.low:g}: a whole-number knob runs at whole numbers)",
        )
    steps = np.diff(spend)
    if np.all(steps > 0) or np.all(steps < 0):
        return
    spent = ", ".join(f"{s:,.0f} at {v:g}" for v, s in zip(values, spend, strict=True))
    raise ConfigError(
        f"plan.variables.{name}.key", var.key, f"{RESPONSE_KNOB_RULE}: its lever spent {spent} {currency}"
    )


def _allocate(planner: Planner, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Response-curve mode: fit each lever's curve, split the budget by equal marginal ROI, map back to knobs.

    The budget split is :func:`planned_budget`: what the unplanned ad channels spend anyway is taken off.
    """
    import pandas as pd

    plan = planner.plan
    table = pd.DataFrame(rows)
    curves, bounds, maps = [], [], []
    for name, var in plan.variables.items():
        part = table[table["variable"] == name].sort_values("value")
        spend = part["lever_spend"].to_numpy()
        check_spend_moves(name, var, part["value"].to_numpy(), spend, planner.run.economics.currency)
        gain = part["incremental_gross_profit"].to_numpy() - part["incremental_gross_profit"].iloc[0]
        curves.append(fit_response_curve(spend, gain))
        lo = max(spend.min(), var.min_spend or 0.0)
        hi = min(spend.max(), var.max_spend if var.max_spend is not None else np.inf)
        bounds.append((lo, max(lo, hi)))
        maps.append((spend, part["value"].to_numpy()))
    allocation = allocate_by_marginal_roi(curves, planned_budget(planner.run, plan), bounds)
    values = {}
    for (name, _var), x, (spend, knob) in zip(plan.variables.items(), allocation, maps, strict=True):
        order = np.argsort(spend)
        values[name] = float(np.interp(x, spend[order], knob[order]))
    return values


def _frontier_rows(rows: list[dict[str, Any]], plan: PlanConfig) -> list[dict[str, Any]]:
    budgets = [share * plan.budget for share in plan.frontier_budgets]
    ok = [
        r for r in rows if all(v <= 0 for k, v in r.items() if k.startswith("constraint:") and k != "constraint:budget")
    ]
    picks = frontier(
        [r["spend"] for r in ok], [r["score"] for r in ok], budgets, maximize=plan.objective not in MINIMISED
    )
    out = []
    metric = plan.objective if plan.objective != "least_spend" else plan.target.metric
    for share, budget, i in zip(plan.frontier_budgets, budgets, picks, strict=True):
        row = {"budget_share": share, "budget": budget, "trial": None, "spend": np.nan, "score": np.nan}
        row.update({metric: np.nan, f"{metric}_low": np.nan, f"{metric}_high": np.nan})
        if i is not None:
            r = ok[i]
            row.update({k: r[k] for k in ("trial", "spend", "score", metric, f"{metric}_low", f"{metric}_high")})
        out.append(row)
    return out


def make_plan(
    run: Config, plan: PlanConfig, out: Path, *, evaluator: Evaluator | None = None, progress: bool = True
) -> PlanResult:
    """Find the plan, evaluate it against the base strategy, and compute its frontier and response curves.

    Args:
        run: The base run config (market, base strategy, horizon, economics; ``seed`` is the first seed).
        plan: The plan settings.
        out: The output folder (holds the study's storage: a rerun continues it).
        evaluator: Where simulations run (default: :func:`sim.app.plan_eval.make_evaluator`).
        progress: Show progress bars.

    """
    import pandas as pd
    from tqdm.auto import tqdm

    started = time.perf_counter()
    own = evaluator is None
    check_plan_folder(out)  # before the evaluator starts or anything is written
    evaluator = make_evaluator(plan) if evaluator is None else evaluator
    try:
        # before any simulation: a folder holding another plan's study is refused
        study = _open_study(out, run, plan) if plan.mode == "search" else None
        for note in () if study is None else (trials_beyond_note(study, plan, out), other_code_note(study, out)):
            if note is not None:
                log.warning("%s", note)
        # the organic baseline on every seed, which each candidate is scored against
        with tqdm(total=plan.seeds, desc="organic baseline", unit="sim", disable=not progress) as bar:
            planner = Planner(run, plan, evaluator, on_simulated=bar.update)
        planner.on_simulated = None
        if study is not None:
            with tqdm(total=plan.trials, desc="plan trials", unit="trial", disable=not progress) as bar:
                search(study, planner, bar)
            rows = _trial_rows(study, run, plan)
            chosen, message = _choose(rows, plan)
            values = _values(run, plan, {k.split(":", 1)[1]: v for k, v in chosen.items() if k.startswith("param:")})
        else:
            curves = _response_simulations(run, plan)
            with tqdm(total=curves, desc="response curves", unit="sim", disable=not progress) as bar:
                planner.on_simulated = bar.update
                floor_values = {n: v.low for n, v in plan.variables.items()}
                curve_rows = _response(planner, floor_values, alone=True)
                values = _allocate(planner, curve_rows)
            rows, message = [], None
        # the plan and the base strategy, a step up of each variable, the response curves around the plan
        checks = plan.seeds * (2 + len(plan.variables)) + _response_simulations(run, plan)
        with tqdm(total=checks, desc="evaluating the plan", unit="sim", disable=not progress) as bar:
            planner.on_simulated = bar.update
            best = planner.evaluate([values])[0]
            if plan.mode == "response":
                rows = [_candidate_row(0, best)]
                if not best.feasible:
                    broken = ", ".join(k for k, v in best.constraints.items() if v > 0)
                    message = f"the verified allocation breaks: {broken}"
            base = planner.evaluate_config(run)
            marginal, marginal_steps = _marginal(planner, best)
            response = _response(planner, best.values, alone=False)
        planner.on_simulated = None
        result = PlanResult(
            run=run,
            plan=plan,
            best=best,
            config=apply_values(run, plan, best.values),
            base=base,
            trials=pd.DataFrame(rows),
            frontier=pd.DataFrame(_frontier_rows(rows, plan)) if plan.mode == "search" else None,
            response=pd.DataFrame(response),
            marginal=marginal,
            marginal_steps=marginal_steps,
            message=message,
            simulations=planner.simulations,
            seconds=time.perf_counter() - started,
            step_seconds=planner.step_seconds,
        )
    finally:
        if own:
            evaluator.close()
    return result


def _candidate_row(number: int, cand: Candidate) -> dict[str, Any]:
    row: dict[str, Any] = {"trial": number, "score": cand.score, "spend": cand.spend}
    for name, value in cand.values.items():
        if isinstance(value, list):
            row.update({f"param:{name}[{i}]": v for i, v in enumerate(value)})
        else:
            row[f"param:{name}"] = value
    row.update({f"constraint:{k}": v for k, v in cand.constraints.items()})
    row["feasible"] = cand.feasible
    row.update(_metric_columns(cand.metrics))
    return row


def _metric_columns(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """A trials row's metric columns: each of :data:`PLAN_METRICS`, its mean and clipped 95 % interval over seeds.

    Args:
        per_seed: The metrics of each seed (:func:`sim.app.plan_eval.seed_metrics`).

    """
    columns = {}
    for metric in PLAN_METRICS:
        mean, lo, hi, _n = metric_interval([m[metric] for m in per_seed], metric)
        columns.update({metric: mean, f"{metric}_low": lo, f"{metric}_high": hi})
    return columns


# ----------------------------------------------------------------------------- outputs
def _interval(values: np.ndarray, metric: str | None = None) -> dict[str, float]:
    """Mean and 95 % interval over seeds; a ``metric``'s clipped to the values it can take (a difference: none)."""
    mean, lo, hi, n = t_interval(values) if metric is None else metric_interval(values, metric)
    return {"mean": mean, "low": lo, "high": hi, "seeds": n}


def _objective_number(metric: str, value: float | None) -> str:
    """An objective's value as the log line shows it: users and money whole, a ROI to 2 decimals, D30 in %."""
    if value is None or not math.isfinite(value):
        return "—"
    if metric == "d30":
        return f"{100 * value:.1f} %"
    return f"{value:,.2f}" if metric == "incremental_roi" else f"{value:,.0f}"


def _objective_metric(plan: PlanConfig) -> str:
    return "cost" if plan.objective == "least_spend" else plan.objective


def _shown(path: Path) -> str:
    """A path as a command shows it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def hydra_value(value: Any) -> str:
    """A config value as a Hydra override writes it, read back as the same value.

    Text is always in Hydra's single quotes (:class:`hydra.core.override_parser.types.QuotedString`
    escapes a quote and the backslashes before one), so spaces, commas and non-ASCII text
    (``'人民币'``, which Hydra refuses unquoted) stay one value, and ``${`` is escaped so
    that it is not read as an interpolation; a list is ``[a,b]`` with no space (a space
    would split it into two shell words); numbers as Python writes them (``1e-05``,
    ``inf``), which Hydra reads back exactly; booleans ``true``/``false``; None ``null``; a mapping
    ``{key:value}`` (keys bare: the config's keys are names).
    """
    from hydra.core.override_parser.types import Quote, QuotedString

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a key is bare in Hydra's dict grammar ({'a':1} does not parse)
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    return QuotedString(text=str(value).replace("${", "\\${"), quote=Quote.single).with_quotes()


def reproduce_command(result: PlanResult, out: Path) -> str:
    """An ``opsim`` command that runs the chosen plan's strategy on the plan's first seed.

    Each argument is pasted into a shell as one word (:func:`sim.app.report_cli.shell_word`:
    a folder with spaces, a list, quoted text) and is a Hydra override whose value reads
    back as the run's (:func:`hydra_value`), so the command composes the plan's config.
    """
    from sim.app.report_cli import shell_word

    run = result.run
    words = ["opsim", "--config-dir", _shown(out), "population=plan_population", "strategy=best_strategy"]
    words += [f"horizon_days={run.horizon_days}", f"seed={run.seed}"]
    defaults = dataclasses.asdict(type(run.economics)())
    for key, value in dataclasses.asdict(run.economics).items():
        if value != defaults[key]:
            words.append(f"economics.{key}={hydra_value(value)}")
    return " ".join(shell_word(w) for w in words)


def plan_summary(result: PlanResult, out: Path) -> dict[str, Any]:
    """The content of ``plan.json``."""
    plan, best, base = result.plan, result.best, result.base
    metric = _objective_metric(plan)
    allocation = {}
    for name, var in plan.variables.items():
        label = lever_label(var.key)
        allocation[name] = {
            "key": var.key,
            "value": best.values[name],
            "per_period": var.per_period,
            "period_days": plan.period_days if var.per_period else None,
            "lever": label,
            "lever_spend": best.lever_spend(label),
        }
    nothing = {"mean": 0.0, "low": 0.0, "high": 0.0} if metric in ("incremental_profit", "incremental_users") else None
    if metric == "cost":
        nothing = {"mean": 0.0, "low": 0.0, "high": 0.0}
    payback = best.series("payback_day")
    paid = payback[np.isfinite(payback)]
    return json_ready(
        {
            "plan": plan.name,
            "mode": plan.mode,
            "currency": result.run.economics.currency,
            "margin": result.run.economics.margin,
            "horizon_days": result.run.horizon_days,
            "budget": plan.budget,
            "total_spend": best.spend,
            "feasible": best.feasible,
            "constraints": best.constraints,
            "allocation": allocation,
            "objective": {"name": plan.objective, "metric": metric, **_interval(best.series(metric), metric)},
            "risk": {"measure": plan.risk.measure, "alpha": plan.risk.alpha, "value": best.score},
            "metrics": {m: _interval(best.series(m), m) for m in PLAN_METRICS},
            "payback": {
                "paid_back": int(paid.size),
                "seeds": int(payback.size),
                "mean_day": paid.mean() if paid.size else None,
            },
            "base_strategy": {
                "name": result.run.strategy.name,
                "objective": _interval(base.series(metric), metric),
                "spend": base.spend,
                "metrics": {m: _interval(base.series(m), m) for m in PLAN_METRICS},
            },
            "difference": {m: _interval(best.series(m) - base.series(m)) for m in PLAN_METRICS},
            "spend_nothing": {"objective": nothing, "spend": 0.0},
            "gain_over_base": _interval(best.series(metric) - base.series(metric)),
            "marginal_step": plan.marginal_step,
            "marginal_roi": {
                k: {"mean": m, "low": lo, "high": hi, **result.marginal_steps.get(k, {})}
                for k, (m, lo, hi) in result.marginal.items()
            },
            "seeds": [o.seed for o in best.outcomes],
            "per_seed": best.metrics,
            "trials": len(result.trials),
            "message": result.message,
            "reproduce": reproduce_command(result, out),
            "simulations": result.simulations,
            "seconds": result.seconds,
            "step_seconds": result.step_seconds,
        }
    )


def _strategy_yaml(result: PlanResult) -> str:
    from omegaconf import OmegaConf

    strategy = dataclasses.replace(
        result.config.strategy,
        name="best_strategy",
        description=f"plan {result.plan.name}: {result.plan.objective} with budget {result.plan.budget:,.0f}",
    )
    header = f"# Written by opsim-plan (plan {result.plan.name}). Run it: {reproduce_command(result, Path('<this folder>'))}\n"
    return header + OmegaConf.to_yaml(OmegaConf.structured(strategy))


def write_plan(result: PlanResult, out: Path) -> list[str]:
    """Write the plan's files into ``out``, all of them or none (:func:`sim.output.files.write_all`); their names.

    The figures are drawn only with the run's ``figures`` (without, the page says they were
    not drawn), and a response-mode plan has no frontier (the page says why); once the files
    are written, an earlier plan's frontier or figure that this plan did not write is
    removed, so none passes for this plan's.

    Returns:
        The files' paths relative to ``out``, in the order they are listed (``plan.json``
        first, ``report.html`` last).

    """
    from omegaconf import OmegaConf

    from sim.output.files import json_text, write_all
    from sim.output.plan_report import FIGURE_NAMES, plan_report_files

    summary = plan_summary(result, out)
    summary_text, strategy = json_text(summary), _strategy_yaml(result)
    population = OmegaConf.to_yaml(
        OmegaConf.structured(dataclasses.replace(result.run.population, name="plan_population"))
    )
    files: dict[Path, Callable[[Path], None]] = {out / "plan.json": lambda p: p.write_text(summary_text, "utf-8")}
    for name, table in (("trials", result.trials), ("frontier", result.frontier), ("response", result.response)):
        if table is not None:  # no frontier in response mode
            files[out / f"{name}.parquet"] = lambda p, t=table: t.to_parquet(p, index=False)
    files[out / "best_strategy.yaml"] = lambda p: p.write_text(strategy, "utf-8")
    files[out / "strategy" / "best_strategy.yaml"] = lambda p: p.write_text(strategy, "utf-8")
    files[out / "population" / "plan_population.yaml"] = lambda p: p.write_text(population, "utf-8")
    report = plan_report_files(
        out, summary, result.trials, result.frontier, result.response, figures=result.run.figures
    )
    files.update(report)
    write_all(files)
    for path in (out / "frontier.parquet", *(out / f"{name}.png" for name in FIGURE_NAMES)):
        if path not in files:  # an earlier plan's file that this one did not write would pass for its own
            path.unlink(missing_ok=True)
    return [path.relative_to(out).as_posix() for path in files]


# ----------------------------------------------------------------------------- command
def _task(cfg: Any) -> None:
    from hydra.core.hydra_config import HydraConfig

    try:
        run, plan_cfg = load_plan_config(cfg)
    except ConfigError as exc:
        fail(PROG, exc)  # one line, exit 2 (bad input)
    out = Path(HydraConfig.get().runtime.output_dir)
    log.info(
        "planning %s: budget %s %s, objective %s (%s), %d variables, %d seeds, %s",
        plan_cfg.name,
        f"{plan_cfg.budget:,.0f}",
        run.economics.currency,
        plan_cfg.objective,
        plan_cfg.risk.measure,
        len(plan_cfg.variables),
        plan_cfg.seeds,
        f"{plan_cfg.trials} trials" if plan_cfg.mode == "search" else "response curves",
    )
    writing = False
    try:
        result = make_plan(run, plan_cfg, out, progress=run.progress)
        writing = True
        write_plan(result, out)
    except ConfigError as exc:
        fail(PROG, exc)  # one line, exit 2 (bad input)
    except BaseException as exc:
        if interrupted(exc):
            print(_interrupted_line(out, plan_cfg, writing=writing), file=sys.stderr, flush=True)
            raise SystemExit(EXIT_INTERRUPTED) from None  # SystemExit passes through Hydra without a line of its own
        if isinstance(exc, OSError):  # the study's journal or a plan file not written (disk full, read-only)
            fail(PROG, exc, f"; {_kept(out, plan_cfg, writing=writing)}")  # exit 1: a result not written
        raise
    summary = plan_summary(result, out)
    obj, cur = summary["objective"], run.economics.currency
    if result.message:
        log.warning("%s", result.message)
    log.info(
        "plan: spend %s %s of %s; %s %s [%s, %s] (95 %% over %d seeds); base strategy %s",
        f"{summary['total_spend']:,.0f}",
        cur,
        f"{plan_cfg.budget:,.0f}",
        obj["metric"],
        _objective_number(obj["metric"], obj["mean"]),
        _objective_number(obj["metric"], obj["low"]),
        _objective_number(obj["metric"], obj["high"]),
        obj["seeds"],
        _objective_number(obj["metric"], summary["base_strategy"]["objective"]["mean"]),
    )
    log.info(
        "%d simulations in %.0f s; plan in %s (report.html); run it: %s",
        result.simulations,
        result.seconds,
        out,
        summary["reproduce"],
    )


def _interrupted_line(out: Path, plan: PlanConfig, *, writing: bool) -> str:
    """The line printed on Ctrl-C: what of the plan is kept in ``out``, and how to go on from it."""
    if writing:
        return (
            f"{PROG}: interrupted while the plan's files were being written in {out}: {_kept(out, plan, writing=True)}"
        )
    return f"{PROG}: interrupted: {_kept(out, plan, writing=False)}"


def _kept(out: Path, plan: PlanConfig, *, writing: bool) -> str:
    """What of a plan stopped short is kept in ``out``, and how to go on from it.

    Args:
        out: The plan's output folder.
        plan: The plan.
        writing: Whether the plan's files were being written (:func:`write_plan`).

    """
    again = "run the same command again"
    if writing:
        return f"all of the plan's files or none were replaced; {again} to write them all"
    if plan.mode != "search":
        return f"the response curves were not finished and nothing was written; {again} to redo them"
    done = _finished_trials(out / STORAGE_FILE)
    if done == 0:
        return f"no trial of {plan.trials} had finished; {again} to start them"
    if done is None:
        finished = "the finished trials are"
    elif done > plan.trials:  # a rerun with a smaller plan.trials: the study keeps them all (trials_beyond_note)
        finished = f"the study's {done} trials finished (more than plan.trials={plan.trials}); they are"
    else:
        finished = f"{done} of {plan.trials} trials finished; they are"
    return f"{finished} kept in {out / STORAGE_FILE}; {again} to go on from there (they are not run again)"


def _finished_trials(journal: Path) -> int | None:
    """How many trials of the study in ``journal`` are complete (0 without it; None if it cannot be read)."""
    if not journal.is_file():
        return 0
    try:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        from optuna.trial import TrialState

        storage = JournalStorage(JournalFileBackend(str(journal)))
        trials = optuna.load_study(study_name=STUDY_NAME, storage=storage).get_trials(deepcopy=False)
    except Exception:  # a record cut off by the interruption, a study not yet created: say less
        return None
    return sum(t.state == TrialState.COMPLETE for t in trials)


def side_by_side(plan: PlanConfig) -> int:
    """Runs a local plan steps at once: its workers (every core with 0), at most a search batch's runs.

    A search evaluates ``batch_size`` candidates on ``seeds`` seeds at a time; response mode's
    batches are each lever's levels, so every worker may be busy.
    """
    workers = plan.workers or os.cpu_count() or 1
    return min(workers, plan.batch_size * plan.seeds) if plan.mode == "search" else workers


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``opsim-plan`` console script."""
    from sim.app.argv import split_argv
    from sim.app.cli import parse_argv
    from sim.app.hydra_runner import exceptions_reach_caller, quiet_logging_errors, run_hydra
    from sim.app.memory import check_memory

    argv = list(sys.argv[1:] if argv is None else argv)
    register_plan_schema()
    *_, name, extra = split_argv(argv)  # the config name and folder as opsim reads them
    folder: Path | None = None
    try:  # also for --cfg, --info and --help, for which Hydra composes the config to print it
        args = parse_argv(argv, prog=PROG)  # a bad flag in one line; the values of --cfg and --info are no overrides
        if not args.shell_completion:
            config_name = PLAN_CONFIG_NAME if name == "config" else name
            composed = compose(args.overrides, config_name=config_name, extra_dir=extra, with_hydra=True)
            given = str(composed.hydra.run.dir)
            folder = Path(given).absolute()
            with open_dict(composed):
                del composed["hydra"]
            run, planned = load_plan_config(composed)
            if not (args.cfg or args.info or args.help or args.hydra_help):  # a plan that will run
                check_not_blank("hydra.run.dir", given)  # not the current folder by mistake ($OUT unset)
                check_folder("hydra.run.dir", folder)
                check_plan_folder(folder)  # not an opsim run's or sweep's folder: its report.html would be replaced
                check_study(folder, run, planned)  # nor another plan's study (nothing appended to it)
                if planned.ray_address:  # its cluster answers (and its machines hold the runs)
                    check_ray_answers(planned.ray_address)
                else:  # the runs side by side here fit in this machine's memory
                    check_memory(run, workers=side_by_side(planned))
    except (ConfigError, OpsimError) as exc:
        fail(PROG, exc)  # one line, exit 2 (bad input)
    if not any(a in ("--config-name", "-cn") or a.startswith(("--config-name=", "-cn=")) for a in argv):
        argv = ["--config-name", PLAN_CONFIG_NAME, *argv]
    created = outermost_missing(folder) if folder is not None else None
    try:
        with quiet_logging_errors(), exceptions_reach_caller():
            run_hydra(argv, _task, str(config_dir()), PLAN_CONFIG_NAME)
    except SystemExit as exc:  # the task's own exit, with its line printed
        if exc.code == EXIT_BAD_INPUT and created is not None:  # refused inside the task: no folder left of it
            remove_hydra_files(folder, created, PROG)
        raise
    except BaseException as exc:  # outside the task (Hydra's set-up): the task says more of its own
        if interrupted(exc):
            print(f"{PROG}: interrupted before the plan started; run the same command again", file=sys.stderr)
            raise SystemExit(EXIT_INTERRUPTED) from None
        if isinstance(exc, OpsimError | OSError):  # e.g. an output folder that cannot be made
            fail(PROG, exc)
        raise


if __name__ == "__main__":
    main()
