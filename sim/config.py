"""Configuration schemas, validation and composition.

The YAML tree under ``conf/`` is merged by Hydra onto the dataclasses below
(registered in Hydra's ConfigStore as ``opsim_schema``). OmegaConf rejects
unknown keys and wrong types while merging; :func:`validate` then checks every
range declared in the field metadata and the rules that tie fields together.
Every failure becomes a single-line :class:`~sim.errors.ConfigError` naming the
key, the value and what is allowed, before any simulation starts.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.economics import EconomicsConfig
from sim.errors import ConfigError
from sim.schema import bounded
from sim.strategy import StrategyConfig, check_strategy

__all__ = [
    "AwarenessConfig",
    "ChurnConfig",
    "Config",
    "HabitConfig",
    "LifecycleConfig",
    "OrderValueConfig",
    "PopulationConfig",
    "SegmentConfig",
    "VisitConfig",
    "compose",
    "config_dir",
    "load_config",
    "quote_value",
    "validate",
]

#: Longest horizon accepted: day numbers are stored as int16 and the cohort
#: matrix is horizon x horizon.
MAX_HORIZON_DAYS = 3650
#: Largest market: slot indices are int32 in the counters.
MAX_MARKET_SIZE = 2**31 - 1
AGENT_MODES = ("auto", "all", "lazy")


@dataclass
class ChurnConfig:
    """Latent churn hazard: θ ~ Beta(a, b), tenure exponent c.

    Alive at tenure day t with probability S(t) = B(a, b + t^c) / B(a, b)
    (shifted-beta-geometric when c = 1, beta-discrete-Weibull otherwise).
    """

    a: float = bounded(1.0, gt=0)
    b: float = bounded(10.0, gt=0)
    c: float = bounded(1.0, gt=0)


@dataclass
class VisitConfig:
    """Latent visit propensity π ~ Beta(alpha, beta) (BG/BB)."""

    alpha: float = bounded(1.0, gt=0)
    beta: float = bounded(3.0, gt=0)


@dataclass
class OrderValueConfig:
    """Order value per user: LogNormal with this median and log-scale sigma."""

    median: float = bounded(20.0, gt=0)
    sigma: float = bounded(0.5, ge=0)


@dataclass
class SegmentConfig:
    """One latent segment of the market (a mixture component)."""

    weight: float = bounded(1.0, gt=0)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    visits: VisitConfig = field(default_factory=VisitConfig)
    purchase_prob: float = bounded(0.0, ge=0, le=1)
    order_value: OrderValueConfig = field(default_factory=OrderValueConfig)


@dataclass
class AwarenessConfig:
    """Bass awareness: daily hazard p + q·DAU(t-1)/M; forgetting rate."""

    p: float = bounded(1e-3, ge=0, le=1)
    q: float = bounded(0.1, ge=0)
    forget_rate: float = bounded(0.0, ge=0, le=1)


@dataclass
class HabitConfig:
    """Habit h ∈ [0, 1]: h += gain·(1 − h) on a visit, h −= decay·h otherwise."""

    gain: float = bounded(0.2, ge=0, le=1)
    decay: float = bounded(0.1, ge=0, le=1)
    strength: float = bounded(0.0, ge=0)


@dataclass
class LifecycleConfig:
    """Thresholds that turn behaviour into the observable lifecycle stage."""

    new_days: int = bounded(7, ge=1)
    dormant_after_days: int = bounded(7, ge=1)
    churned_after_days: int = bounded(30, ge=1)
    activated_habit: float = bounded(0.5, ge=0, le=1)


@dataclass
class PopulationConfig:
    """A product's market: size, funnel, habit, lifecycle labels and segments."""

    name: str = "custom"
    market_size: int = bounded(100_000, ge=1, le=MAX_MARKET_SIZE)
    awareness: AwarenessConfig = field(default_factory=AwarenessConfig)
    conversion_rate: float = bounded(0.1, ge=0, le=1)
    resurrection_rate: float = bounded(0.0, ge=0, le=1)
    habit: HabitConfig = field(default_factory=HabitConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    start_weekday: int = bounded(0, ge=0, le=6)
    weekly_visit_pattern: list[float] = field(default_factory=lambda: [1.0] * 7)
    weekly_purchase_pattern: list[float] = field(default_factory=lambda: [1.0] * 7)
    segments: dict[str, SegmentConfig] = field(default_factory=dict)
    trait_sampling: str = bounded("fast", choices=("fast", "smooth"))


@dataclass
class Config:
    """Everything one simulation run needs."""

    seed: int = bounded(0, ge=0)
    horizon_days: int = bounded(365, ge=1, le=MAX_HORIZON_DAYS)
    progress: bool = True
    figures: bool = True
    agents: str = bounded("auto", choices=AGENT_MODES)
    record_events: bool = True
    population: PopulationConfig = field(default_factory=PopulationConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)


def _check_field(path: str, value: Any, meta: Mapping[str, Any]) -> None:
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(path, value, f"one of {', '.join(map(str, meta['choices']))}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, value, "a finite number")
    ge, gt, le, lt = meta.get("ge"), meta.get("gt"), meta.get("le"), meta.get("lt")
    rules = []
    if ge is not None:
        rules.append(f">= {_fmt(ge)}")
    if gt is not None:
        rules.append(f"> {_fmt(gt)}")
    if le is not None:
        rules.append(f"<= {_fmt(le)}")
    if lt is not None:
        rules.append(f"< {_fmt(lt)}")
    ok = (ge is None or value >= ge) and (gt is None or value > gt) and (le is None or value <= le)
    ok = ok and (lt is None or value < lt)
    if not ok:
        raise ConfigError(path, value, "a number " + " and ".join(rules))


def _walk(obj: Any, path: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            _walk(value, key)
        elif isinstance(value, dict):
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    _walk(item, f"{key}.{name}")
        elif f.metadata:
            _check_field(key, value, f.metadata)


def _check_weekly(key: str, pattern: list[float]) -> None:
    if len(pattern) != 7:
        raise ConfigError(key, list(pattern), "a list of 7 multipliers, Monday first")
    for i, x in enumerate(pattern):
        if not math.isfinite(x) or x < 0:
            raise ConfigError(f"{key}[{i}]", x, "a finite number >= 0")


def validate(cfg: Config) -> Config:
    """Check every range and cross-field rule of a typed config.

    Args:
        cfg: The typed configuration.

    Returns:
        The same object, so calls can be chained.

    Raises:
        ConfigError: On the first offending value, naming its key.

    """
    _walk(cfg, "")
    pop = cfg.population
    if not pop.segments:
        raise ConfigError("population.segments", {}, "at least one segment (pick a preset: population=consumer_app)")
    if len(pop.segments) > 127:
        raise ConfigError("population.segments", len(pop.segments), "at most 127 segments")
    life = pop.lifecycle
    if life.churned_after_days <= life.dormant_after_days:
        raise ConfigError(
            "population.lifecycle.churned_after_days",
            life.churned_after_days,
            f"more than population.lifecycle.dormant_after_days={life.dormant_after_days}",
        )
    _check_weekly("population.weekly_visit_pattern", pop.weekly_visit_pattern)
    _check_weekly("population.weekly_purchase_pattern", pop.weekly_purchase_pattern)
    check_strategy(cfg.strategy, list(pop.segments))
    for i, x in enumerate(cfg.economics.spend_response_multipliers):
        if not math.isfinite(x) or x < 0:
            raise ConfigError(f"economics.spend_response_multipliers[{i}]", x, "a finite number >= 0")
    return cfg


def config_dir() -> Path:
    """The ``conf/`` directory.

    Inside the package when installed from a wheel, else at the repository root
    next to ``sim/`` (editable install or source checkout).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/config.yaml next to {here}")


def _register_schema() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="opsim_schema", node=Config)


def _schema_keys(path: str) -> list[str] | None:
    """Keys the schema allows under a dotted path (None if it is not a schema node)."""
    node: Any = Config
    for part in [p for p in path.split(".") if p]:
        hints = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        if part in hints:
            default = hints[part].default_factory if hints[part].default_factory is not dataclasses.MISSING else None
            node = default() if default else None
            if isinstance(node, dict) and part == "segments":
                node = {"*": SegmentConfig()}
        elif isinstance(node, dict):
            node = next(iter(node.values()), None)
        else:
            return None
        if node is None:
            return None
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


_TYPE_WORDS = {
    "converted to Integer": "an integer",
    "converted to Float": "a number",
    "not a valid bool": "true or false",
    "Value '": "a value of the schema's type",
}


def _error_from(exc: BaseException, values: Mapping[str, Any]) -> ConfigError:
    """Turn a Hydra/OmegaConf exception chain into one ConfigError.

    Args:
        exc: The exception raised by composing or merging.
        values: Known values by dotted key (from the overrides or the config).

    """
    chain = []
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    found = [e for e in chain if isinstance(e, OmegaConfBaseException)]
    found.sort(key=lambda e: not getattr(e, "full_key", None))
    if found:
        e = found[0]
        key = getattr(e, "full_key", None) or ""
        value = values.get(key, getattr(e, "value", None))
        first = str(e).splitlines()[0].strip()
        if "not in struct" in first or ("Key '" in first and "not in" in first):
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            allowed = _schema_keys(parent)
            where = parent or "the top level"
            hint = f"one of {', '.join(allowed)}" if allowed else "a key the schema defines"
            return ConfigError(key, value, f"unknown key in {where}; expected {hint}")
        for marker, wanted in _TYPE_WORDS.items():
            if marker in first:
                got = f" (got {first.split(' of type ')[1].split()[0]})" if " of type " in first else ""
                return ConfigError(key, value, wanted + got)
        return ConfigError(key or "config", value, first)
    text = " ".join(str(chain[0]).split())
    if "Could not find '" in text and "Available options in '" in text:
        group = text.split("Could not find '")[1].split("'")[0].rsplit("/", 1)[0]  # population, hydra/launcher
        options = text.split("Available options in '")[1].split(":", 1)[1].split("Config search path")[0].split()
        where = "" if group.startswith("hydra/") else f" (conf/{group}/)"
        return ConfigError(group, values.get(group), f"a {group} preset{where}: one of {', '.join(options)}")
    return ConfigError("override", " ".join(f"{k}={v}" for k, v in values.items()), text)


def _override_values(overrides: Iterable[str]) -> dict[str, str]:
    out = {}
    for o in overrides:
        key, _, value = o.partition("=")
        out[key.lstrip("+~")] = value
    return out


def quote_value(text: str) -> str:
    r"""A Hydra override value that stays this exact string (commas, spaces, quotes, ``${``).

    In Hydra's quoted values a quote is escaped as ``\'``, backslashes only where they
    precede a quote (or the closing quote), and ``\${`` keeps ``${`` from interpolating.
    """
    body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    body = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body).replace("${", "\\${")
    return f"'{body}'"


def compose(
    overrides: Iterable[str] = (),
    *,
    config_name: str = "config",
    extra_dir: str | None = None,
    with_hydra: bool = False,
) -> DictConfig:
    """Compose the Hydra config from ``conf/`` with command-line style overrides.

    Args:
        overrides: Hydra overrides, e.g. ``["population=game", "seed=3"]``.
        config_name: Primary config (``config``, or a study's config found through a search path).
        extra_dir: A further config folder searched first (``--config-dir``, e.g. a study's).
        with_hydra: Keep the ``hydra`` node (sweeper params) in the result.

    Returns:
        The composed (not yet validated) config.

    Raises:
        ConfigError: If an override names an unknown key or gives a wrong type.

    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    _register_schema()
    overrides = list(overrides)
    try:
        if GlobalHydra.instance().is_initialized() and extra_dir is None:
            return hydra_compose(config_name, overrides=overrides, return_hydra_config=with_hydra)
        primary = str(config_dir())
        if extra_dir is not None and (Path(extra_dir) / f"{config_name}.yaml").is_file():
            # a study's own primary config: its folder is primary, opsim's conf/ stays on the search path
            primary, overrides = extra_dir, [*overrides, f"hydra.searchpath=[file://{config_dir()}]"]
        elif extra_dir is not None:  # extra presets (e.g. a calibrated population) next to opsim's conf/
            overrides = [*overrides, f"hydra.searchpath=[file://{extra_dir}]"]
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=primary, version_base="1.3"):
            return hydra_compose(config_name, overrides=overrides, return_hydra_config=with_hydra)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra and OmegaConf errors become one line
        raise _error_from(exc, _override_values(overrides)) from exc


def _no_extra_keys(given: Any, typed: Any) -> bool:
    """Every key of ``given`` exists in ``typed`` (nested dicts), so nothing was silently dropped."""
    if isinstance(given, dict):
        return isinstance(typed, dict) and all(k in typed and _no_extra_keys(v, typed[k]) for k, v in given.items())
    return True


def load_config(cfg: Config | DictConfig | Mapping[str, Any] | Iterable[str] | None = None) -> Config:
    """Turn any accepted config form into a validated :class:`Config`.

    Args:
        cfg: A :class:`Config`; a DictConfig or mapping (merged onto the schema,
            so unknown keys and wrong types are rejected); a list of overrides
            (composed from ``conf/``); or None for the default config.

    Returns:
        The validated, typed config.

    Raises:
        ConfigError: On an unknown key, a wrong type or an out-of-range value.

    """
    if cfg is None:
        cfg = compose()
    elif not isinstance(cfg, Config | DictConfig | Mapping):
        cfg = compose(list(cfg))
    if isinstance(cfg, Config):
        return validate(cfg)
    if isinstance(cfg, DictConfig) and "hydra" not in cfg and OmegaConf.get_type(cfg) is Config:
        try:  # already merged onto the schema by Hydra: convert, do not merge again (fast)
            typed = OmegaConf.to_object(cfg)
            if _no_extra_keys(OmegaConf.to_container(cfg, resolve=True), dataclasses.asdict(typed)):
                return validate(typed)
        except OmegaConfBaseException:
            pass  # fall through to the merge, which names the offending key
    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    plain.pop("hydra", None)
    try:
        typed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), plain))
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or ""
        found = OmegaConf.select(OmegaConf.create(plain), key) if key else None
        if isinstance(found, DictConfig | ListConfig):
            found = OmegaConf.to_container(found)
        raise _error_from(exc, {key: found}) from exc
    return validate(typed)
