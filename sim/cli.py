"""Command line: ``opsim [overrides]`` (also ``python -m sim``), a Hydra app.

Before Hydra starts, the overrides are composed and validated once (each value
of a sweep, for ``-m``), so a wrong key, type or range stops the command with one
line on stderr and exit code 2, before any simulation runs::

    $ opsim population.market_size=-5
    opsim: error: population.market_size=-5 is not allowed: a number >= 1
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sim import sweep
from sim.api import simulate
from sim.config import Config, _register_schema, compose, config_dir, load_config
from sim.errors import ConfigError

__all__ = ["main"]

log = logging.getLogger("opsim")

#: Hydra flags that take a value (the next argument) and flags that mean "do not run".
_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--package", "-p"}
_NO_RUN_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}
EXIT_CONFIG_ERROR = 2
EXIT_JOB_FAILED = 1


def _overrides(argv: Sequence[str]) -> tuple[list[str], bool, bool]:
    """Split argv into (overrides, multirun?, runs?); ``--config-dir`` becomes a search path."""
    overrides: list[str] = []
    multirun, runs, skip = False, True, None
    for arg in argv:
        if skip is not None:
            if skip in ("--config-dir", "-cd"):
                overrides.append(f"hydra.searchpath=[file://{Path(arg).resolve()}]")
            skip = None
        elif arg in _FLAGS_WITH_VALUE:
            skip = arg
        elif arg.split("=")[0] in ("--config-dir", "-cd") and "=" in arg:
            overrides.append(f"hydra.searchpath=[file://{Path(arg.split('=', 1)[1]).resolve()}]")
        elif arg in ("-m", "--multirun"):
            multirun = True
        elif arg in _NO_RUN_FLAGS or arg.split("=")[0] in _NO_RUN_FLAGS:
            runs = False
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides, multirun, runs


def _variants(overrides: list[str]) -> list[list[str]]:
    """Override lists that cover every value of every sweep at least once."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
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


def check_overrides(argv: Sequence[str]) -> None:
    """Compose and validate the config the command line asks for.

    Raises:
        ConfigError: On the first unknown key, wrong type or out-of-range value.

    """
    overrides, multirun, runs = _overrides(argv)
    if not runs:
        return
    for variant in _variants(overrides) if multirun else [overrides]:
        load_config(compose(variant))


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
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


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``opsim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _register_schema()
    try:
        check_overrides(argv)
    except ConfigError as exc:
        print(f"opsim: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    sys.argv = [sys.argv[0], *argv]
    sweep.LAST_SWEEP_FAILURES.clear()
    _app()
    if sweep.LAST_SWEEP_FAILURES:
        raise SystemExit(EXIT_JOB_FAILED)


if __name__ == "__main__":
    main()
