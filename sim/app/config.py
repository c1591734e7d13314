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
import functools
import math
import numbers
import os
import re
import shlex
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from sim.analysis.economics import EconomicsConfig
from sim.app.config_cache import ComposeCache
from sim.base.errors import ConfigError
from sim.base.schema import bounded, check_ranges
from sim.core.kernels import KERNEL_MODES, compiled_available
from sim.core.model import AGENT_MODES, PARALLEL_MODES
from sim.core.population import PopulationConfig, check_population
from sim.levers.strategy import StrategyConfig, check_strategy

if TYPE_CHECKING:
    from hydra.core.config_search_path import ConfigSearchPath

__all__ = [
    "GROUPS",
    "Config",
    "bool_argument",
    "compose",
    "config_dir",
    "load_config",
    "parse_overrides",
    "preset_run_command",
    "quote_value",
    "search_first",
    "split_values",
    "sweep_variants",
    "swept_values",
    "validate",
]

#: The schema's name in Hydra's ConfigStore (``defaults: [opsim_schema, ...]`` in ``conf/config.yaml``).
SCHEMA_NAME = "opsim_schema"
#: Configs composed in this process (:mod:`sim.app.config_cache`): a second composition is a copy.
COMPOSED = ComposeCache()
#: Longest horizon accepted: day numbers are stored as int16 and the cohort
#: matrix is horizon x horizon.
MAX_HORIZON_DAYS = 3650
#: Most threads a run may ask for (``threads``; 0 picks one per available core).
MAX_THREADS = 256


@dataclass
class Config:
    """Everything one simulation run needs."""

    seed: int = bounded(0, ge=0)
    horizon_days: int = bounded(365, ge=1, le=MAX_HORIZON_DAYS)
    progress: bool = True
    figures: bool = True
    agents: str = bounded("auto", choices=AGENT_MODES)
    record_events: bool = True
    threads: int = bounded(0, ge=0, le=MAX_THREADS)
    parallel: str = bounded("auto", choices=PARALLEL_MODES)
    kernels: str = bounded("auto", choices=KERNEL_MODES)
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
    _check_names(cfg)
    if cfg.kernels == "compiled" and not compiled_available():
        raise ConfigError(
            "kernels", cfg.kernels, "auto or numpy: numba is not installed (pip install 'opsim[compiled]' for compiled)"
        )
    check_population(cfg.population)
    check_strategy(cfg.strategy, list(cfg.population.segments))
    for i, x in enumerate(cfg.economics.spend_response_multipliers):
        if not math.isfinite(x) or x < 0:
            raise ConfigError(f"economics.spend_response_multipliers[{i}]", x, "a finite number >= 0")
    return cfg


#: Text keys that must say something, and what each may be: the logs and reports print
#: them ("simulating consumer_app: …", "revenue 7,250 USD"), where an empty one left a gap.
NAMED_KEYS = {
    "population.name": "a non-empty name (e.g. population.name=my_market)",
    "strategy.name": "a non-empty name (e.g. strategy.name=my_strategy)",
    "economics.currency": "a non-empty currency, printed after every amount of money (e.g. USD)",
}


def _check_names(cfg: Config) -> None:
    """Refuse an empty (or blank) name or currency (:data:`NAMED_KEYS`).

    Raises:
        ConfigError: Naming the key, the value and what is allowed.

    """
    for key, allowed in NAMED_KEYS.items():
        node: Any = cfg
        for part in key.split("."):
            node = getattr(node, part)
        if not str(node).strip():
            raise ConfigError(key, node, allowed)


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

    store = ConfigStore.instance()
    stored = store.repo.get(f"{SCHEMA_NAME}.yaml")
    if stored is None or OmegaConf.get_type(stored.node) is not Config:  # building the node costs ~20 ms
        store.store(name=SCHEMA_NAME, node=Config)


#: Maps of named entries, and the option of the ``add`` group (``conf/add/``) that creates one
#: from the command line: ``+add@strategy.paid_ads.tiktok=channel``.
MAP_ENTRY_KINDS = {
    "strategy.paid_ads": "channel",
    "population.segments": "segment",
    "strategy.viral_events": "viral_event",
}
#: Maps of the planner's config (opsim-plan only; ``conf/opsim_plan.yaml``), and the option of the
#: ``add`` group that creates an entry of one: ``+add@plan.variables.onboarding=variable``.
PLANNER_MAP_ENTRY_KINDS = {"plan.variables": "variable"}
#: The planner's primary schema in Hydra's ConfigStore (registered by :mod:`sim.app.plan_config`).
PLANNER_SCHEMA_NAME = "opsim_plan_schema"


#: The config group whose options create a new map entry where they are placed (``+add@MAP.NAME=KIND``).
ADD_GROUP = "add"
#: Config groups only opsim-plan reads (``conf/plan/``): not among the presets ``opsim --help`` lists.
PLANNER_GROUPS = ("plan",)
#: What ``opsim --help`` leaves out of its presets: the planner's groups, and the ``add`` options of its maps.
HIDDEN_FROM_RUN_HELP = (*PLANNER_GROUPS, *(f"{ADD_GROUP}/{kind}" for kind in PLANNER_MAP_ENTRY_KINDS.values()))
#: opsim's primary config (``conf/config.yaml``): a run's, whose defaults pick no planner preset.
RUN_CONFIG_NAME = "config"


def planner_preset(key: str, value: Any) -> str:
    """What is allowed instead of a planner's preset in a run's config (``plan=quarter_growth`` given to opsim)."""
    return f"a preset for opsim-plan (opsim-plan {key}={value}); opsim runs a strategy"


def check_not_planner(overrides: Iterable[str]) -> None:
    """Refuse a preset of the planner's groups for a run (``plan=quarter_growth``, ``+plan=...``; not a ``~`` delete).

    A new entry of a planner's map (``+add@plan.variables.x=variable``) is refused too.

    Raises:
        ConfigError: Naming the key, the value and opsim-plan.

    """
    for o in overrides:
        if o.startswith("~"):
            continue
        key, _, value = o.lstrip("+").partition("=")
        group, _, package = key.partition("@")
        if group == ADD_GROUP and package.rpartition(".")[0] in PLANNER_MAP_ENTRY_KINDS:
            where = package.rpartition(".")[0]
            raise ConfigError(
                f"+{key}", value, f"an entry for opsim-plan ({where} is a plan's: opsim-plan +{key}={value})"
            )
        if group in PLANNER_GROUPS:
            raise ConfigError(key, value, planner_preset(key, value))


def _check_new_entry(text: str, package: str, kind: Any) -> None:
    """Refuse an ``add`` override placed anywhere but at a new entry of a map, or of another map's kind.

    Hydra merges the option wherever it is placed: at the map itself
    (``+add@strategy.paid_ads=channel``) its keys vanished without a word; at a key that
    is no map (``+add@strategy.paid_ad.x=channel``) the error blamed the preset file.
    """
    kinds = {**MAP_ENTRY_KINDS, **PLANNER_MAP_ENTRY_KINDS}
    where = ", ".join(f"+add@{map_key}.NAME={entry}" for map_key, entry in kinds.items())
    map_key, _, name = package.rpartition(".")
    given = text.partition("=")[0]
    if map_key not in kinds or not name:
        raise ConfigError(given, kind, f"a new entry of a map, with its name: {where}")
    if str(kind) != kinds[map_key]:
        raise ConfigError(given, kind, f"a new entry of {map_key}: +add@{map_key}.{name}={kinds[map_key]}")


#: What a true/false key takes, as an error says it: OmegaConf reads 1/0 and the words
#: YAML 1.1 reads as true and false, in any case (docs: README, "Override anything").
BOOL_VALUES = "true or false (or 1/0, yes/no, on/off, y/n)"


#: What a true/false argument of the Python API (``simulate(progress=...)``) takes, as an error says it.
BOOL_ARGUMENT_VALUES = "True or False (or 1/0)"


def bool_argument(name: str, value: Any) -> bool:
    """A true/false argument of the Python API as a bool; anything but a bool, 1 or 0 is refused.

    ``simulate(progress="no")`` showed the progress bars (a non-empty string is truthy),
    where the command line refuses ``progress=maybe``. numpy's bools and whole numbers are
    taken (``np.True_``, ``np.int64(0)``).

    Args:
        name: The argument's name, for the error.
        value: What was given.

    Raises:
        ConfigError: Naming the argument, the value and what is allowed.

    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise ConfigError(name, value, BOOL_ARGUMENT_VALUES, exact=True)  # 1.0 is refused: not shown as 1


@functools.cache
def _type_hints(schema: type) -> dict[str, Any]:
    """The field types of a schema dataclass (kept: ``typing.get_type_hints`` evaluates every annotation anew)."""
    return typing.get_type_hints(schema)


def _check_whole_number_for_bool(key: str, value: Any, schema: type = Config) -> None:
    """Refuse a whole number other than 0 and 1 for a true/false key (OmegaConf reads any other as true).

    ``figures=-1`` ran with the figures on, and ``record_events=2`` with events, where
    ``record_events=maybe`` is refused; 0 and 1 stay false and true, as OmegaConf reads them.
    A whole number written as text (``figures='2'``, ``{"figures": "-1"}``) is refused
    too: OmegaConf reads it as the number. Values of the config (a mapping given whole
    included): the command line's (:func:`parse_overrides`; :func:`_check_plan_bools` for
    the planner's own keys), the config files' (:func:`_check_preset_bools`) and the
    Python API's mappings and keywords (:func:`load_config`). ``schema``: the primary
    config's (:class:`Config`, or the planner's, which adds ``plan``).
    """
    if isinstance(value, dict):  # a mapping given whole: strategy.winback={enabled: 2}
        for inner, item in value.items():
            _check_whole_number_for_bool(f"{key}.{inner}", item, schema)
        return
    number = _whole_number(value)
    if number is None or number in (0, 1):
        return
    parent, _, name = key.rpartition(".")
    node = _schema_node(parent, schema)
    if dataclasses.is_dataclass(node) and _type_hints(node).get(name) is bool:
        raise ConfigError(key, value, BOOL_VALUES)


def _whole_number(value: Any) -> int | None:
    """The whole number an int or a text (``'2'``, ``' -1'``) is, as OmegaConf reads it for a bool; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _check_preset_bools(read: list[tuple[Any, Any]], schema: type) -> None:
    """Refuse a whole number other than 0 and 1 for a true/false key in the config files a composition read.

    OmegaConf reads ``enabled: 2`` in a preset file as true, as it does on the command
    line (:func:`_check_whole_number_for_bool`). ``read`` is every config Hydra's loader
    loaded, as it loaded it (:class:`_RecordingLoader`): the primary config, each chosen
    preset and each plain entry of a defaults list, its values already placed at the
    node Hydra merges them into (an ``add@`` node, a ``# @package`` header, the group's path).
    ConfigStore nodes (the schemas) are not files and not checked. Values are checked
    against the composed config's schema (``schema``: the planner's adds ``plan``).

    Raises:
        ConfigError: Naming the key, the value and the file.

    """
    for default, result in read:
        if result.is_schema_source or result.path.startswith("structured://"):
            continue
        values = OmegaConf.to_container(result.config)
        if not isinstance(values, dict):
            continue
        where = f"{result.path.removeprefix('file://')}/{default.config_path}.yaml"
        for key, value in values.items():  # already placed at the node Hydra merges them into
            try:
                _check_whole_number_for_bool(str(key), value, schema)
            except ConfigError as exc:
                raise ConfigError(exc.key, exc.value, f"{exc.allowed} (in {where})") from None


def _schema_of(cfg: DictConfig) -> type:
    """The schema a composed config was merged onto (its primary config's first default), else :class:`Config`."""
    schema = OmegaConf.get_type(cfg)
    return schema if isinstance(schema, type) and dataclasses.is_dataclass(schema) else Config


def _check_plan_bools(cfg: DictConfig, overrides: list[str]) -> None:
    """The command line's whole numbers for true/false keys that only the composed config's schema has (``plan``).

    :func:`parse_overrides` checks the run config's keys before composing; a primary
    config with a schema of its own (the planner's ``plan.variables.<name>.log``) is
    checked here, once composed.
    """
    schema = _schema_of(cfg)
    if schema is Config:
        return
    for one in parse_overrides(overrides):
        if one.key_or_group != ADD_GROUP and not one.is_delete():
            _check_whole_number_for_bool(one.key_or_group, one.value(), schema)


def _schema_node(path: str, schema: type = Config) -> Any:
    """The schema type at a dotted path: a dataclass, ``dict`` for a map of entries, or None."""
    node: Any = schema
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, tuple):  # inside a map: any entry name has the entry type
            node = node[1]
            continue
        if not dataclasses.is_dataclass(node):
            return None
        hint = _type_hints(node).get(part)
        if hint is None:
            return None
        if typing.get_origin(hint) is dict:
            node = ("map", typing.get_args(hint)[1])
        else:
            node = hint
    return node


def _fields_of(node_type: Any) -> list[str] | None:
    """The keys of a structured config node's dataclass (not its private ``_target_``-like ones), or None."""
    if not (isinstance(node_type, type) and dataclasses.is_dataclass(node_type)):
        return None
    return [f.name for f in dataclasses.fields(node_type) if not f.name.startswith("_")] or None


def _schema_keys(path: str, schema: type | None = Config) -> list[str] | None:
    """Keys the schema (the run config's by default) allows under a dotted path (None if it is not a schema node)."""
    if schema is None:
        return None
    node = _schema_node(path, schema)
    return [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else None


def _planner_schema() -> type | None:
    """The planner's primary schema, if :mod:`sim.app.plan_config` registered it in Hydra's ConfigStore (else None)."""
    from hydra.core.config_store import ConfigStore

    stored = ConfigStore.instance().repo.get(f"{PLANNER_SCHEMA_NAME}.yaml")
    schema = None if stored is None else OmegaConf.get_type(stored.node)
    return schema if isinstance(schema, type) else None


def _new_entry_hint(key: str, value: Any = None) -> str | None:
    """How to add the map entry that ``key`` names or lies inside, or set its keys (None if ``key`` is in no map).

    A single value given to an entry itself (``strategy.paid_ads.search=5``) is refused
    the same way whether the entry exists or not: an entry is a mapping of its keys.
    """
    for map_key, kind in {**MAP_ENTRY_KINDS, **PLANNER_MAP_ENTRY_KINDS}.items():
        if key.startswith(map_key + "."):
            name = key[len(map_key) + 1 :].split(".")[0]
            if key == f"{map_key}.{name}" and not str(value).lstrip().startswith("{"):
                keys = _schema_keys(key) or _schema_keys(key, _planner_schema()) or []
                return (
                    f"a {kind} is a mapping of its keys, not one value: set one with {key}.KEY=VALUE (KEY one of "
                    f"{', '.join(keys)}); a new {kind} is made with +add@{key}={kind}"
                )
            return (
                f"{map_key} has no entry {name!r}: create it first with +add@{map_key}.{name}={kind}, then set its keys"
            )
    return None


def _given_key(key: str, values: Mapping[str, Any]) -> str:
    """The given (override) key that ``key`` — possibly a bare last part or a prefix — stands for."""
    if key in values:
        return key
    return next((k for k in values if k.endswith("." + key) or f".{key}." in k or k.startswith(key + ".")), key)


def _preset_file(chain: list[BaseException], search: list[Path]) -> Path | None:
    """The preset file Hydra was merging when it failed (``In 'strategy/typo': ...``), if found."""
    for exc in chain:
        found = re.match(r"In '([^']+)'", str(exc))
        if found:
            for folder in search:
                candidate = folder / f"{found.group(1)}.yaml"
                if candidate.is_file():
                    return candidate
    return None


def _value_in_given_mapping(key: str, values: Mapping[str, Any]) -> Any:
    """The value of a dotted key inside a mapping given whole (``strategy.referral={enabled:true,foo:1}``), or None."""
    for given, text in values.items():
        if not (isinstance(text, str) and key.startswith(given + ".")):
            continue
        try:
            (override,) = parse_overrides([f"{given}={text}"])
        except ConfigError:
            return None
        node: Any = override.value()
        for part in key[len(given) + 1 :].split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node
    return None


def _value_in_file(path: Path, key: str) -> Any:
    """The value of a dotted key in a preset file (its group's prefix dropped), or None."""
    import yaml

    try:
        node: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    group = path.parent.name
    parts = key.split(".")
    if parts and parts[0] == group:
        parts = parts[1:]
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


_TYPE_WORDS = {
    "converted to Integer": "an integer",
    "converted to Float": "a number",
    "not a valid bool": BOOL_VALUES,
    "Value '": "a value of the schema's type",
}


def _error_from(exc: BaseException, values: Mapping[str, Any], search: Iterable[Path] = ()) -> ConfigError:
    """Turn a Hydra/OmegaConf exception chain into one ConfigError.

    Args:
        exc: The exception raised by composing or merging.
        values: Known values by dotted key (from the overrides or the config).
        search: Config folders, to name the preset file an error comes from.

    """
    from hydra.errors import MissingConfigException, OverrideParseException

    chain = []
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    parse = next((e for e in chain if isinstance(e, OverrideParseException)), None)
    if parse is not None:
        return override_syntax_error(parse)
    found = [e for e in chain if isinstance(e, OmegaConfBaseException)]
    found.sort(key=lambda e: not getattr(e, "full_key", None))
    preset = _preset_file(chain, list(search))
    where_file = f" (in {preset})" if preset is not None else ""
    if found:
        e = found[0]
        key = getattr(e, "full_key", None) or ""
        value = values.get(key, getattr(e, "value", None))
        if isinstance(value, _Repeated):  # a key given twice: the value the error is about, not the last one given
            value = getattr(e, "value", None)
        if key not in values and preset is not None:
            value = _value_in_file(preset, key)
        elif key not in values and value is None:
            value = _value_in_given_mapping(key, values)
        first = str(e).splitlines()[0].strip()
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        new_type = "Invalid type assigned" in first and "is not a subclass of" in first
        in_map = isinstance(_schema_node(parent), tuple) or parent in PLANNER_MAP_ENTRY_KINDS
        if new_type or ("not in struct" in first and in_map):
            given = _given_key(key, values)
            hint = _new_entry_hint(given, values.get(given))
            if hint is not None:
                return ConfigError(given, values.get(given), hint)
        if "not in struct" in first or ("Key '" in first and "not in" in first):
            # the run config's schema, else the node's own (the planner's plan, Hydra's nodes)
            allowed = _schema_keys(parent) or _fields_of(getattr(e, "object_type", None))
            where = parent or "the top level"
            hint = f"one of {', '.join(allowed)}" if allowed else "a key the schema defines"
            if parent == "hydra.launcher" and not allowed:
                hint = BASIC_LAUNCHER_KEYS
            return ConfigError(key, value, f"unknown key in {where}; expected {hint}{where_file}")
        if "Interpolation" in type(e).__name__ or "interpolation" in first.lower():
            return ConfigError(key or "config", value, f"an interpolation that resolves ({first}){where_file}")
        for marker, wanted in _TYPE_WORDS.items():
            if marker in first:
                got = f" (got {first.split(' of type ')[1].split()[0]})" if " of type " in first else ""
                return ConfigError(key, value, wanted + got + where_file, exact=wanted == BOOL_VALUES)
        return ConfigError(key or "config", value, first + where_file)
    text = " ".join(str(chain[0]).split())
    if "Could not find '" in text and "Available options in '" in text:
        missing = text.split("Could not find '")[1].split("'")[0]  # population/nope, hydra/launcher/x
        group = missing.rsplit("/", 1)[0]
        options = text.split("Available options in '")[1].split(":", 1)[1].split("Config search path")[0].split()
        where = "" if group.startswith("hydra/") else f" (conf/{group}/)"
        chosen = values.get(group)
        if isinstance(chosen, _Repeated) or chosen is None:
            chosen = missing.rsplit("/", 1)[-1]
        return ConfigError(group, chosen, f"a {group} preset{where}: one of {', '.join(options)}")
    missing = next((e for e in chain if isinstance(e, MissingConfigException)), None)
    if missing is not None and "primary config" in text:
        return ConfigError("--config-name", missing.missing_cfg_file, "a config file in the config folders")
    marks = list(_YAML_ERROR.finditer(text))
    if marks:  # a preset file YAML cannot read: named by its group and name, and where (the problem's own mark,
        # the last: "while parsing a flow sequence in ..., line 1 ... expected ',' or ']' ... in ..., line 2")
        last = marks[-1]
        path = Path(last["file"])
        problem = text[marks[-2].end() if len(marks) > 1 else 0 : last.start()].strip().rstrip(":")
        where = f"{path}, line {last['line']}, column {last['column']}"
        return ConfigError(path.parent.name, path.stem, f"a preset file YAML can read ({where}: {problem})")
    no_match = _NO_DEFAULT.search(text)
    if no_match is not None:  # a group choice the defaults list has no entry for
        key = no_match["key"]
        given = values.get(key)
        if isinstance(given, _Repeated) or given is None:  # given twice: the value Hydra's own advice names
            given = no_match["value"]
        if given is None:  # an `override` in a config file's defaults list, not on the command line
            where = f" (in {no_match['file']})" if no_match["file"] else ""
            return ConfigError(key, None, f"a group the defaults list picks from before the override{where}")
        if key.partition("@")[0] == ADD_GROUP:
            return ConfigError(key, given, f"a new map entry, with a leading +: +{key}={given}")
        return ConfigError(
            key, given, f"a group this config's defaults list picks from; to add one it does not: +{key}={given}"
        )
    ambiguous = _AMBIGUOUS.search(text)
    if ambiguous is not None:  # a,b without -m (opsim-plan has no -m at all)
        key = ambiguous["key"]
        given = values.get(key)  # as given: the message's own quoting cuts a value with a quote in it short
        list_form = "" if key in PRESET_GROUPS else "; a list is key=[a,b]"
        return ConfigError(
            key,
            given if isinstance(given, str) and not isinstance(given, _Repeated) else ambiguous["value"],
            f"one value (several are a sweep: opsim -m{list_form})",
        )
    return ConfigError(
        "override", " ".join(f"{k}={v}" for k, v in values.items() if not isinstance(v, _Repeated)), text
    )


#: Where a YAML parser's message says it failed: ``... in "/path/x.yaml", line 2, column 14``.
_YAML_ERROR = re.compile(r'in "(?P<file>[^"]+\.yaml)", line (?P<line>\d+), column (?P<column>\d+)')
#: What ``hydra.launcher`` takes with Hydra's default launcher, which has no keys of its own.
BASIC_LAUNCHER_KEYS = "no key with the default launcher (n_jobs and the like are joblib's: hydra/launcher=joblib)"
#: Hydra's message for ``group=option`` where the defaults list has no entry of the group.
_NO_DEFAULT = re.compile(
    r"(?:In '(?P<file>[^']+)': )?Could not override '(?P<key>[^']+)'\. No match in the defaults list\."
    r"(?:.*?use \+(?P=key)=(?P<value>\S*))?"
)
#: Hydra's message for a value with commas given without ``-m``.
_AMBIGUOUS = re.compile(r"Ambiguous value for argument '(?P<key>[^=']+)=(?P<value>[^']*)'")


#: Hydra's page on override syntax, named in parse errors.
OVERRIDE_GRAMMAR_URL = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def override_syntax_error(exc: Exception) -> ConfigError:
    """One line for an override Hydra cannot parse (``OverrideParseException``).

    Names the override's key (or the override itself when it has no ``=``), the
    value, what went wrong where, and how to quote.
    """
    text = getattr(exc, "override", "") or ""
    message = str(exc)
    key, eq, value = text.partition("=")
    lines = message.splitlines()
    if message.startswith("LexerNoViableAltException") and len(lines) > 1 and "^" in lines[1]:
        # the second line marks the offending character under the override (after the prefix)
        prefix = len("LexerNoViableAltException: ")
        at = lines[1].index("^") - prefix
        char = text[at] if 0 <= at < len(text) else ""
        what = f"unexpected {char!r} at character {at + 1}"
    else:
        what = next((ln for ln in lines if ln and not ln.startswith(("See ", "Error parsing override"))), message)
    if not eq:
        return ConfigError("override", text, f"key=value (e.g. seed=3); {what}")
    if not key.lstrip("+~"):
        return ConfigError("override", text, "key=value with a key before '=' (e.g. seed=3)")
    hint = f"lists are [a,b], text with special characters is quoted as {key}='...' (see {OVERRIDE_GRAMMAR_URL})"
    return ConfigError(key.lstrip("+~"), value, f"valid override syntax: {what}; {hint}")


#: The config groups whose presets are whole markets or strategies: one at a time.
PRESET_GROUPS = ("population", "strategy")
#: Why a list of presets is refused (Hydra would merge them into one, under the last one's name).
ONE_PRESET = (
    "one preset: a list would merge the presets into one (the last one's name on the other's levers "
    "or segments); several, one after another, are a sweep: opsim -m strategy=a,b"
)


def parse_overrides(overrides: Iterable[str]) -> list[Any]:
    """Parse command-line overrides with Hydra's grammar, one line per mistake.

    Besides Hydra's own syntax this refuses an override without a key (``=5``) and a
    swept key given twice (which jobs to run would be a guess). A plain key given
    twice is Hydra's: the last value wins (an error names the value that failed).

    Args:
        overrides: ``key=value`` strings.

    Returns:
        Hydra's parsed ``Override`` objects, in order.

    Raises:
        ConfigError: On the first override that cannot be parsed.

    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    overrides = list(overrides)
    for text in overrides:
        if not isinstance(text, str):
            raise ConfigError("override", text, "a string key=value (e.g. 'seed=3')")
    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            (one,) = parser.parse_overrides([text])
        except OverrideParseException as exc:
            raise override_syntax_error(exc) from None
        if not one.key_or_group:
            raise ConfigError("override", text, "key=value with a key before '=' (e.g. seed=3)")
        parsed.append(one)
    for text, one in zip(overrides, parsed, strict=True):
        if one.key_or_group == ADD_GROUP and not one.is_delete():
            _check_new_entry(text, one.package or "", text.partition("=")[2])
        elif not one.is_delete():
            _check_whole_number_for_bool(one.key_or_group, one.value())
        if one.key_or_group in PRESET_GROUPS and not one.is_sweep_override() and isinstance(one.value(), list):
            raise ConfigError(one.key_or_group, text.partition("=")[2], ONE_PRESET)
    seen: dict[str, list[Any]] = {}
    for one in parsed:
        seen.setdefault(one.key_or_group, []).append(one)
    for key, given in seen.items():
        if len(given) > 1 and any(o.is_sweep_override() for o in given):
            texts = [t for t, o in zip(overrides, parsed, strict=True) if o.key_or_group == key]
            raise ConfigError(
                key,
                [t.partition("=")[2] for t in texts],
                f"one sweep of values: {key} is given {len(given)} times; give each swept key once",
            )
    return parsed


class _Repeated(str):
    """The first value of a key given more than once: Hydra stops at it; an error with a value of its own names that."""


def _override_values(overrides: Iterable[str]) -> dict[str, Any]:
    """Value given for each key (its first as a :class:`_Repeated` for a key given more than once)."""
    out: dict[str, Any] = {}
    for o in overrides:
        key, _, value = o.partition("=")
        key = key.lstrip("+~")
        out[key] = _Repeated(out[key]) if key in out else value
    return out


def sweep_variants(overrides: list[str], extra_dir: str | None = None) -> list[list[str]]:
    """Override lists that cover every value of every sweep at least once (the first value of each, then one change at a time).

    Args:
        overrides: The command line's ``key=value`` overrides, sweeps among them.
        extra_dir: A further config folder (``--config-dir``), whose presets a
            ``glob(...)`` sweep of a group also picks.

    Raises:
        ConfigError: On an override that cannot be parsed, or a sweep that gives no
            value to run (:func:`swept_values`).

    """
    parsed = parse_overrides(overrides)
    choices = []
    for text, o in zip(overrides, parsed, strict=True):
        if o.is_sweep_override():
            choices.append(swept_values(o, text, extra_dir))
        else:
            choices.append([text])
    first = [c[0] for c in choices]
    variants = [first]
    for i, c in enumerate(choices):
        for value in c[1:]:
            variants.append([*first[:i], value, *first[i + 1 :]])
    return variants


#: What a sweep's values may be, as an error says it.
SWEEP_VALUES = "values to sweep over: a,b,c, range(start, stop[, step]) or, for presets, glob(pattern)"


def swept_values(override: Any, text: str, extra_dir: str | None = None) -> list[str]:
    """The ``key=value`` overrides a sweep override runs, one per value, in order.

    ``glob(...)`` picks from the presets of the group it names (``--config-dir``'s and
    opsim's), as Hydra's sweeper does.

    Args:
        override: The sweep, as :func:`parse_overrides` gives it.
        text: The override as written (named in an error).
        extra_dir: A further config folder (``--config-dir``).

    Raises:
        ConfigError: For a sweep that gives no value (``range(0, 0)``), one that cannot be
            listed (``interval(...)``, a zero step, a range among a list's values) and
            ``glob(...)`` of a key that is not a config group.

    """
    from hydra.core.override_parser.types import Glob, IntervalSweep

    key, value = override.get_key_element(), text.partition("=")[2]
    swept = override.value()
    if isinstance(swept, IntervalSweep):
        raise ConfigError(key, value, f"{SWEEP_VALUES}; interval() is for a sweeper that samples a range")
    if isinstance(swept, Glob):
        folders = _config_folders(extra_dir)
        if not _is_config_group(override.key_or_group, folders):
            raise ConfigError(
                key, value, f"{SWEEP_VALUES}; glob() picks presets of a config group ({', '.join(GROUPS)})"
            )
        names = {p.stem for folder in folders for p in (folder / override.key_or_group).glob("*.yaml")}
        values = swept.filter(sorted(names))
    else:
        try:
            values = list(override.sweep_string_iterator())
        except Exception:  # a range with step 0; a range among a list's values
            raise ConfigError(
                key, value, f"{SWEEP_VALUES} (a step other than 0; a range alone, not in a list)"
            ) from None
    if not values:
        raise ConfigError(key, value, f"{SWEEP_VALUES}; this one gives none")
    return [f"{key}={v}" for v in values]


def quote_value(text: str) -> str:
    r"""A Hydra override value that stays this exact string (commas, spaces, quotes, ``${``).

    In Hydra's quoted values a quote is escaped as ``\'``, backslashes only where they
    precede a quote (or the closing quote), and ``\${`` keeps ``${`` from interpolating.
    """
    body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    body = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body).replace("${", "\\${")
    return f"'{body}'"


def _load(config_name: str, overrides: list[str], extra_dir: str | None) -> tuple[DictConfig, tuple[Path, ...]]:
    """Compose ``config_name`` from opsim's ``conf/`` (and ``extra_dir`` before it) with Hydra's config loader.

    The loader is opsim's own, with its own search path (Hydra's defaults, ``extra_dir``,
    opsim's ``conf/``, the search-path plugins, the ConfigStore): nothing global is read
    or changed, so this works the same with no Hydra at all, inside a user's
    ``@hydra.main`` app and inside ``hydra.initialize()``, whose state stays as it was.

    Returns:
        The config, and the folders the composition searched: those it read a config
        from and every ``file://`` folder of its ``hydra.searchpath`` (which a config
        file may set itself), for the cache's key (:func:`compose`).

    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode

    class _RecordingLoader(ConfigLoaderImpl):
        """Hydra's loader, keeping each config it loads: (its defaults-list entry, the loaded file)."""

        def _load_single_config(self, default: Any, repo: Any) -> Any:
            result = super()._load_single_config(default, repo)
            read.append((default, result))
            return result

    read: list[tuple[Any, Any]] = []
    search_path = create_config_search_path(f"file://{config_dir()}")
    if extra_dir is not None:
        search_first(search_path, extra_dir)
    loader = _RecordingLoader(config_search_path=search_path)
    cfg = loader.load_configuration(
        config_name=config_name, overrides=overrides, run_mode=RunMode.RUN, from_shell=False
    )
    _check_preset_bools(read, _schema_of(cfg))
    roots = [result.path for _default, result in read if result is not None]
    roots += list(OmegaConf.select(cfg, "hydra.searchpath", default=None) or ())
    searched = {os.path.abspath(found): None for url in roots for found in _FILE_URL.findall(str(url))}
    return cfg, tuple(Path(folder) for folder in searched)


def search_first(search_path: ConfigSearchPath, folder: str | os.PathLike[str]) -> None:
    """Put ``folder`` (``--config-dir``) on Hydra's config search path before opsim's ``conf/`` (its ``main``).

    Hydra's own ``--config-dir`` goes after the primary folder, where opsim's presets
    would win over the user's of the same name, and a study's ``config.yaml`` would not
    be read. Before it, a preset or primary config in the folder is found first; every
    other one is opsim's.
    """
    from hydra.core.config_search_path import SearchPathQuery

    search_path.prepend(
        provider="command-line", path=f"file://{os.path.abspath(folder)}", anchor=SearchPathQuery(provider="main")
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

    It checks what composing checks: the overrides' syntax, preset names, keys the
    schema has (a key added with ``+`` is not checked), value types and true/false
    values. It does not check ranges, the rules between keys, keys added with ``+``
    or interpolations: ``compose(["seed=-5", "+foo=1"])`` returns that config.
    :func:`load_config` checks the rest, as ``opsim --cfg job`` does before it prints:
    ``load_config(compose(overrides))`` refuses what that command refuses. (opsim's own
    compositions need a config that is not checked yet: a preset whose values a later
    override replaces.)

    Each composition is kept for the process (:mod:`sim.app.config_cache`): the same
    call again, while no YAML file in the config folders changed, costs a copy of the
    kept config (a few ms instead of 0.1–0.2 s), and every call gets a config of its own.

    Args:
        overrides: Hydra overrides, e.g. ``["population=game", "seed=3"]``.
        config_name: Primary config (``config``, or a study's config found through a search path).
        extra_dir: A further config folder searched first (``--config-dir``, e.g. a study's).
        with_hydra: Keep the ``hydra`` node (sweeper params) in the result.

    Returns:
        The composed (not yet validated) config.

    Raises:
        ConfigError: If an override cannot be parsed, names an unknown preset or key, or
            gives a wrong type or a true/false key another value.

    """
    if isinstance(overrides, str | bytes):
        raise TypeError(f"overrides must be a list of strings, not a single string: write [{overrides!r}]")
    register_schema()
    overrides = list(overrides)
    if config_name == RUN_CONFIG_NAME:
        check_not_planner(overrides)
    folders = _config_folders(extra_dir)
    searched = [*folders, *(Path(p) for o in overrides if "searchpath" in o for p in _FILE_URL.findall(o))]
    call = (tuple(overrides), config_name, extra_dir, with_hydra)
    # and the folders an earlier composition of the call found on its own (a config file's hydra.searchpath)
    cfg = COMPOSED.get(COMPOSED.key(call, _with(searched, COMPOSED.folders_searched(call))))
    if cfg is None and not with_hydra:
        cfg = _values_on_template(overrides, config_name, extra_dir, folders)
    if cfg is None:
        cfg, found = _compose(overrides, config_name, extra_dir, with_hydra, searched)
        COMPOSED.note_folders_searched(call, found)
        # keyed as things are now: a first composition registers Hydra's plugins in its ConfigStore
        COMPOSED.put(COMPOSED.key(call, _with(searched, found)), cfg)
    _check_plan_bools(cfg, overrides)
    if with_hydra:
        _register_hydra_resolvers()
    return cfg


def _with(folders: list[Path], more: Sequence[Path]) -> list[Path]:
    """``folders`` and then those of ``more`` that are not among them (each folder's files are digested once)."""
    seen = {os.path.abspath(folder) for folder in folders}
    return [*folders, *(folder for folder in more if os.path.abspath(folder) not in seen)]


def _values_on_template(
    overrides: list[str], config_name: str, extra_dir: str | None, folders: list[Path]
) -> DictConfig | None:
    """A composition as Hydra makes it, from the kept composition of its preset choices alone; None: compose anew.

    Hydra composes in two steps: the defaults list (the presets that the group overrides
    such as ``population=game`` pick) is read and merged, then every other override
    (``seed=3``, ``population.market_size=5000``, ``+population.x=1``, ``~strategy.push``)
    is applied to the result with ``ConfigLoaderImpl._apply_overrides_to_config``. The
    first step is kept per choice of presets by :func:`compose` itself, so a call that
    only changes values costs a copy and the second step (tested equal to a whole
    composition, errors included). Calls that touch the ``hydra`` node, sweep a value or
    name no value go the whole way.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    parsed = parse_overrides(overrides)
    if any(o.key_or_group.startswith("hydra") or o.is_sweep_override() for o in parsed):
        return None
    is_value = [isinstance(o.value(), dict) or not _is_config_group(o.key_or_group, folders) for o in parsed]
    if not any(is_value):
        return None
    choices = [o.input_line for o, value in zip(parsed, is_value, strict=True) if not value]
    cfg = compose(choices, config_name=config_name, extra_dir=extra_dir)
    values = [o for o, value in zip(parsed, is_value, strict=True) if value]
    try:
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra and OmegaConf errors become one line, as in _compose
        raise _error_from(exc, _override_values(overrides), folders) from exc
    return cfg


def _config_folders(extra_dir: str | None) -> list[Path]:
    """The config folders in the order they are searched: ``--config-dir``'s first (:func:`search_first`), opsim's."""
    return [config_dir()] if extra_dir is None else [Path(extra_dir), config_dir()]


def _is_config_group(name: str, folders: list[Path]) -> bool:
    """Whether an override's key picks a preset: a group of the ConfigStore or a folder below one of ``folders``.

    A group within a group is named by its path: ``strategy/winback`` (``strategy/winback=w``).
    """
    from hydra.core.config_store import ConfigStore

    node: Any = ConfigStore.instance().repo
    for part in name.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return isinstance(node, dict) or any((folder / name).is_dir() for folder in folders if name)


#: A ``file://`` folder in a ``hydra.searchpath`` override.
_FILE_URL = re.compile(r"file://([^,\]'\"\s]+)")


def _compose(
    overrides: list[str], config_name: str, extra_dir: str | None, with_hydra: bool, search: list[Path]
) -> tuple[DictConfig, tuple[Path, ...]]:
    """Compose with Hydra (what :func:`compose` keeps): parse, load, one line for any error; and the folders searched."""
    parse_overrides(overrides)
    try:
        cfg, searched = _load(config_name, overrides, extra_dir)
    except ConfigError:
        raise
    except Exception as exc:  # Hydra and OmegaConf errors become one line
        raise _error_from(exc, _override_values(overrides), search) from exc
    if not with_hydra:
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg, searched


def _no_extra_keys(given: Any, typed: Any) -> bool:
    """Every key of ``given`` exists in ``typed`` (nested dicts), so nothing was silently dropped."""
    if isinstance(given, dict):
        return isinstance(typed, dict) and all(k in typed and _no_extra_keys(v, typed[k]) for k, v in given.items())
    return True


def _resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data with every interpolation resolved; one line for one that does not resolve."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or ""
        raise _error_from(exc, {key: _raw_value(cfg, key) if key else None}) from None


def _raw_value(cfg: DictConfig, key: str) -> Any:
    """The unresolved text of a key (``'${nosuch}'``), or None."""
    node: Any = OmegaConf.to_container(cfg, resolve=False)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


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


#: numpy scalar types whose values OmegaConf refuses ("not a supported primitive type") and
#: that :func:`_plain` turns into Python's bool, int and float.
NUMPY_SCALARS = (np.bool_, np.integer, np.floating)


def _plain(value: Any) -> Any:
    """A value as OmegaConf takes it; one line for a bad interpolation.

    OmegaConf containers become plain dicts and lists, and numpy numbers (``np.int64(30)``,
    ``np.float64(0.3)``, ``np.True_``: what a notebook's arrays, ``np.linspace`` and
    ``mesa.batch_run`` over them hand over) Python's bool, int and float, also inside
    arrays, lists, tuples and mappings; other values stay as they are (a NaN stays NaN,
    for the range checks to refuse).
    """
    if isinstance(value, DictConfig):
        return _resolved(value)
    if isinstance(value, ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, NUMPY_SCALARS):
        return value.item()
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
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
        text = cfg.decode(errors="replace") if isinstance(cfg, bytes) else cfg
        advice = (
            f"write [{text!r}] (a list of overrides)"
            if "=" in text
            else f"write ['population={text}'] or {{'population': {text!r}}} for a population preset "
            f"(['strategy={text}'] for a strategy preset)"
        )
        raise TypeError(f"config must be a Config, a mapping or a list of overrides, not a string ({cfg!r}); {advice}")
    if cfg is not None and not isinstance(cfg, Config | DictConfig | Mapping | Iterable):
        raise TypeError(f"config must be a Config, a mapping, a list of overrides or None, not {type(cfg).__name__}")


def _typed(plain: dict[str, Any]) -> Config:
    """Merge a plain config onto the schema: unknown keys and wrong types raise a one-line ConfigError."""
    plain.pop("hydra", None)
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), plain))  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or ""
        found = _raw_value(OmegaConf.create(plain), key) if key else None
        if isinstance(found, DictConfig | ListConfig):
            found = OmegaConf.to_container(found)
        raise _error_from(exc, {key: found}) from exc


def _check_given_bools(nested: Mapping[str, Any]) -> None:
    """Refuse, in a mapping or keywords, the whole numbers the command line refuses for a true/false key.

    ``{"figures": 2}`` ran with the figures on where ``figures=2`` is refused
    (:func:`_check_whole_number_for_bool`).
    """
    for key, value in nested.items():
        _check_whole_number_for_bool(key, value)


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
    _check_given_bools(updates)
    if _is_typed(cfg):
        if isinstance(cfg, Config):
            base = dataclasses.asdict(cfg)
        else:  # without Hydra's own node, whose interpolations need a running Hydra app
            base = _plain(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
        for group, name in choices.items():  # a preset replaces the node whole
            base[group] = _composed_plain(_preset_overrides({group: name}))[group]
    elif isinstance(cfg, DictConfig | Mapping):
        given_choices, given = split_values(_plain(cfg))
        _check_given_bools(given)
        base = _merge_into(_composed_plain(_preset_overrides({**given_choices, **choices})), given)
    else:
        overrides = [] if cfg is None else list(cfg)
        base = _composed_plain([*overrides, *_preset_overrides(choices)])
    return validate(_typed(_merge_into(base, updates)))
