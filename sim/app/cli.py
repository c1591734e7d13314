"""Command line: ``opsim [overrides]`` (also ``python -m sim``), a Hydra app.

Before Hydra starts, the overrides are composed and validated once (each value
of a sweep, for ``-m``), so a wrong key, type or range stops the command with one
line on stderr and exit code 2, before any simulation runs::

    $ opsim population.market_size=-5
    opsim: error: population.market_size=-5 is not allowed: a number >= 1
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from sim.app import sweep
from sim.app.config import (
    Config,
    compose,
    config_dir,
    load_config,
    parse_overrides,
    quote_value,
    register_schema,
    validate,
)
from sim.base.errors import ConfigError, OpsimError, UsageError

__all__ = ["main"]

log = logging.getLogger("opsim")

#: Hydra flags that take a value (the next argument) and flags that mean "do not run".
_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--package", "-p"}
_NO_RUN_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}
PROG = "opsim"
EXIT_CONFIG_ERROR = 2
_TOP = {f.name for f in dataclasses.fields(Config)}
EXIT_JOB_FAILED = 1


def _overrides(argv: Sequence[str]) -> tuple[list[str], bool, bool, str, str | None]:
    """Split argv into (overrides, multirun?, runs?, config name, extra config dir)."""
    overrides: list[str] = []
    multirun, runs, skip, name, extra = False, True, None, "config", None
    for arg in argv:
        if skip is not None:
            if skip in ("--config-dir", "-cd"):
                extra = str(Path(arg).resolve())
            elif skip in ("--config-name", "-cn"):
                name = arg
            skip = None
        elif arg in _FLAGS_WITH_VALUE:
            skip = arg
        elif arg.split("=")[0] in ("--config-dir", "-cd") and "=" in arg:
            extra = str(Path(arg.split("=", 1)[1]).resolve())
        elif arg in ("-m", "--multirun"):
            multirun = True
        elif arg in _NO_RUN_FLAGS or arg.split("=")[0] in _NO_RUN_FLAGS:
            runs = False
        elif arg.split("=")[0] in ("--config-name", "-cn") and "=" in arg:
            name = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides, multirun, runs, name, extra


def _variants(overrides: list[str]) -> list[list[str]]:
    """Override lists that cover every value of every sweep at least once."""
    parsed = parse_overrides(overrides)
    choices = []
    for text, o in zip(overrides, parsed, strict=True):
        if o.is_sweep_override():
            key = o.get_key_element()
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([text])
    first = [c[0] for c in choices]
    variants = [first]
    for i, c in enumerate(choices):
        for value in c[1:]:
            variants.append([*first[:i], value, *first[i + 1 :]])
    return variants


def parse_argv(argv: Sequence[str]) -> argparse.Namespace:
    """Read the command line with Hydra's own parser; one line for a flag it does not know.

    Raises:
        UsageError: On an unknown flag or a flag without its value.
        ConfigError: On a ``--config-dir`` that is not a folder.

    """
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = PROG

    def refuse(message: str) -> None:
        raise UsageError(f"{message} (opsim --help lists the flags; key=value sets a config key)")

    parser.error = refuse  # type: ignore[method-assign]
    args = parser.parse_intermixed_args(list(argv))
    if args.config_dir is not None and not Path(args.config_dir).is_dir():
        raise ConfigError("--config-dir", args.config_dir, "an existing folder of config files (presets, a study)")
    return args


def check_overrides(argv: Sequence[str]) -> Path | None:
    """Compose and validate the config the command line asks for.

    Returns:
        For a multirun, the sweep folder as an absolute path (``${now:...}`` resolved
        once), else None.

    Raises:
        ConfigError: On the first unknown key, wrong type or out-of-range value.

    """
    overrides, multirun, runs, name, extra = _overrides(argv)
    if not runs:
        return None
    _check_launcher(overrides)
    variants = _variants(overrides) if multirun else [overrides]
    composed = compose(variants[0], config_name=name, extra_dir=extra, with_hydra=multirun)
    sweep_dir = None
    if multirun:
        declared = _declared_sweeps(composed, overrides)
        sweep_dir = Path(str(composed.hydra.sweep.dir)).absolute()
        with open_dict(composed):
            del composed["hydra"]
        if declared:  # sweeps the config declares: check their values too
            overrides = [*overrides, *declared]
            variants = _variants(overrides)
            composed = compose(variants[0], config_name=name, extra_dir=extra)
    first = load_config(composed)
    for variant in variants[1:]:
        changed = [v for v, f in zip(variant, variants[0], strict=True) if v != f]
        if not (len(changed) == 1 and _check_scalar(first, changed[0])):
            load_config(compose(variant, config_name=name, extra_dir=extra))
    return sweep_dir


#: Launchers that come with an optional extra, and the install command that brings them.
_LAUNCHER_EXTRAS = {"ray": ("hydra_plugins.hydra_ray_launcher", 'pip install "opsim[ray]"')}


def _check_launcher(overrides: list[str]) -> None:
    """Say which extra to install when the command line picks a launcher that is not installed."""
    import importlib.util

    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key != "hydra/launcher":
            continue
        for prefix, (module, install) in _LAUNCHER_EXTRAS.items():
            if value.startswith(prefix) and importlib.util.find_spec(module) is None:
                raise ConfigError(key, value, f"a launcher that is installed; this one needs `{install}`")


_SCALARS: dict[str, tuple[type, str]] = {
    "int": (int, "an integer"),
    "float": (float, "a number"),
    "str": (str, "a string"),
}


def _check_scalar(base: Config, override: str) -> bool:
    """Validate ``key=value`` for a plain scalar field without composing (sweeps of many values).

    Returns False where the fast path does not apply (config groups, +/~, lists,
    optional fields): the caller then composes the whole config.
    """
    key, _, raw = override.partition("=")
    if (
        key.startswith(("+", "~", "hydra"))
        or "/" in key
        or raw.startswith(("[", "{"))
        or ("." not in key and key not in _TOP)
    ):
        return False
    parts = key.split(".")
    cfg = copy.deepcopy(base)
    node: Any = cfg
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return False
    fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
    field = fields.get(parts[-1])
    if field is None:
        return False
    kind = str(field.type)
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise ConfigError(key, raw, "true or false")
        value: Any = raw.lower() == "true"
    elif kind in _SCALARS:
        cast, wanted = _SCALARS[kind]
        try:
            value = cast(raw) if cast is not int else int(raw, 10)
        except ValueError:
            raise ConfigError(key, raw, wanted) from None
    else:
        return False
    setattr(node, parts[-1], value)
    validate(cfg)
    return True


def _declared_sweeps(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """Sweeps the config declares under ``hydra.sweeper.params`` that the command line does not override."""
    params = cfg.hydra.get("sweeper", {}).get("params") or {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [f"{k}={v}" for k, v in params.items() if k not in given]


def _app(cfg: DictConfig) -> None:
    """The Hydra task: one run, or one job of a multirun."""
    try:
        typed = load_config(cfg)
    except ConfigError as exc:
        print(f"opsim: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        _sweep_job(typed, out)
        return
    _run_one(typed, out)


def _sweep_job(typed: Config, out: Path) -> None:
    """One job of a multirun: skip it if complete, record a failure instead of stopping the sweep."""
    digest = sweep.config_hash(typed)
    if sweep.job_is_done(out, digest):
        log.info("already complete, skipped: %s", out)
        return
    started = time.perf_counter()
    try:
        _run_one(replace(typed, progress=False), out)
    except Exception as exc:  # recorded, reported by the aggregation; the sweep goes on
        sweep.record_failure(out, digest, exc)
        log.error("job failed (%s: %s); traceback in %s", type(exc).__name__, exc, out / sweep.FAILED)
        return
    sweep.record_done(out, digest, time.perf_counter() - started)


def _run_one(typed: Config, out: Path) -> None:
    from sim.app.simulate import simulate  # here, not at the top: the sweep's parent process never simulates

    pop = typed.population
    log.info(
        "simulating %s: M = %s slots, %d days, seed %d",
        pop.name,
        f"{pop.market_size:,}",
        typed.horizon_days,
        typed.seed,
    )
    result = simulate(typed)
    result.save(out)
    s = result.summary
    ret = s["retention"]
    log.info(
        "D1 %.1f %%  D7 %.1f %%  D30 %.1f %%  | acquired %s  DAU %s  MAU %s  revenue %.0f",
        100 * ret["d1"],
        100 * ret["d7"],
        100 * ret["d30"],
        f"{s['acquired_users']:,}",
        f"{s['dau']:,}",
        f"{s['mau']:,}",
        s["revenue"],
    )
    econ = s["economics"]
    if econ["cost_total"] > 0:
        inc = econ["incremental"]
        cur = econ["currency"]
        if inc is not None:
            log.info(
                "strategy %s: cost %s %s, incremental users %+d, incremental profit %s %s, incremental ROI %+.2f, payback day %s",
                typed.strategy.name,
                f"{econ['cost_total']:,.0f}",
                cur,
                inc["acquired_users"],
                f"{inc['profit']:+,.0f}",
                cur,
                inc["roi"],
                econ["payback_day"],
            )
        else:
            log.info(
                "strategy %s: cost %s %s, ROI %+.2f",
                typed.strategy.name,
                f"{econ['cost_total']:,.0f}",
                cur,
                econ["roi"],
            )
    log.info("%.3g agent-days/s; results in %s", result.meta["agent_days_per_second"], out)


def _uses_opsim_sweeper(argv: list[str]) -> bool:
    """Whether the command line keeps the default ``opsim`` sweeper (``hydra/sweeper=...`` not given otherwise)."""
    chosen = [a.split("=", 1)[1] for a in argv if a.lstrip("+~").startswith("hydra/sweeper=")]
    return not chosen or chosen[-1] == "opsim"


def _run_hydra_app(argv: list[str]) -> None:
    """Run :func:`_app` as Hydra's ``@hydra.main`` would, on ``argv`` rather than ``sys.argv``."""
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser

    version.setbase("1.3")
    parser = get_args_parser()
    _run_hydra(
        args=parser.parse_intermixed_args(argv),
        args_parser=parser,
        task_function=_app,
        config_path=str(config_dir()),
        config_name="config",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``opsim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    register_schema()
    try:
        parse_argv(argv)
        sweep_dir = check_overrides(argv)
    except OpsimError as exc:
        print(f"opsim: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    if sweep_dir is not None:
        # One absolute folder for every job, whatever the working directory of the process
        # that runs it (joblib workers, Ray workers on other nodes of a shared file system).
        argv = [a for a in argv if not a.startswith("hydra.sweep.dir=")]
        argv.append("hydra.sweep.dir=" + quote_value(str(sweep_dir)))
        if _uses_opsim_sweeper(argv):  # every value was validated above: skip Hydra's serial re-check
            argv.append("hydra.sweeper.prevalidated=true")
        (sweep_dir / sweep.FAILURES).unlink(missing_ok=True)
    _run_hydra_app(argv)
    if sweep_dir is not None:
        failures = sweep.read_failures(sweep_dir)
        if failures is None:
            print(f"opsim: error: the sweep's summary was not written in {sweep_dir}", file=sys.stderr)
            raise SystemExit(EXIT_JOB_FAILED)
        if failures:
            raise SystemExit(EXIT_JOB_FAILED)


if __name__ == "__main__":
    main()
