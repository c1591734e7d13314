"""Reading an ``opsim`` command line before any config is read (the standard library only).

The ``opsim`` command decides from its arguments alone, before it imports the simulator
and Hydra, whether it will run one simulation that draws figures
(:func:`may_draw_figures`, :mod:`sim.app.start`); :func:`split_argv` is the reading the
command's checks (:func:`sim.app.cli.check_overrides`) and ``opsim-plan`` start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["FLAGS_WITH_VALUE", "MULTIRUN_FLAGS", "NO_RUN_FLAGS", "ArgvParts", "may_draw_figures", "split_argv"]

#: Hydra flags that take a value (the next argument, or after ``=``).
FLAGS_WITH_VALUE = frozenset(
    {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--package", "-p", "--experimental-rerun"}
)
#: Hydra flags that mean "do not run": print the config, the help, the version or a shell completion.
NO_RUN_FLAGS = frozenset(
    {"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}
)
#: Hydra's flags for a sweep.
MULTIRUN_FLAGS = frozenset({"-m", "--multirun"})
#: The config key that turns the figures (and the report) of a run off or on.
FIGURES_KEY = "figures"
#: The values OmegaConf takes for false (any case), as a boolean key such as ``figures`` accepts them.
FALSE_VALUES = frozenset({"false", "no", "off", "n", "0"})
#: The override that makes Hydra run a sweep without ``-m``, and its value for one (any case).
MODE_KEY, MULTIRUN_MODE = "hydra.mode", "multirun"


class ArgvParts(NamedTuple):
    """An ``opsim`` command line split into what the checks need.

    Attributes:
        overrides: The ``key=value`` arguments, in order.
        multirun: ``-m``, ``--multirun`` or ``hydra.mode=MULTIRUN`` given.
        runs: False when a flag of :data:`NO_RUN_FLAGS` asks only to print something.
        config_name: ``--config-name`` (``config`` when not given).
        config_dir: ``--config-dir`` as an absolute path, or None.

    """

    overrides: list[str]
    multirun: bool
    runs: bool
    config_name: str
    config_dir: str | None


def split_argv(argv: Sequence[str]) -> ArgvParts:
    """Split an ``opsim`` command line into overrides, sweep and print flags, config name and folder."""
    overrides: list[str] = []
    multirun, runs, skip, name, extra = False, True, None, "config", None
    for arg in argv:
        if skip is not None:
            if skip in ("--config-dir", "-cd"):
                extra = str(Path(arg).resolve())
            elif skip in ("--config-name", "-cn"):
                name = arg
            skip = None
        elif arg in FLAGS_WITH_VALUE:
            skip = arg
        elif arg.split("=")[0] in ("--config-dir", "-cd") and "=" in arg:
            extra = str(Path(arg.split("=", 1)[1]).resolve())
        elif arg in MULTIRUN_FLAGS or _is_multirun_mode(arg):
            multirun = True
        elif arg in NO_RUN_FLAGS or arg.split("=")[0] in NO_RUN_FLAGS:
            runs = False
        elif arg.split("=")[0] in ("--config-name", "-cn") and "=" in arg:
            name = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            overrides.append(arg)
    return ArgvParts(overrides, multirun, runs, name, extra)


def may_draw_figures(argv: Sequence[str]) -> bool:
    """Whether the command line may run one simulation that draws its figures, as far as its arguments tell.

    False for a sweep (``-m``, or ``hydra.mode=MULTIRUN``), for a command that runs
    nothing (``--cfg``, ``--help``, …) and for ``figures=false`` (or ``no``, ``off``,
    ``0``…); True otherwise, even where the config chosen (``--config-dir``,
    ``--config-name``) turns the figures off or asks for a sweep, which only the
    composed config tells.
    """
    parts = split_argv(argv)
    if parts.multirun or not parts.runs:
        return False
    for override in parts.overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == FIGURES_KEY and value.strip().lower() in FALSE_VALUES:
            return False
    return True


def _is_multirun_mode(arg: str) -> bool:
    """Whether ``arg`` is the override ``hydra.mode=MULTIRUN``, which makes a sweep as ``-m`` does."""
    key, _, value = arg.partition("=")
    return key.lstrip("+") == MODE_KEY and value.strip().lower() == MULTIRUN_MODE
