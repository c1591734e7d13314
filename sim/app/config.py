"""The run's configuration: the top-level schema, validation and composition.

The YAML tree under ``conf/`` is merged by Hydra onto :class:`Config` (registered
in Hydra's ConfigStore as ``opsim_schema``), whose parts are defined next to what
they configure: :class:`~sim.core.population.PopulationConfig` (and the process
configs it holds) in the core, :class:`~sim.levers.strategy.StrategyConfig` with the
levers, :class:`~sim.analysis.economics.EconomicsConfig` with the economics. OmegaConf rejects
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

from sim.analysis.economics import EconomicsConfig
from sim.base.errors import ConfigError
from sim.base.schema import bounded, check_ranges
from sim.core.model import AGENT_MODES
from sim.core.population import PopulationConfig, SegmentConfig, check_population
from sim.levers.strategy import StrategyConfig, check_strategy

__all__ = [
    "Config",
    "compose",
    "config_dir",
    "load_config",
    "quote_value",
    "validate",
]

#: Longest horizon accepted: day numbers are stored as int16 and the cohort
#: matrix is horizon x horizon.
MAX_HORIZON_DAYS = 3650


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


def validate(cfg: Config) -> Config:
    """Check every range and cross-field rule of a typed config.

    Args:
        cfg: The typed configuration.

    Returns:
        The same object, so calls can be chained.

    Raises:
        ConfigError: On the first offending value, naming its key.

    """
    check_ranges(cfg)
    check_population(cfg.population)
    check_strategy(cfg.strategy, list(cfg.population.segments))
    for i, x in enumerate(cfg.economics.spend_response_multipliers):
        if not math.isfinite(x) or x < 0:
            raise ConfigError(f"economics.spend_response_multipliers[{i}]", x, "a finite number >= 0")
    return cfg


def config_dir() -> Path:
    """The ``conf/`` directory.

    ``sim/conf`` in the package (a copy in a wheel; in a source checkout a link to
    the ``conf/`` folder at the repository root), else that folder itself.
    """
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no conf/config.yaml next to {here}")


def register_schema() -> None:
    """Register :class:`Config` in Hydra's ConfigStore as ``opsim_schema`` (idempotent)."""
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

    register_schema()
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
