"""Run a task as a Hydra app on a given argv (what ``@hydra.main`` does, without ``sys.argv``).

``hydra.main`` parses ``sys.argv``; opsim's commands take their arguments as a list, so
they call Hydra's own runner with an explicitly parsed argument list instead
(``parse_intermixed_args`` also accepts overrides on both sides of an option such as
``--config-dir``). Output folders, logging, ``--cfg``, ``--help`` and multiruns work as
with ``@hydra.main``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from omegaconf import DictConfig

__all__ = ["run_hydra"]


def run_hydra(argv: Sequence[str], task: Callable[[DictConfig], object], config_dir: str, config_name: str) -> None:
    """Run ``task`` under Hydra with the command-line arguments ``argv``.

    Args:
        argv: Overrides and Hydra flags (``-m``, ``--config-dir``, ``--cfg job``, …).
        task: The task function (called once, or once per job of a multirun).
        config_dir: The primary config folder.
        config_name: The primary config's name.

    """
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser

    version.setbase("1.3")
    parser = get_args_parser()
    _run_hydra(
        args=parser.parse_intermixed_args(list(argv)),
        args_parser=parser,
        task_function=task,
        config_path=config_dir,
        config_name=config_name,
    )
