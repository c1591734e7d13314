"""The planner's configuration (``plan`` group): decision variables, budget, objective, risk, search.

``opsim-plan`` composes ``conf/opsim_plan.yaml``: the run config of ``opsim`` (population,
base strategy, horizon, economics) plus a ``plan`` node checked against
:class:`PlanConfig`. A decision variable names a numeric lever knob by its config key
(``strategy.paid_ads.search.daily_budget``, ``strategy.push.messages_per_week``, …) with
bounds; ad budgets may be planned per period of the spend window (``per_period``). Every
check runs before any simulation and fails with one line naming the key, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.analysis.planning import RISK_MEASURES
from sim.app.config import PLANNER_SCHEMA_NAME, Config, compose, load_config, register_schema
from sim.base.errors import ConfigError
from sim.base.float_sum import sum_in_order
from sim.base.schema import bounded, check_ranges, format_number
from sim.levers.strategy import MULTI_LEVERS, SINGLE_LEVERS

__all__ = [
    "OBJECTIVES",
    "PLAN_CONFIG_NAME",
    "PlanConfig",
    "PlanRunConfig",
    "VariableConfig",
    "knob_is_whole",
    "load_plan_config",
    "plan_periods",
    "planned_ad_channels",
    "register_plan_schema",
    "unplanned_ad_spend",
]

#: The planner's primary config in ``conf/``.
PLAN_CONFIG_NAME = "opsim_plan"
#: What a plan can optimise: three to maximise, and the least spend that reaches a target.
OBJECTIVES = ("incremental_profit", "incremental_roi", "incremental_users", "least_spend")
#: Metrics a ``least_spend`` target can name.
TARGET_METRICS = ("incremental_users", "incremental_profit", "d30")
#: Target metrics that are retention shares, and the day each is observed on.
SHARE_METRICS = {"d30": 30}
#: What ``plan.name`` may be: the name of the plan's folder (``plans/<name>``).
PLAN_NAME_RULE = "a name for the plan's folder plans/<name>: not empty, not '.' or '..', without / or \\"

SAMPLERS = ("tpe", "cmaes", "random")
MODES = ("search", "response")
#: Knobs that can be planned per period (a daily budget per week or month).
PERIOD_KNOBS = ("daily_budget",)
#: Ad channel knobs (prefixes under ``strategy.paid_ads.<channel>.``) that do not change what it spends:
#: its daily budget on every day its schedule and the spend window allow.
SPEND_FREE_AD_KNOBS = ("cpm", "conversion_multiplier", "adstock.", "saturation.", "quality.")
#: What a variable's knob must do in response mode (which splits money by each lever's response to spend).
RESPONSE_KNOB_RULE = (
    "with plan.mode=response, a knob that moves its lever's spend, up or down at every step of its range (response "
    "mode splits the budget by each lever's response to its spend; plan.mode=search plans any knob)"
)
#: ``plan.ray_address`` values that name no host: this machine's running cluster, or a new one here.
RAY_LOCAL_ADDRESSES = ("auto", "local")
#: What ``plan.ray_address`` may be.
RAY_ADDRESS_FORMS = (
    "HOST:PORT of a Ray cluster's head (ray://HOST:PORT through Ray Client), "
    "'auto' for the cluster running on this machine, 'local' to start one here, "
    "or null for local processes (plan.workers)"
)


@dataclass
class VariableConfig:
    """One decision variable: a numeric lever knob and its bounds (``plan.variables.<name>``).

    Attributes:
        key: Dotted config key, e.g. ``strategy.paid_ads.search.daily_budget``.
        low: Smallest value searched.
        high: Largest value searched.
        log: Search on a log scale (``low`` must then be > 0).
        per_period: One value per period of ``plan.period_days`` of the spend window
            (ad ``daily_budget`` only).
        min_spend: The lever's spend over the horizon must be at least this (money).
        max_spend: … and at most this.

    """

    key: str = ""
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    per_period: bool = False
    min_spend: float | None = bounded(None, ge=0)
    max_spend: float | None = bounded(None, ge=0)


@dataclass
class TargetConfig:
    """What ``objective: least_spend`` must reach (risk-adjusted over seeds): ``metric`` ≥ ``value`` (required there)."""

    metric: str = bounded("incremental_users", choices=TARGET_METRICS)
    value: float | None = None


@dataclass
class RiskConfig:
    """How per-seed values become one score: the mean, or CVaR at level ``alpha`` (mean of the worst α share)."""

    measure: str = bounded("mean", choices=RISK_MEASURES)
    alpha: float = bounded(0.25, gt=0, le=1)


@dataclass
class PlanConfig:
    """What to plan (``plan``): variables, budget, objective, risk, and how to search."""

    name: str = "plan"
    description: str = ""
    budget: float = 100_000.0
    objective: str = "incremental_profit"
    target: TargetConfig = field(default_factory=TargetConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    variables: dict[str, VariableConfig] = field(default_factory=dict)
    period_days: int = bounded(30, ge=1)
    period_cap: float | None = bounded(None, gt=0)
    seeds: int = bounded(4, ge=2, le=1000)
    trials: int = bounded(60, ge=1, le=100_000)
    batch_size: int = bounded(4, ge=1, le=1000)
    sampler: str = bounded("tpe", choices=SAMPLERS)
    sampler_seed: int = bounded(0, ge=0)
    mode: str = bounded("search", choices=MODES)
    response_levels: int = bounded(6, ge=4, le=50)
    frontier_budgets: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    marginal_step: float = bounded(0.05, gt=0, le=1)
    workers: int = bounded(0, ge=0)
    ray_address: str | None = None


@dataclass
class PlanRunConfig(Config):
    """The planner's primary config: a run config (the base strategy and its market) plus ``plan``."""

    plan: PlanConfig = field(default_factory=PlanConfig)


def register_plan_schema() -> None:
    """Register :class:`PlanRunConfig` as ``opsim_plan_schema`` (and the run schema) in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    register_schema()
    ConfigStore.instance().store(name=PLANNER_SCHEMA_NAME, node=PlanRunConfig)


def plan_periods(run: Config, plan: PlanConfig) -> int:
    """Periods of ``plan.period_days`` in the spend window (cut at the horizon)."""
    window = run.strategy.spend_window
    end = run.horizon_days - 1 if window.end_day is None else min(window.end_day, run.horizon_days - 1)
    days = max(0, end - window.start_day + 1)
    return max(1, math.ceil(days / plan.period_days))


def _field_of(cfg: Any, parts: list[str]) -> tuple[Any, dataclasses.Field | None]:
    """The dataclass holding the last part of a dotted key, and that field (None where it does not exist)."""
    node = cfg
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None, None
    if not dataclasses.is_dataclass(node):
        return None, None
    fields = {f.name: f for f in dataclasses.fields(node)}
    return node, fields.get(parts[-1])


def knob_is_whole(run: Config, key: str) -> bool:
    """Whether the knob at a dotted config key takes whole numbers (the planner rounds it)."""
    _node, f = _field_of(run, key.split("."))
    return f is not None and f.type in ("int", int)


def _check_variable(name: str, var: VariableConfig, run: Config) -> None:
    key = f"plan.variables.{name}"
    parts = var.key.split(".")
    groups = (*MULTI_LEVERS, *SINGLE_LEVERS)
    if len(parts) < 3 or parts[0] != "strategy" or parts[1] not in groups:
        raise ConfigError(f"{key}.key", var.key, f"a numeric lever knob: strategy.<{'|'.join(groups)}>…")
    _node, f = _field_of(run, parts)
    numeric = f is not None and f.type in ("float", "int", float, int)
    if not numeric:
        where = f"strategy.{parts[1]}.{parts[2]}" if parts[1] in MULTI_LEVERS else f"strategy.{parts[1]}"
        raise ConfigError(f"{key}.key", var.key, f"a numeric knob of a lever in the base strategy ({where} has none)")
    for bound in ("low", "high"):
        value = getattr(var, bound)
        if not math.isfinite(value):
            raise ConfigError(f"{key}.{bound}", value, "a finite number")
    if var.low < 0:
        raise ConfigError(f"{key}.low", var.low, "a number >= 0 (a lever knob is never negative)")
    if var.high <= var.low:
        raise ConfigError(f"{key}.high", var.high, f"a number > {key}.low={var.low}")
    if var.log and var.low <= 0:
        raise ConfigError(f"{key}.low", var.low, f"a number > 0 with {key}.log=true")
    _check_knob_range(key, var, f.metadata)
    if var.per_period and parts[-1] not in PERIOD_KNOBS:
        raise ConfigError(f"{key}.per_period", True, f"only for {', '.join(PERIOD_KNOBS)} (ad budgets)")
    _check_flat_budget(key, var, _node)
    if var.min_spend is not None and var.max_spend is not None and var.max_spend < var.min_spend:
        raise ConfigError(f"{key}.max_spend", var.max_spend, f"a spend >= {key}.min_spend={var.min_spend}")


def _check_flat_budget(key: str, var: VariableConfig, node: Any) -> None:
    """A ``daily_budget`` planned as one value only on a channel that spends it (no ``period_budgets``).

    A channel with ``period_budgets`` spends them, not its ``daily_budget``
    (:meth:`sim.levers.paid_ads.PaidAds.budget_on`): every trial would spend the same and
    the lever's marginal ROI would have no cost to divide by.
    """
    if var.per_period or var.key.rsplit(".", 1)[-1] not in PERIOD_KNOBS or not getattr(node, "period_budgets", None):
        return
    channel = var.key.rsplit(".", 1)[0]
    raise ConfigError(
        f"{key}.per_period",
        False,
        f"true ({channel} runs on its period_budgets, which {var.key} does not move), "
        f"or the channel without them ({channel}.period_budgets=[])",
    )


def _check_knob_range(key: str, var: VariableConfig, meta: Mapping[str, Any]) -> None:
    """A variable's bounds within its knob's own range (the knob's ``bounded`` metadata), low and high.

    Every trial sets the knob somewhere in [low, high], trial 0 at ``low``: a bound outside
    the knob's range would be refused only once the study had begun.
    """
    ge, gt, le, lt = (meta.get(rule) for rule in ("ge", "gt", "le", "lt"))
    if ge is not None and var.low < ge:
        raise ConfigError(f"{key}.low", var.low, f"at least {format_number(ge)}, the smallest {var.key} allowed")
    if gt is not None and var.low <= gt:
        raise ConfigError(f"{key}.low", var.low, f"more than {format_number(gt)}, as {var.key} must be")
    if le is not None and var.high > le:
        raise ConfigError(f"{key}.high", var.high, f"at most {format_number(le)}, the largest {var.key} allowed")
    if lt is not None and var.high >= lt:
        raise ConfigError(f"{key}.high", var.high, f"less than {format_number(lt)}, as {var.key} must be")


def _ad_channel(key: str) -> str | None:
    """``strategy.paid_ads.<channel>`` for a key under an ad channel, else None."""
    parts = key.split(".")
    return ".".join(parts[:3]) if len(parts) > 3 and parts[:2] == ["strategy", "paid_ads"] else None


def _lever_of(key: str) -> str:
    """The lever a knob's key belongs to: ``strategy.<group>.<name>`` or ``strategy.<lever>``."""
    parts = key.split(".")
    return ".".join(parts[:3] if parts[1] in MULTI_LEVERS else parts[:2])


def planned_ad_channels(plan: PlanConfig) -> set[str]:
    """``strategy.paid_ads.<channel>`` of every ad channel with a variable on any of its knobs."""
    return {channel for v in plan.variables.values() if (channel := _ad_channel(v.key)) is not None}


def _channel_at_its_lows(base: Any, variables: list[VariableConfig], run: Config, plan: PlanConfig) -> Any:
    """An ad channel as the plan sets it at its lows, or None where its least spend is not a simple bound.

    ``daily_budget`` is set at its ``low`` (per period, or in place of ``daily_budget``); knobs
    in :data:`SPEND_FREE_AD_KNOBS` leave the spend as it is; any other knob (``schedule.start_day``,
    ``period_days``) moves which days or periods spend, so no least spend is counted.
    """
    cfg = base
    for var in variables:
        knob = var.key.split(".", 3)[3]
        if knob == "daily_budget" and var.per_period:
            cfg = dataclasses.replace(
                cfg, period_budgets=[var.low] * plan_periods(run, plan), period_days=plan.period_days
            )
        elif knob == "daily_budget":
            cfg = dataclasses.replace(cfg, daily_budget=var.low)
        elif not knob.startswith(SPEND_FREE_AD_KNOBS):
            return None
    return cfg


def ad_spend_every_plan_has(run: Config, plan: PlanConfig) -> dict[str, float]:
    """The spend of each ad channel of the base strategy that no plan can go below (money over the horizon).

    An ad channel spends its daily budget on every day its schedule and the spend window
    allow, whatever the simulation does, so this is known before any run: an unplanned
    channel at the base strategy's budget, a planned one at the lowest its variables allow
    (:func:`_channel_at_its_lows`; 0, not counted, where a variable moves its schedule or
    periods). The spend of other levers (rewards, coupons, messages) depends on the users
    the simulation brings, and is counted only by the budget constraint as trials run.

    Returns:
        ``strategy.paid_ads.<channel>`` → its spend, for channels that spend anything.

    """
    from sim.levers.paid_ads import PaidAds

    window, start = run.strategy.spend_window, run.population.start_weekday
    out = {}
    for channel, base in run.strategy.paid_ads.items():
        key = f"strategy.paid_ads.{channel}"
        cfg = _channel_at_its_lows(base, [v for v in plan.variables.values() if _ad_channel(v.key) == key], run, plan)
        if cfg is None:
            continue
        lever = PaidAds(channel, cfg, window)
        days = (d for d in range(run.horizon_days) if cfg.schedule.is_on(d, (start + d) % 7) and window.contains(d))
        spend = sum_in_order(lever.budget_on(d) for d in days)
        if spend > 0:
            out[key] = spend
    return out


def unplanned_ad_spend(run: Config, plan: PlanConfig) -> dict[str, float]:
    """The certain spend of each ad channel that no variable plans (money over the horizon).

    The part of :func:`ad_spend_every_plan_has` that stays whatever the plan sets: such a
    channel spends its base daily budget in every trial. A variable on any knob of a
    channel (``strategy.paid_ads.<channel>.…``) makes it planned.

    Returns:
        ``strategy.paid_ads.<channel>`` → its spend, for unplanned channels that spend anything.

    """
    planned = planned_ad_channels(plan)
    return {key: spend for key, spend in ad_spend_every_plan_has(run, plan).items() if key not in planned}


def _check_fixed_spend(plan: PlanConfig, run: Config) -> None:
    """Refuse a budget below the least every plan spends: every trial would break it.

    That least is the unplanned ad channels' spend plus, per planned lever, the larger of
    its variables' ``min_spend`` and its ad spend at its lows. In response mode the planned
    levers must also have some budget left to split.
    """
    fixed = ad_spend_every_plan_has(run, plan)
    planned = planned_ad_channels(plan)
    unplanned = sum_in_order(spend for key, spend in fixed.items() if key not in planned)
    least: dict[str, float] = {}
    for var in plan.variables.values():
        lever = _lever_of(var.key)
        least[lever] = max(least.get(lever, fixed.get(lever, 0.0)), var.min_spend or 0.0)
    total = unplanned + sum_in_order(least.values())
    if total > plan.budget:
        parts = [f"{key}: {spend:,.0f}, not planned" for key, spend in fixed.items() if key not in planned]
        parts += [f"{lever}: {spend:,.0f}, planned, at its low or min_spend" for lever, spend in least.items() if spend]
        raise ConfigError(
            "plan.budget",
            plan.budget,
            f"at least {total:,.0f}, the spend that every plan has ({'; '.join(parts)}); "
            "plan or lower those budgets or min_spend",
        )
    if plan.mode == "response" and plan.budget - unplanned <= 0:
        raise ConfigError(
            "plan.budget",
            plan.budget,
            f"more than {unplanned:,.0f} with plan.mode=response, the unplanned ad channels' spend: "
            "nothing would be left to split among the planned levers",
        )


def check_plan(plan: PlanConfig, run: Config) -> PlanConfig:
    """Every range and cross-field rule of a plan, against its base run config.

    Raises:
        ConfigError: On the first offending value, naming its key.

    """
    check_ranges(plan, "plan")
    if not plan.name.strip() or plan.name.strip(".") == "" or any(sep in plan.name for sep in ("/", "\\")):
        raise ConfigError("plan.name", plan.name, PLAN_NAME_RULE)
    if plan.objective not in OBJECTIVES:
        raise ConfigError("plan.objective", plan.objective, f"one of {', '.join(OBJECTIVES)}")
    if not math.isfinite(plan.budget) or plan.budget <= 0:
        raise ConfigError("plan.budget", plan.budget, "an amount > 0 (money over the horizon)")
    if not plan.variables:
        raise ConfigError("plan.variables", {}, "at least one decision variable (name: {key: strategy..., low, high})")
    for name, var in plan.variables.items():
        _check_variable(name, var, run)
    keys = [v.key for v in plan.variables.values()]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ConfigError("plan.variables", duplicated, "each config key at most once")
    floor = sum_in_order(v.min_spend or 0.0 for v in plan.variables.values())
    if floor > plan.budget:
        raise ConfigError("plan.budget", plan.budget, f"at least the sum of the variables' min_spend = {floor:g}")
    _check_fixed_spend(plan, run)
    for i, b in enumerate(plan.frontier_budgets):
        if not 0 < b <= 1:
            raise ConfigError(f"plan.frontier_budgets[{i}]", b, "a share of plan.budget in (0, 1]")
    if plan.mode == "response" and any(v.per_period for v in plan.variables.values()):
        raise ConfigError("plan.mode", "response", "search (response curves are per lever, not per period)")
    if plan.mode == "response":
        _check_response_knobs(plan)
    if plan.objective == "least_spend" and plan.target.value is None:
        raise ConfigError(
            "plan.target.value",
            None,
            f"a number with objective least_spend: the least spend whose plan.target.metric ({plan.target.metric}) "
            "reaches it",
        )
    if plan.objective == "least_spend" and plan.target.metric in SHARE_METRICS:
        _check_share_target(plan.target, run)
    if plan.ray_address:  # null or empty: local processes (plan.workers)
        _check_ray_address(plan.ray_address)
    return plan


def _check_response_knobs(plan: PlanConfig) -> None:
    """Response mode splits money: each variable's knob must move its lever's spend.

    An ad channel's :data:`SPEND_FREE_AD_KNOBS` (``cpm``, ``saturation.*`` …) leave its
    spend where its budget puts it, so its response to spend is one point and the split
    could not say which of the knob's values to take (it took the highest: a cpm of 20
    where 2 earned more than twice as much). Other knobs are checked on their response
    curves, once simulated (:func:`sim.app.plan.check_spend_moves`).
    """
    for name, var in plan.variables.items():
        channel = _ad_channel(var.key)
        if channel is not None and var.key.removeprefix(channel + ".").startswith(SPEND_FREE_AD_KNOBS):
            raise ConfigError(
                f"plan.variables.{name}.key", var.key, RESPONSE_KNOB_RULE + f", e.g. {channel}.daily_budget"
            )


def _check_share_target(target: TargetConfig, run: Config) -> None:
    """A retention target is a share in (0, 1] on a day the runs observe (D30 needs 31 days or more)."""
    day = SHARE_METRICS[target.metric]
    if target.value is not None and not 0 < target.value <= 1:
        raise ConfigError(
            "plan.target.value", target.value, f"a share in (0, 1] for plan.target.metric {target.metric}"
        )
    if run.horizon_days <= day:
        raise ConfigError(
            "horizon_days",
            run.horizon_days,
            f"more than {day} days with plan.target.metric {target.metric}: a shorter run observes no D{day}",
        )


def ray_host_port(address: str) -> tuple[str, int] | None:
    """The head's (host, port) of a Ray address ``HOST:PORT`` or ``ray://HOST:PORT``; None if it has no such form."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    return (host.strip("[]"), int(port)) if colon and host and port.isdigit() else None


def _check_ray_address(address: str) -> None:
    """A Ray address of a form Ray reads, with Ray installed (whether it answers is checked when the plan starts)."""
    import importlib.util

    if address not in RAY_LOCAL_ADDRESSES and ray_host_port(address) is None:
        raise ConfigError("plan.ray_address", address, RAY_ADDRESS_FORMS)
    if importlib.util.find_spec("ray") is None:
        raise ConfigError("plan.ray_address", address, 'an address for a planner with Ray: pip install "opsim[ray]"')


def _to_plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def load_plan_config(cfg: DictConfig | Mapping[str, Any] | Iterable[str]) -> tuple[Config, PlanConfig]:
    """The validated run config (base strategy) and plan from a composed config, a mapping or overrides.

    Raises:
        ConfigError: On an unknown key, a wrong type or an out-of-range value, in either part.
        TypeError: For a bare string (``"plan=quarter_growth"``): a list of overrides is meant.

    """
    if not isinstance(cfg, DictConfig | Mapping):
        register_plan_schema()
        cfg = compose(cfg, config_name=PLAN_CONFIG_NAME)  # refuses a bare string, saying what to write
    plain = _to_plain(cfg)
    plain.pop("hydra", None)
    plan_plain = plain.pop("plan", {}) or {}
    run = load_config(plain)
    try:
        plan = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PlanConfig), plan_plain))
    except OmegaConfBaseException as exc:
        key = "plan." + (getattr(exc, "full_key", None) or "")
        raise ConfigError(key.rstrip("."), getattr(exc, "value", None), str(exc).splitlines()[0]) from None
    return run, check_plan(plan, run)
