"""Command line: ``opsim [overrides]`` (also ``python -m sim``), a Hydra app.

Before Hydra starts, the overrides are composed and validated once (each value
of a sweep, for ``-m``), and the memory each run needs is checked against what
the machine has available, so a wrong key, type or range, or a run too large,
stops the command with one line on stderr and exit code 2, before any folder is
made or any simulation runs::

    $ opsim population.market_size=-5
    opsim: error: population.market_size=-5 is not allowed: a number >= 1 and <= 1000000000000

The run folder (``hydra.run.dir``) or sweep folder (``hydra.sweep.dir``) is resolved
once, to an absolute path, and handed to Hydra. Errors while running never end in
a traceback either (:mod:`sim.app.exits`): a file that cannot be written is one
line naming it and the reason (exit 1); Ctrl-C is one line saying what finished
and how to resume (exit 130); a sweep whose summary fails exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import logging
import math
import os
import shlex
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Glob
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from sim.app import sweep
from sim.app.address_space import address_space_limited
from sim.app.argv import split_argv
from sim.app.config import (
    HIDDEN_FROM_RUN_HELP,
    Config,
    check_not_planner,
    compose,
    config_dir,
    load_config,
    parse_overrides,
    quote_value,
    register_schema,
    sweep_variants,
    swept_values,
    validate,
)
from sim.app.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, fail, interrupted
from sim.app.hydra_runner import exceptions_reach_caller, quiet_logging_errors, run_hydra
from sim.app.memory import accepted, check_memory
from sim.app.output_folder import (
    check_folder,
    check_not_blank,
    check_own_folder,
    outermost_missing,
    remove_hydra_files,
)
from sim.app.threads import available_cores, check_parallel, resolve_threads
from sim.base.errors import ConfigError, OpsimError, UsageError, first_line
from sim.output import folders
from sim.output.completion import DONE, config_hash
from sim.output.figure_workers import FigureWorkers
from sim.output.formatting import counted, percent, ratio

__all__ = ["main"]

log = logging.getLogger("opsim")

PROG = "opsim"
_TOP = {f.name for f in dataclasses.fields(Config)}
#: The warning Hydra turns an exception of the sweep's summary callback into.
_CALLBACK_FAILED = "Callback AggregateCallback.on_multirun_end raised"


def parse_argv(argv: Sequence[str], prog: str = PROG) -> argparse.Namespace:
    """Read the command line with Hydra's own parser (of ``prog``: opsim's or opsim-plan's); one line for a bad flag.

    Raises:
        UsageError: On an unknown flag, a flag without its value, Hydra's
            ``--experimental-rerun`` (which only ``@hydra.main`` reads: opsim would
            ignore it and run the default config), two modes at once (``--run``, ``-m``
            or ``hydra.mode=MULTIRUN``, ``--cfg``, ``--info``, ``--shell-completion``:
            Hydra's ValueError otherwise), and ``--help`` with swept values.
        ConfigError: On a ``--config-dir`` that is not a folder, and an override that
            cannot be parsed (:func:`sim.app.config.parse_overrides`, for ``--help``).

    """
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = prog

    def refuse(message: str) -> None:
        raise UsageError(f"{message} ({prog} --help lists the flags; key=value sets a config key)")

    parser.error = refuse  # type: ignore[method-assign]
    for action in parser._actions:  # --version: opsim's, not only Hydra's ("Hydra 1.3.8")
        if "--version" in action.option_strings:
            action.version = _version_line(prog)  # type: ignore[attr-defined]
    args = parser.parse_intermixed_args(list(argv))
    if args.experimental_rerun is not None:
        # Hydra reads it only in @hydra.main, which opsim's commands do not go through: it would be ignored
        refuse(
            f"--experimental-rerun {args.experimental_rerun}: not supported; to run again, give the same command "
            "line again: the same seed gives the same results (a run's folder lists its overrides in "
            ".hydra/overrides.yaml)"
        )
    sweep = split_argv(argv).multirun  # -m, or hydra.mode=MULTIRUN
    modes = [
        flag
        for flag, given in (
            ("--run", args.run),
            ("-m" if args.multirun else "hydra.mode=MULTIRUN", sweep),
            ("--cfg", args.cfg is not None),
            ("--info", args.info is not None),
            ("--shell-completion", args.shell_completion),
        )
        if given
    ]
    if len(modes) > 1:  # Hydra's ValueError traceback otherwise
        printing = args.cfg is not None or args.info is not None
        hint = (
            "; to print the config of a sweep's job, leave -m out and give one value per key"
            if sweep and printing
            else ""
        )
        refuse(f"{' and '.join(modes)} together: one at a time (a run, a sweep, or printing){hint}")
    if sweep and args.help and any(o.is_sweep_override() for o in parse_overrides(args.overrides)):
        refuse("--help with swept values: --help shows one config; give one value per key (or none)")
    if args.config_dir is not None and not Path(args.config_dir).is_dir():
        raise ConfigError("--config-dir", args.config_dir, "an existing folder of config files (presets, a study)")
    return args


def _version_line(prog: str) -> str:
    """What ``--version`` prints: ``opsim 0.1.0 (Python 3.11.7, Hydra 1.3.8, Mesa 3.3.1, numpy 2.4.6)``."""
    from sim.output.versions import installed_versions

    versions = installed_versions()
    parts = ", ".join(f"{name} {versions[dist]}" for name, dist in VERSION_PARTS)
    return f"{prog} {versions['opsim']} ({parts})"


#: The versions ``--version`` prints after opsim's: (name shown, as :func:`installed_versions` keys it).
VERSION_PARTS = (("Python", "python"), ("Hydra", "hydra-core"), ("Mesa", "mesa"), ("numpy", "numpy"))


@dataclass
class CommandPlan:
    """What a command line asks for, as checked before Hydra starts.

    Attributes:
        folder: The run folder, or the sweep folder for ``-m``, as an absolute path
            (None when the command runs nothing: ``--cfg``, ``--help``).
        multirun: A sweep (``-m``).
        jobs: Jobs the sweep runs (1 for a single run).
        configs: The validated configs checked (the first job's, then one per swept value).

    """

    folder: Path | None = None
    multirun: bool = False
    jobs: int = 0
    configs: list[Config] = field(default_factory=list)


def check_overrides(argv: Sequence[str]) -> CommandPlan:
    """Compose and validate the config the command line asks for, and check each run fits in memory.

    A command that runs nothing (``--cfg``, ``--info``, ``--help``) still has its
    config composed and validated, as Hydra would compose it to print it; memory and
    folders are not checked.

    Returns:
        The plan: the run or sweep folder as an absolute path (``${now:...}`` resolved
        once), the number of jobs, the configs checked; an empty plan for a command
        that runs nothing.

    Raises:
        ConfigError: On the first unknown key, wrong type or out-of-range value.
        MemoryLimitError: When a run would need more memory than is available.

    """
    overrides, multirun, runs, name, extra = split_argv(argv)
    check_not_planner(overrides)
    if not runs:  # --cfg, --info, --help: Hydra composes the config to print it; the same checks, no run
        args = parse_argv(argv)  # Hydra's parser: the values of --cfg and --info are not overrides
        if not args.shell_completion:  # its "install=bash" is no override either
            for variant in sweep_variants(args.overrides, extra) if multirun else [args.overrides]:
                load_config(compose(variant, config_name=name, extra_dir=extra))
        return CommandPlan()
    _check_launcher(overrides)
    variants = sweep_variants(overrides, extra) if multirun else [overrides]
    composed = compose(variants[0], config_name=name, extra_dir=extra, with_hydra=True)
    multirun = multirun or composed.hydra.mode == RunMode.MULTIRUN  # a sweep the config asks for (hydra.mode)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = str(composed.hydra.sweep.dir if multirun else composed.hydra.run.dir)
    check_not_blank(key, given)
    folder = Path(given).absolute()
    check_folder(key, folder)
    check_own_folder(key, folder, folders.SWEEP if multirun else folders.RUN)
    declared = _declared_sweeps(composed, overrides) if multirun else []
    workers = _side_by_side(composed) if multirun else 1
    with open_dict(composed):
        del composed["hydra"]
    if declared:  # sweeps the config declares: check their values too
        overrides = [*overrides, *declared]
        variants = sweep_variants(overrides, extra)
        composed = compose(variants[0], config_name=name, extra_dir=extra)
    jobs = _sweep_size(overrides, extra) if multirun else 1
    if multirun:
        _check_swept_keys_change_results(overrides)
    workers = min(workers, jobs)  # workers beyond the number of jobs hold no run
    first = check_memory(check_parallel(load_config(composed)), workers=workers)
    configs = [first]
    for variant in variants[1:]:
        changed = [v for v, f in zip(variant, variants[0], strict=True) if v != f]
        typed = _check_scalar(first, changed[0]) if len(changed) == 1 else None
        if typed is None:
            typed = load_config(compose(variant, config_name=name, extra_dir=extra))
        configs.append(check_memory(check_parallel(typed), workers=workers))
    if multirun:
        _check_each_job_once(overrides, variants, configs)
    return CommandPlan(folder=folder, multirun=multirun, jobs=jobs, configs=configs)


def _check_each_job_once(overrides: list[str], variants: list[list[str]], configs: list[Config]) -> None:
    """Refuse a sweep two of whose jobs are the same run (``seed=1,1``; ``record_events=0,false``).

    Two jobs of one config wrote one folder (``seed=1,1``: "1 of 2 jobs left no result"), or
    ran the same simulation twice under two names (``0`` and ``false``), each counted as a
    point of the comparison.

    Raises:
        ConfigError: Naming the swept key, the values that repeat and what is allowed.

    """
    for one in parse_overrides(overrides):
        if one.is_sweep_override() and not isinstance(one.value(), Glob):  # a glob needs Hydra's loader; no repeats
            values = list(one.sweep_string_iterator())
            twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if twice is not None:
                raise ConfigError(one.key_or_group, ",".join(values), f"each value once ({twice} is given twice)")
    seen: dict[str, list[str]] = {}
    for variant, cfg in zip(variants, configs, strict=True):
        first = seen.setdefault(config_hash(cfg), variant)
        if first is variant:
            continue
        (a, b), *_ = [(x, y) for x, y in zip(first, variant, strict=True) if x != y]
        key = a.partition("=")[0].lstrip("+~")
        x, y = a.partition("=")[2], b.partition("=")[2]
        raise ConfigError(key, f"{x},{y}", f"values that each give another run ({x} and {y} are the same run)")


def _side_by_side(composed: DictConfig) -> int:
    """Jobs of a sweep that run at the same time on this machine (joblib's ``n_jobs``; 1 otherwise).

    Raises:
        ConfigError: For ``hydra.launcher.n_jobs=0``, which joblib refuses only once the sweep has begun.

    """
    n_jobs = composed.hydra.get("launcher", {}).get("n_jobs")
    if n_jobs == 0 and not isinstance(n_jobs, bool):
        raise ConfigError("hydra.launcher.n_jobs", n_jobs, JOBLIB_N_JOBS)
    if not isinstance(n_jobs, int):
        return 1
    cores = os.cpu_count() or 1
    return cores + 1 + n_jobs if n_jobs < 0 else n_jobs  # joblib: -1 is every core, -2 all but one


def _check_swept_keys_change_results(overrides: list[str]) -> None:
    """Refuse a sweep over a key that changes no result file: its jobs would share one folder."""
    for text, o in zip(overrides, parse_overrides(overrides), strict=True):
        if o.is_sweep_override() and o.key_or_group in sweep.completion.NOT_IN_HASH:
            raise ConfigError(o.key_or_group, text.partition("=")[2], sweep.NOT_SWEPT)


def _sweep_size(overrides: list[str], extra_dir: str | None = None) -> int:
    """Jobs a sweep runs: the product of the number of values of each swept key."""
    sizes = []
    for text, o in zip(overrides, parse_overrides(overrides), strict=True):
        sizes.append(len(swept_values(o, text, extra_dir)) if o.is_sweep_override() else 1)
    return math.prod(sizes)


#: What joblib's ``n_jobs`` may be.
JOBLIB_N_JOBS = "a whole number of jobs at once, not 0 (-1: one per core, -2: all cores but one)"
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


def _check_scalar(base: Config, override: str) -> Config | None:
    """Validate ``key=value`` for a plain scalar field without composing (sweeps of many values).

    Returns the validated config, or None where the fast path does not apply
    (config groups, +/~, lists, optional fields): the caller then composes the whole config.
    """
    key, _, raw = override.partition("=")
    if (
        key.startswith(("+", "~", "hydra"))
        or "/" in key
        or raw.startswith(("[", "{"))
        or ("." not in key and key not in _TOP)
    ):
        return None
    parts = key.split(".")
    cfg = copy.deepcopy(base)
    node: Any = cfg
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
    field = fields.get(parts[-1])
    if field is None:
        return None
    kind = str(field.type)
    if kind == "bool":
        if raw.lower() not in ("true", "false"):
            return None  # 1/0, yes/no …: composed, so a sweep takes what a single run takes, and refuses the same
        value: Any = raw.lower() == "true"
    elif kind in _SCALARS:
        cast, wanted = _SCALARS[kind]
        try:
            value = cast(raw) if cast is not int else int(raw, 10)
        except ValueError:
            raise ConfigError(key, raw, wanted) from None
    else:
        return None
    setattr(node, parts[-1], value)
    return validate(cfg)


def _declared_sweeps(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """Sweeps the config declares under ``hydra.sweeper.params`` that the command line does not override."""
    params = cfg.hydra.get("sweeper", {}).get("params") or {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [f"{k}={v}" for k, v in params.items() if k not in given]


def _app(cfg: DictConfig, figure_workers: FigureWorkers | None = None) -> None:
    """The Hydra task: one run, or one job of a multirun.

    A single run's error is printed here as one line and ends the command
    (``SystemExit`` passes through Hydra untouched, whereas Hydra prints a line of
    its own before re-raising any other exception). A job of a sweep records its
    error instead (:func:`_sweep_job`). An error raised while a Ctrl-C was being
    handled (:func:`sim.app.exits.interrupted`) leaves as a ``KeyboardInterrupt``:
    Hydra lets that through at once, where it would take any other exception for a
    failed job, print its own line and go on with the sweep.
    """
    try:
        _run_task(cfg, figure_workers)
    except Exception as exc:
        if interrupted(exc):
            raise KeyboardInterrupt from exc
        raise


@dataclass(frozen=True)
class _Task:
    """:func:`_app` with the command's figure workers, as Hydra calls a task (Hydra names the job after this module).

    A sweep asked for by the config (``hydra.mode: MULTIRUN``) also reaches here with
    workers started, and its launcher may pickle the task to other processes: it is
    pickled without them (a sweep's jobs never draw in them).
    """

    figure_workers: FigureWorkers | None

    def __call__(self, cfg: DictConfig) -> None:
        _app(cfg, self.figure_workers)

    def __reduce__(self) -> tuple[type[_Task], tuple[None]]:
        return (_Task, (None,))


def _run_task(cfg: DictConfig, figure_workers: FigureWorkers | None) -> None:
    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        typed = load_config(cfg)
        threads = resolve_threads(
            typed.threads,
            side_by_side=_jobs_side_by_side(hydra_cfg.launcher),
            users=typed.population.simulated_users,
            parallel=typed.parallel,
        )
        _sweep_job(replace(typed, threads=threads), out, list(hydra_cfg.overrides.task))
        return
    typed = load_config(cfg)
    try:
        with _figure_workers(typed, figure_workers) as workers:
            _run_one(typed, out, figure_workers=workers)
    except (OpsimError, OSError) as exc:
        if interrupted(exc):  # main prints the interrupted line
            raise
        fail(PROG, exc)
    except (MemoryError, RuntimeError) as exc:  # numpy's and pyarrow's MemoryError, a thread not started
        if interrupted(exc) or not (isinstance(exc, MemoryError) or str(exc) == NO_THREAD):
            raise
        print(f"{PROG}: error: the run ran out of memory ({first_line(exc)}); {OUT_OF_MEMORY}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None


@contextlib.contextmanager
def _figure_workers(typed: Config, started: FigureWorkers | None) -> Iterator[FigureWorkers | None]:
    """The figure workers of a single run: those the command started (:mod:`sim.app.start`), or new ones, or none.

    A run without figures uses none (the command closes those it started). A run
    whose command started none starts them now, so that their imports overlap at
    least the simulation (a sweep's jobs use the cores already: it starts none).
    """
    if not typed.figures:
        yield None
    elif started is not None:
        yield started
    else:
        with FigureWorkers() as workers:
            yield workers


def _jobs_side_by_side(launcher: Any) -> int:
    """How many sweep jobs the launcher runs at once on this machine (to share its cores among them).

    Hydra's basic launcher runs one at a time; joblib's runs ``n_jobs`` (−1: one per
    core, −k: all cores but k − 1, as joblib counts); any other launcher (Ray) is
    taken to fill every core with one job each.
    """
    target = str(launcher.get("_target_", ""))
    if target.endswith("BasicLauncher"):
        return 1
    cores = available_cores()
    if "joblib" in target.lower():
        n = int(launcher.get("n_jobs", -1) or -1)
        return n if n > 0 else max(1, cores + 1 + n)
    return cores


def _sweep_job(typed: Config, out: Path, overrides: list[str]) -> None:
    """One job of a multirun: skip it if complete, record a failure instead of stopping the sweep.

    Complete means a ``DONE.json`` for this config and this opsim's code whose files
    all match their recorded size and SHA-256; anything else (interrupted, failed, a
    file deleted or truncated since, computed by other code) runs again. The job's
    overrides are kept in its folder (``job.json``) before it runs.
    """
    digest = sweep.config_hash(typed)
    problem = sweep.completion.check_complete(out, digest, code=sweep.completion.code_fingerprint())
    if problem is None:
        log.info("already complete, skipped: %s", out)
        return
    if (out / DONE).exists():
        log.info("running again (%s): %s", problem, out)
    try:
        sweep.record_job(out, overrides)
        _run_one(replace(typed, progress=False), out)
    except Exception as exc:  # recorded, reported by the aggregation; the sweep goes on
        sweep.completion.clear_marker(out)
        if interrupted(exc):  # not a failure: the job runs again on resume, and main says so
            raise
        try:
            sweep.record_failure(out, digest, exc)
        except OSError as unwritten:  # the job stays without a marker: the sweep counts it missing
            log.error("job failed (%s: %s); %s", type(exc).__name__, exc, unwritten)
            return
        log.error("job failed (%s: %s); traceback in %s", type(exc).__name__, exc, out / sweep.FAILED)
        return
    (out / sweep.FAILED).unlink(missing_ok=True)


def _run_one(typed: Config, out: Path, *, figure_workers: FigureWorkers | None = None) -> None:
    from sim.app.simulate import simulate  # here, not at the top: the sweep's parent process never simulates

    pop = typed.population
    log.info(
        "simulating %s: N = %s for a market of M = %s, %s, seed %d",
        pop.name,
        counted(pop.simulated_users, "simulated user"),
        f"{pop.market_size:,}",
        counted(typed.horizon_days, "day"),
        typed.seed,
    )
    result = simulate(typed, figure_workers=figure_workers)
    result.save(out, figure_workers=figure_workers)
    s = result.summary
    ret = s["retention"]
    log.info(
        "D1 %s  D7 %s  D30 %s  | acquired %s  DAU %s  MAU %s  revenue %s",
        percent(ret["d1"]),  # "—" where the run cannot give it: D30 of a shorter run, no user acquired
        percent(ret["d7"]),
        percent(ret["d30"]),
        f"{s['acquired_users']:,}",
        f"{s['dau']:,}",
        f"{s['mau']:,}",
        f"{s['revenue']:,.0f} {s['economics']['currency']}",
    )
    econ = s["economics"]
    if econ["cost_total"] > 0:
        inc = econ["incremental"]
        cur = econ["currency"]
        if inc is not None:
            log.info(
                "strategy %s: cost %s %s, incremental users %s, incremental profit %s %s, incremental ROI %s, %s",
                typed.strategy.name,
                _cost(econ["cost_total"]),
                cur,
                f"{inc['acquired_users']:+,.0f}",  # rounded, as the report shows it (an estimate when N < M)
                f"{inc['profit']:+,.0f}",
                cur,
                ratio(inc["roi"]),
                _payback(econ["payback_day"], typed.horizon_days),
            )
        else:
            log.info(
                "strategy %s: cost %s %s, ROI %s",
                typed.strategy.name,
                _cost(econ["cost_total"]),
                cur,
                ratio(econ["roi"]),
            )
    log.info("%.3g agent-days/s; results in %s", result.meta["agent_days_per_second"], out)


def _cost(cost: float) -> str:
    """A cost in the closing line: whole units, or cents below one unit (a spend of 0.20 is not "cost 0")."""
    return f"{cost:,.0f}" if cost >= 1 else f"{cost:.2f}"


def _payback(day: int | None, horizon_days: int) -> str:
    """``payback day 42``, or that the run's spend did not pay back within its horizon."""
    return f"payback day {day}" if day is not None else f"not paid back within {counted(horizon_days, 'day')}"


def _uses_opsim_sweeper(argv: list[str]) -> bool:
    """Whether the command line keeps the default ``opsim`` sweeper (``hydra/sweeper=...`` not given otherwise)."""
    chosen = [a.split("=", 1)[1] for a in argv if a.lstrip("+~").startswith("hydra/sweeper=")]
    return not chosen or chosen[-1] == "opsim"


def _resume_hint(plan: CommandPlan) -> str:
    """How many jobs of the sweep finished, and how to run the rest.

    ``opsim-report SWEEP --resume`` where the sweep's record (``multirun.yaml``) was
    written, which it reads; the same command otherwise. The folder in the command is
    quoted for a shell where it needs to be (:func:`shlex.quote`), so that the command
    pasted back runs as printed.
    """
    done, _failed = sweep.count_jobs(plan.folder)
    if (plan.folder / folders.MULTIRUN_RECORD).is_file():
        how = f"resume with: opsim-report {shlex.quote(str(plan.folder))} --resume (or the same command again)"
    else:
        how = "run the same command again"
    if not done:
        return f"no job of {plan.jobs} finished; {how}"
    return (
        f"{done} of {counted(plan.jobs, 'job')} finished in {plan.folder} and {'is' if done == 1 else 'are'} kept; "
        f"{how}"
    )


def _interrupted(plan: CommandPlan) -> str:
    """The line printed on Ctrl-C: what finished, how to resume."""
    if plan.multirun:
        return f"opsim: interrupted: {_resume_hint(plan)}"
    return (
        f"opsim: interrupted: the run did not finish; {plan.folder} holds no {DONE} (incomplete); "
        "run the same command again to redo it"
    )


def main(argv: Sequence[str] | None = None, *, figure_workers: FigureWorkers | None = None) -> None:
    """Run the ``opsim`` command (its console script starts here, :mod:`sim.app.start`, then calls this).

    Exit codes (:mod:`sim.app.exits`): 0 done; 1 a run or sweep job failed, a file
    could not be written, or the sweep's summary failed; 2 bad input (nothing ran);
    130 interrupted.

    Args:
        argv: The command line (default: ``sys.argv[1:]``).
        figure_workers: Figure workers already started, for a single run that draws
            figures; left open (the caller closes them). None: such a run starts its own.

    """
    argv = list(sys.argv[1:] if argv is None else argv)
    register_schema()
    if figure_workers is not None and address_space_limited():
        # their threads in this process come and go meanwhile (FigureWorkers.wait_started): the check,
        # and the sample size a refusal suggests, count them every time
        figure_workers.wait_started()
    try:
        parse_argv(argv)
        plan = check_overrides(argv)
    except OpsimError as exc:
        fail(PROG, exc)
    if plan.folder is not None:
        # One absolute folder for the run, or for every job of a sweep, whatever the working
        # directory of the process that runs it (joblib workers, Ray workers on other nodes).
        key = "hydra.sweep.dir" if plan.multirun else "hydra.run.dir"
        argv = [a for a in argv if not a.lstrip("+").startswith(key + "=")]
        argv.append(f"{key}=" + quote_value(str(plan.folder)))
        if plan.multirun and _uses_opsim_sweeper(argv):  # every value was validated above: no serial re-check
            argv.append("hydra.sweeper.prevalidated=true")
    if plan.multirun:
        sweep.clear_summary(plan.folder)  # whatever is there now would not describe this sweep
        sweep.clear_plan(plan.folder)  # opsim's sweeper records this sweep's; another sweeper, none
    created = outermost_missing(plan.folder) if plan.folder is not None else None
    # a single run steps in this process: its own checks pass what this command's accepted (a sweep's
    # jobs check in their own processes)
    checked = accepted(plan.configs) if plan.configs and not plan.multirun else contextlib.nullcontext()
    with warnings.catch_warnings(record=True) as caught, quiet_logging_errors(), checked:
        warnings.simplefilter("always")
        try:
            with exceptions_reach_caller():
                run_hydra(argv, _Task(figure_workers), str(config_dir()), "config", hidden_groups=HIDDEN_FROM_RUN_HELP)
        except SystemExit as exc:  # the task's own exit, with its line printed
            if exc.code == EXIT_BAD_INPUT and created is not None and not plan.multirun:
                remove_hydra_files(plan.folder, created, PROG)
            raise
        except BaseException as exc:
            if interrupted(exc):
                print(_interrupted(plan), file=sys.stderr, flush=True)
                raise SystemExit(EXIT_INTERRUPTED) from None
            if isinstance(exc, OpsimError | OSError):
                fail(PROG, exc, f"; {_resume_hint(plan)}" if plan.multirun else "")
            raise
    summary_error = None
    for w in caught:
        if str(w.message).startswith(_CALLBACK_FAILED):
            summary_error = str(w.message).removeprefix(_CALLBACK_FAILED).strip()
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if plan.multirun:
        _sweep_outcome(plan, summary_error)


#: Python's message when the system refuses a new thread its stack (memory, or an address-space limit).
NO_THREAD = "can't start new thread"
#: What a user can do about a run that ran out of memory although the check before it let it start.
OUT_OF_MEMORY = (
    "the check before the run found enough, so something else took memory meanwhile, or the run maps more than "
    "estimated under this address-space limit (ulimit -v): free memory, raise the limit, or simulate fewer users "
    "(population.sample_size); the folder has no DONE.json, so the same command runs it again"
)


def _sweep_outcome(plan: CommandPlan, summary_error: str | None) -> None:
    """Exit 1 (with one line) when the sweep's summary was not written or a job failed."""
    summary = sweep.read_summary(plan.folder)
    if summary is None:
        cause = f": {summary_error}" if summary_error else ""
        print(
            f"opsim: error: the sweep's summary was not written in {plan.folder}{cause}; "
            f"{_resume_hint(plan)}; opsim-report {shlex.quote(str(plan.folder))} rebuilds the summary",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_FAILED)
    # jobs of the plan with no result are listed as failures too, with the reason sweep.NOT_RUN
    failures = [
        f for f in summary.get("failures") or [] if not (isinstance(f, dict) and f.get("error") == sweep.NOT_RUN)
    ]
    missing = plan.jobs - int(summary.get("jobs", 0)) - len(failures)
    if missing > 0:
        print(
            f"opsim: error: {missing} of {plan.jobs} jobs left no result and no FAILED.json in {plan.folder} "
            "(see their opsim.log); run the same command again to retry them",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_FAILED)
    if failures:
        print(
            f"opsim: error: {len(failures)} of {plan.jobs} jobs failed (listed in {plan.folder / 'sweep_summary.md'}, "
            f"tracebacks in their FAILED.json); run the same command again to retry them",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_FAILED)


if __name__ == "__main__":
    main()
