"""``hydra/sweeper=opsim``: Hydra's basic sweeper, without its serial re-check in the parent, naming job folders.

Each job gets a short, safe folder name (``hydra.sweep.subdir``, see
:func:`sim.app.sweep.job_folder_names`) instead of Hydra's override string, which
copies every override — a swept ``../..`` included — into the path.

Hydra's basic sweeper composes every job's config once in the parent process
before it hands the batch to the launcher (``validate_batch_is_legal``), and the
launcher composes each one again. That pass costs about 0.15 s a job (32 tiny
jobs: 14.8 s and 19.7 s with this sweeper, 21.0 s and 23.7 s with
``hydra/sweeper=basic``), serially, while the workers wait. The ``opsim`` command has already composed and validated
every value of every sweep before Hydra starts (:func:`sim.app.cli.check_overrides`)
and then says so in the sweeper's config (``hydra.sweeper.prevalidated=true``), so
this sweeper skips the parent's pass; otherwise it validates exactly as the basic
sweeper does. Sweeping, batching and
``hydra.sweeper.params`` are the basic sweeper's.

Hydra's launchers compose every job's config from scratch; this sweeper hands them
a config loader that composes each choice of presets once and applies each job's
values to a copy (:class:`sim.app.sweep_configs.TemplateSweepLoader`): the same configs,
node for node, for a few milliseconds a job instead of 0.1–0.2 s.

Hydra instantiates sweepers only from the ``hydra_plugins`` namespace, which is
why this small module lives here and not in ``sim``.
"""

# No ``from __future__ import annotations``: Hydra executes plugin modules without
# registering them in sys.modules, where dataclasses cannot resolve string annotations.
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class OpsimSweeperConf(BasicSweeperConf):
    """Config node of ``hydra/sweeper=opsim``: the basic sweeper's keys, and ``prevalidated``."""

    _target_: str = "hydra_plugins.opsim_sweeper.opsim_sweeper.OpsimSweeper"
    #: Set by the ``opsim`` command once it has validated every value of every sweep.
    prevalidated: bool = False


ConfigStore.instance().store(group="hydra/sweeper", name="opsim", node=OpsimSweeperConf, provider="opsim")


class OpsimSweeper(BasicSweeper):
    """Basic sweeper that trusts the opsim command's up-front validation.

    Args:
        prevalidated: The overrides were validated before Hydra started.
        **kwargs: The basic sweeper's arguments (``max_batch_size``, ``params``).

    """

    def __init__(self, prevalidated: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prevalidated = prevalidated
        self._names: dict[tuple[str, ...], str] | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """The basic sweeper's set-up, its launcher given the templated config loader."""
        from sim.app.sweep_configs import TemplateSweepLoader

        templated = replace(hydra_context, config_loader=TemplateSweepLoader.of(hydra_context.config_loader))
        super().setup(hydra_context=templated, task_function=task_function, config=config)

    def get_job_batch(self) -> Sequence[Sequence[str]]:
        """The next batch, each job given its folder: ``hydra.sweep.subdir`` = a short, safe name.

        Before the first batch the sweep's jobs are recorded in its folder
        (:func:`sim.app.sweep.record_plan`), and one line says how many finished jobs run
        again because other opsim code computed them (:func:`sim.app.sweep.rerun_for_code`). The names (:func:`sim.app.sweep.job_folder_names`) are made once for the whole
        sweep: from the values that vary across it, plus a hash of each job's overrides,
        so no swept value can name a folder outside the sweep folder or past 255 bytes.
        """
        import logging
        from pathlib import Path

        from sim.app.config import quote_value
        from sim.app.sweep import job_folder_names, record_plan, rerun_for_code

        batch = super().get_job_batch()
        if self._names is None:
            every = [job for jobs in (self.overrides or []) for job in jobs]
            folder = Path(str(self.config.hydra.sweep.dir))
            record_plan(folder, every)  # what the summary counts: this sweep's jobs, not others in the folder
            self._names = job_folder_names(every, folder)
            line = rerun_for_code(folder, self._names.values())
            if line:
                logging.getLogger("opsim").warning(line)
        return [[*job, f"hydra.sweep.subdir={quote_value(self._names[tuple(job)])}"] for job in batch]

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Skip the serial re-composition when ``opsim`` validated the overrides already."""
        if self.prevalidated:
            return
        super().validate_batch_is_legal(batch)
