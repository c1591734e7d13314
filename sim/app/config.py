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

import copy
import dataclasses
import math
import re
import shlex
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from sim.analysis.economics import EconomicsConfig
from sim.base.errors import ConfigError
from sim.base.schema import bounded, check_ranges
from sim.core.model import AGENT_MODES
from sim.core.population import PopulationConfig, check_population
from sim.levers.strategy import StrategyConfig, check_strategy

__all__ = [
    "GROUPS",
    "Config",
    "compose",
    "config_dir",
    "load_config",
    "preset_run_command",
    "quote_value",
    "split_values",
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


def preset_run_command(path: str | Path, group: str = "population") -> str:
    """The command that runs a preset file where it lies, as it can be pasted into a shell.

    ``opsim population=NAME`` for a file in opsim's own ``conf/population/``;
    ``opsim --config-dir DIR population=NAME`` for ``DIR/population/NAME.yaml`` anywhere
    else (Hydra finds a group's options in a ``<group>/`` folder of each config dir).

    Args:
        path: The preset's YAML file.
        group: Its config group (``population`` or ``strategy``).

    """
    path = Path(path).resolve()
    name = path.stem
    if path.parent.name != group:
        return (
            f"put {path.name} in a folder named {group}/ (DIR/{group}/{path.name}), "
            f"then: opsim --config-dir DIR {group}={name}"
        )
    root = path.parent.parent
    if root == config_dir().resolve():
        return f"opsim {group}={name}"
    return f"opsim --config-dir {shlex.quote(str(root))} {group}={name}"


def register_schema() -> None:
    """Register :class:`Config` in Hydra's ConfigStore as ``opsim_schema`` (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="opsim_schema", node=Config)


#: Maps of named entries, and the option of the ``add`` group (``conf/add/``) that creates one
#: from the command line: ``+add@strategy.paid_ads.tiktok=channel``.
MAP_ENTRY_KINDS = {
    "strategy.paid_ads": "channel",
    "population.segments": "segment",
    "strategy.viral_events": "viral_event",
}


def _schema_node(path: str) -> Any:
    """The schema type at a dotted path: a dataclass, ``dict`` for a map of entries, or None."""
    node: Any = Config
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, tuple):  # inside a map: any entry name has the entry type
            node = node[1]
            continue
        if not dataclasses.is_dataclass(node):
            return None
        hint = typing.get_type_hints(node).get(part)
        if hint is None:
            return None
        if typing.get_origin(hint) is dict:
            node = ("map", typing.get_args(hint)[1])
        else:
            node = hint
    return node


def _schema_keys(path: str) -> list[str] | None:
    """Keys the schema allows under a dotted path (None if it is not a schema node)."""
    node = _schema_node(path)
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else None


def _new_entry_hint(key: str) -> str | None:
    """How to add the map entry that ``key`` names or lies inside (None if ``key`` is in no map)."""
    for map_key, kind in MAP_ENTRY_KINDS.items():
        if key.startswith(map_key + "."):
            name = key[len(map_key) + 1 :].split(".")[0]
            return (
                f"{map_key} has no entry {name!r}: create it first with +add@{map_key}.{name}={kind}, then set its keys"
            )
    return None


def _given_key(key: str, values: Mapping[str, Any]) -> str:
    """The given (override) key that ``key`` — possibly a bare last part or a prefix — stands for."""
    if key in values:
        return key
    return next((k for k in values if k.endswith("." + key) or f".{key}." in k or k.startswith(key + ".")), key)


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
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        new_type = "Invalid type assigned" in first and "is not a subclass of" in first
        if new_type or ("not in struct" in first and isinstance(_schema_node(parent), tuple)):
            given = _given_key(key, values)
            hint = _new_entry_hint(given)
            if hint is not None:
                return ConfigError(given, values.get(given), hint)
        if "not in struct" in first or ("Key '" in first and "not in" in first):
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


def _load(primary: str, config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``config_name`` from the folder ``primary`` with Hydra's config loader.

    The loader is opsim's own, with its own search path (Hydra's defaults, ``primary``,
    the search-path plugins, the ConfigStore): nothing global is read or changed, so
    this works the same with no Hydra at all, inside a user's ``@hydra.main`` app and
    inside ``hydra.initialize()``, whose state stays as it was.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(f"file://{primary}"))
    return loader.load_configuration(
        config_name=config_name, overrides=overrides, run_mode=RunMode.RUN, from_shell=False
    )


def _register_hydra_resolvers() -> None:
    """Hydra's ``${now:...}`` and friends (used by ``hydra.sweep.dir``), where no Hydra app has registered them."""
    if not OmegaConf.has_resolver("now"):
        from hydra.core.utils import setup_globals

        setup_globals()


def compose(
    overrides: Iterable[str] = (),
    *,
    config_name: str = "config",
    extra_dir: str | None = None,
    with_hydra: bool = False,
) -> DictConfig:
    """Compose the Hydra config from ``conf/`` with command-line style overrides.

    Works anywhere: in a plain script, inside a user's own ``@hydra.main`` app and
    inside ``hydra.initialize()``; opsim composes from its own ``conf/`` and leaves the
    caller's Hydra state alone.

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
    if isinstance(overrides, str | bytes):
        raise TypeError(f"overrides must be a list of strings, not a single string: write [{overrides!r}]")
    register_schema()
    overrides = list(overrides)
    primary = str(config_dir())
    if extra_dir is not None and (Path(extra_dir) / f"{config_name}.yaml").is_file():
        # a study's own primary config: its folder is primary, opsim's conf/ stays on the search path
        primary, overrides = extra_dir, [*overrides, f"hydra.searchpath=[file://{config_dir()}]"]
    elif extra_dir is not None:  # extra presets (e.g. a calibrated population) next to opsim's conf/
        overrides = [*overrides, f"hydra.searchpath=[file://{extra_dir}]"]
    try:
        cfg = _load(primary, config_name, overrides)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra and OmegaConf errors become one line
        raise _error_from(exc, _override_values(overrides)) from exc
    if with_hydra:
        _register_hydra_resolvers()
    else:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def _no_extra_keys(given: Any, typed: Any) -> bool:
    """Every key of ``given`` exists in ``typed`` (nested dicts), so nothing was silently dropped."""
    if isinstance(given, dict):
        return isinstance(typed, dict) and all(k in typed and _no_extra_keys(v, typed[k]) for k, v in given.items())
    return True


#: Config groups: a string under one of these keys (in a mapping, or as a model
#: keyword) picks a preset from ``conf/<group>/``, as ``population=game`` does on the command line.
GROUPS = ("population", "strategy")
#: A node given with this key is a whole description, like a preset file: it replaces the
#: default's node and takes the schema's defaults for what it leaves out. A population with
#: ``segments`` describes the whole market (segment weights are shares of it); any other
#: mapping is merged into the default key by key (ad channels and viral events are added
#: to the strategy's).
WHOLE_NODES = {("population",): "segments"}
#: Separators of nested keys in a flat mapping or in keywords: ``population.market_size``
#: (any mapping, ``mesa.batch_run`` parameters) or ``population__market_size`` (a Python keyword).
KEY_SEPARATORS = (".", "__")

ConfigLike = Config | DictConfig | Mapping[str, Any] | Iterable[str] | None


def _plain(value: Any) -> Any:
    """OmegaConf containers as plain dicts and lists (other values as they are)."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _key_path(key: str) -> list[str]:
    for sep in KEY_SEPARATORS:
        if sep in key:
            return key.split(sep)
    return [key]


def _merge_into(base: dict[str, Any], update: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge ``update`` into ``base`` (in place) key by key; a node of :data:`WHOLE_NODES` replaces the base's."""
    for key, value in update.items():
        here = (*path, key)
        value = _plain(value)
        whole = here in WHOLE_NODES and isinstance(value, Mapping) and WHOLE_NODES[here] in value
        if isinstance(value, Mapping) and isinstance(base.get(key), dict) and not whole:
            _merge_into(base[key], value, here)
        else:
            base[key] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value  # never the caller's
    return base


def split_values(values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Split a flat or nested mapping into preset choices and nested values.

    ``{"population": "game", "population.market_size": 5000, "strategy__referral__reward": 2}``
    gives ``({"population": "game"}, {"population": {"market_size": 5000}, "strategy":
    {"referral": {"reward": 2}}})``.

    Returns:
        ``(choices, nested)``: preset names by group (:data:`GROUPS`), and every other
        value placed at its nested key.

    """
    choices: dict[str, str] = {}
    nested: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"config keys must be strings, not {type(key).__name__} ({key!r})")
        path = _key_path(key)
        if len(path) == 1 and key in GROUPS and isinstance(value, str):
            choices[key] = value
            continue
        update: Any = _plain(value)
        for part in reversed(path):
            update = {part: update}
        _merge_into(nested, update)
    return choices, nested


def _preset_overrides(choices: Mapping[str, str]) -> list[str]:
    """``group=name`` overrides that pick presets."""
    return [f"{group}={name}" for group, name in choices.items()]


def _composed_plain(overrides: list[str]) -> dict[str, Any]:
    return OmegaConf.to_container(compose(overrides), resolve=True)  # type: ignore[return-value]


def _is_typed(cfg: Any) -> bool:
    """A Config, or a DictConfig Hydra merged onto the schema: complete, not merged over the defaults."""
    return isinstance(cfg, Config) or (isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is Config)


def _check_kind(cfg: Any) -> None:
    if isinstance(cfg, str | bytes):
        raise TypeError(
            f"config must be a Config, a mapping or a list of overrides, not a string ({cfg!r}); "
            f"write ['{cfg}'] for an override or {{'population': '{cfg}'}} for a preset"
        )
    if cfg is not None and not isinstance(cfg, Config | DictConfig | Mapping | Iterable):
        raise TypeError(f"config must be a Config, a mapping, a list of overrides or None, not {type(cfg).__name__}")


def _typed(plain: dict[str, Any]) -> Config:
    """Merge a plain config onto the schema: unknown keys and wrong types raise a one-line ConfigError."""
    plain.pop("hydra", None)
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), plain))  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or ""
        found = OmegaConf.select(OmegaConf.create(plain), key) if key else None
        if isinstance(found, DictConfig | ListConfig):
            found = OmegaConf.to_container(found)
        raise _error_from(exc, {key: found}) from exc


def load_config(cfg: ConfigLike = None, values: Mapping[str, Any] | None = None) -> Config:
    """Turn any accepted config form into a validated :class:`Config`.

    Args:
        cfg: One of

            * a :class:`Config`, or a DictConfig Hydra merged onto the schema: taken as it is;
            * a list of Hydra overrides (``["population=game", "seed=3"]``), composed from ``conf/``;
            * a mapping or a plain DictConfig, merged over the default config key by key
              (``{"population": {"market_size": 5000}}``); a string under ``population`` or
              ``strategy`` picks a preset (``{"population": "game"}``), dotted keys are
              nested keys (``{"population.market_size": 5000}``), and a population given with
              ``segments`` is a whole population, as in a preset file (what it leaves out
              takes the schema's defaults, not the default preset's);
            * None: the default config.
        values: Further values over ``cfg``, in the mapping form above (preset names,
            dotted or ``__``-separated keys): what keyword arguments to
            :class:`~sim.app.model.UserLifecycleModel` and ``mesa.batch_run`` parameters become.

    Returns:
        The validated, typed config.

    Raises:
        ConfigError: On an unknown key, a wrong type or an out-of-range value.
        TypeError: If ``cfg`` is a bare string or not a config form at all.

    """
    _check_kind(cfg)
    if not values:
        if cfg is None:
            cfg = compose()
        elif not isinstance(cfg, Config | DictConfig | Mapping):
            cfg = compose(list(cfg))
        if isinstance(cfg, Config):
            return validate(cfg)
        if isinstance(cfg, DictConfig) and "hydra" not in cfg and _is_typed(cfg):
            try:  # already merged onto the schema by Hydra: convert, do not merge again (fast)
                typed = OmegaConf.to_object(cfg)
                if _no_extra_keys(OmegaConf.to_container(cfg, resolve=True), dataclasses.asdict(typed)):
                    return validate(typed)
            except OmegaConfBaseException:
                pass  # fall through to the merge, which names the offending key
    choices, updates = split_values(values or {})
    if _is_typed(cfg):
        if isinstance(cfg, Config):
            base = dataclasses.asdict(cfg)
        else:  # without Hydra's own node, whose interpolations need a running Hydra app
            base = _plain(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
        for group, name in choices.items():  # a preset replaces the node whole
            base[group] = _composed_plain(_preset_overrides({group: name}))[group]
    elif isinstance(cfg, DictConfig | Mapping):
        given_choices, given = split_values(_plain(cfg))
        base = _merge_into(_composed_plain(_preset_overrides({**given_choices, **choices})), given)
    else:
        overrides = [] if cfg is None else list(cfg)
        base = _composed_plain([*overrides, *_preset_overrides(choices)])
    return validate(_typed(_merge_into(base, updates)))
