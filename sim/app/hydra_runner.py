"""Run a task as a Hydra app on a given argv (what ``@hydra.main`` does, without ``sys.argv``).

``hydra.main`` parses ``sys.argv``; opsim's commands take their arguments as a list, so
they call Hydra's own runner with an explicitly parsed argument list instead
(``parse_intermixed_args`` also accepts overrides on both sides of an option such as
``--config-dir``). Output folders, logging, ``--cfg``, ``--help`` and multiruns work as
with ``@hydra.main``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from omegaconf import DictConfig

__all__ = ["exceptions_reach_caller", "quiet_logging_errors", "run_hydra"]


def run_hydra(
    argv: Sequence[str],
    task: Callable[[DictConfig], object],
    config_dir: str,
    config_name: str,
    hidden_groups: Sequence[str] = (),
) -> None:
    """Run ``task`` under Hydra with the command-line arguments ``argv``.

    Args:
        argv: Overrides and Hydra flags (``-m``, ``--config-dir``, ``--cfg job``, …).
        task: The task function (called once, or once per job of a multirun).
        config_dir: The primary config folder.
        config_name: The primary config's name.
        hidden_groups: Config groups of the folder that this command does not read, or single
            options of a group (``add/variable``), left out of the presets ``--help`` lists
            (opsim's: the planner's ``plan`` and its ``add`` option).

    """
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser

    version.setbase("1.3")
    parser = get_args_parser()
    args = parser.parse_intermixed_args(list(argv))
    with _searched_first(args.config_dir), _groups_hidden(hidden_groups):
        args.config_dir = None  # put first by _searched_first, not after the primary folder as Hydra would
        _run_hydra(
            args=args,
            args_parser=parser,
            task_function=task,
            config_path=config_dir,
            config_name=config_name,
        )


@contextlib.contextmanager
def _searched_first(folder: str | None) -> Iterator[None]:
    """While Hydra runs, its config search path has ``folder`` (``--config-dir``) before the primary config folder.

    Hydra builds the app's search path inside ``_run_hydra`` (which only prepends
    ``--config-dir`` after the primary folder); its builder is wrapped for the call, and
    put back after it (:func:`sim.app.config.search_first` says why the order matters).
    """
    if folder is None:
        yield
        return
    import hydra._internal.utils as hydra_utils

    from sim.app.config import search_first

    build = hydra_utils.create_automatic_config_search_path

    def build_with_folder_first(*args: Any, **kwargs: Any) -> Any:
        search_path = build(*args, **kwargs)
        search_first(search_path, folder)
        return search_path

    hydra_utils.create_automatic_config_search_path = build_with_folder_first
    try:
        yield
    finally:
        hydra_utils.create_automatic_config_search_path = build


@contextlib.contextmanager
def _groups_hidden(hidden: Sequence[str]) -> Iterator[None]:
    """While Hydra runs, the presets its ``--help`` lists (``$APP_CONFIG_GROUPS``) leave out ``hidden``.

    ``hidden`` names whole groups (``plan``) or single options of a group (``add/variable``).
    The listing is Hydra's own (``Hydra.format_config_groups``: sorted groups, each with its
    sorted options, compact or one per line).
    """
    if not hidden:
        yield
        return
    from hydra._internal.hydra import Hydra

    listed = Hydra.format_config_groups

    def listed_but_hidden(self: Hydra, predicate: Callable[[str], bool], compact: bool = True) -> str:
        groups = sorted(g for g in self.list_all_config_groups() if predicate(g) and g not in hidden)
        text = ""
        for group in groups:
            options = sorted(o for o in self.config_loader.get_group_options(group) if f"{group}/{o}" not in hidden)
            items = ", ".join(options) if compact else "\n".join(f"  {o}" for o in options)
            text += f"{group}: {items}\n" if compact else f"{group}:\n{items}\n"
        return text

    Hydra.format_config_groups = listed_but_hidden  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.format_config_groups = listed  # type: ignore[method-assign]


@contextlib.contextmanager
def exceptions_reach_caller() -> Iterator[None]:
    """Let exceptions leave Hydra as they are, for the command to turn into one line.

    Hydra's ``run_and_report`` prints a trimmed traceback and exits 1 for any
    exception unless ``HYDRA_FULL_ERROR`` is set (it reads the variable when the
    exception arrives); it is set for the call only and restored afterwards.
    """
    saved = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved


@contextlib.contextmanager
def quiet_logging_errors() -> Iterator[None]:
    """No traceback from the logging module when the log file cannot be written (disk full).

    The error that matters reaches the user as one line; ``logging`` would print a
    ``--- Logging error ---`` traceback for every record it fails to write.
    """
    saved = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        yield
    finally:
        logging.raiseExceptions = saved
