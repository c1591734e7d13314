"""Each sweep job's config without a whole Hydra composition: the defaults composed once, the values applied per job.

Hydra's launchers compose every job's config from scratch
(``ConfigLoader.load_sweep_config``): build the defaults list, read and merge every
YAML file and schema node it names, then apply the job's value overrides. For the
jobs of a sweep the first part is almost always the same — the jobs differ in values
(``seed=3``, ``strategy.push.per_week=4``), not in the presets they pick — and it is
nearly all of the 0.1–0.2 s a composition costs.

:class:`TemplateSweepLoader` is Hydra's config loader with ``load_sweep_config``
split at that seam, following Hydra's own ``_load_configuration_impl`` step by step:

1. the job's overrides are parsed and split the way Hydra's defaults list splits
   them: an override of a config group (``strategy=paid_growth``,
   ``hydra/launcher=joblib``, ``+add@strategy.paid_ads.tiktok=channel``) selects
   defaults; every other one (``seed=3``, ``hydra.sweep.subdir=...``) is a value;
2. the config composed from the defaults alone — the *template* — is kept per
   process under the primary config's name, the group overrides, the search path
   a digest of every YAML file in it (:func:`~sim.app.config_cache.config_files_digest`) and the
   ConfigStore's nodes;
3. each job gets a deep copy of its template with its value overrides applied by
   Hydra's own function, and the ``hydra`` node's per-job records set as Hydra sets
   them (``overrides.task``/``hydra``, ``runtime.choices``, ``cwd``, ``version``,
   ``config_sources``, ``job.name``, ``job.override_dirname``, ``job.config_name``,
   ``job.env_set``).

The result equals Hydra's composition node for node (tested on group, value, add,
delete and hydra overrides). The template cache is module-level on purpose: the
joblib launcher sends the loader to a worker anew with every job, and the worker
keeps the templates across its jobs.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.config_repository import CachingConfigRepository
from hydra._internal.defaults_list import create_defaults_list
from hydra.conf import ConfigSourceInfo
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobRuntime
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from sim.app.config_cache import config_files_digest, store_digest

__all__ = ["TEMPLATES_KEPT", "TemplateSweepLoader"]

#: Templates kept per process (one per distinct choice of presets in a sweep).
TEMPLATES_KEPT = 64
#: Scheme of the config sources whose files a template depends on.
_FILE_SCHEME = "file"

#: Composed templates by key: (the config, its defaults' known choices, its config sources).
_templates: OrderedDict[Hashable, tuple[DictConfig, dict[str, Any], list[Any]]] = OrderedDict()


class TemplateSweepLoader(ConfigLoaderImpl):
    """Hydra's config loader whose ``load_sweep_config`` composes each choice of presets once (module docstring).

    Args:
        config_search_path: The search path of the loader it stands in for.

    """

    @classmethod
    def of(cls, loader: ConfigLoaderImpl) -> TemplateSweepLoader:
        """The same loader (same search path) with templated sweep configs."""
        return loader if isinstance(loader, cls) else cls(config_search_path=loader.config_search_path)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        """The config of one job of the sweep: Hydra's composition, the defaults part composed once per choice."""
        overrides = [*OmegaConf.to_container(master_config.hydra.overrides.hydra), *sweep_overrides]
        config_name = master_config.hydra.job.config_name
        cfg = self._compose_job(config_name, overrides)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        return cfg

    def _compose_job(self, config_name: str | None, overrides: list[str]) -> DictConfig:
        """Hydra's ``_load_configuration_impl`` in RUN mode, the defaults composition taken from the template."""
        from hydra import __version__, version
        from hydra._internal.config_loader_impl import get_overrides_dirname

        self.ensure_main_config_source_available()
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
        repo = CachingConfigRepository(self.repository)
        self._process_config_searchpath(config_name, parsed, repo)
        self.validate_sweep_overrides_legal(overrides=parsed, run_mode=RunMode.RUN, from_shell=True)
        is_value = [isinstance(o.value(), dict) or not repo.group_exists(o.key_or_group) for o in parsed]
        values = [o for o, value in zip(parsed, is_value, strict=True) if value]
        choices = [o for o, value in zip(parsed, is_value, strict=True) if not value]
        template, known_choices, sources = self._template(config_name, choices, repo)
        cfg = copy.deepcopy(template)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        app_overrides = []
        for override in parsed:
            if override.is_hydra_override():
                cfg.hydra.overrides.hydra.append(override.input_line)
            else:
                cfg.hydra.overrides.task.append(override.input_line)
                app_overrides.append(override)
        with open_dict(cfg.hydra):
            cfg.hydra.runtime.choices.update(known_choices)
            for key in cfg.hydra.job.env_copy:
                cfg.hydra.job.env_set[key] = os.environ[key]
        cfg.hydra.runtime.version = __version__
        cfg.hydra.runtime.version_base = version.getbase()
        cfg.hydra.runtime.cwd = os.getcwd()
        cfg.hydra.runtime.config_sources = copy.deepcopy(sources)
        if "name" not in cfg.hydra.job:
            cfg.hydra.job.name = JobRuntime().get("name")
        naming = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=app_overrides,
            kv_sep=naming.kv_sep,
            item_sep=naming.item_sep,
            exclude_keys=naming.exclude_keys,
        )
        cfg.hydra.job.config_name = config_name
        return cfg

    def _template(
        self, config_name: str | None, choices: list[Any], repo: CachingConfigRepository
    ) -> tuple[DictConfig, dict[str, Any], list[Any]]:
        """The config composed from the defaults that ``choices`` select (kept; the caller copies it)."""
        sources = repo.get_sources()
        folders = [s.path for s in sources if s.scheme() == _FILE_SCHEME]
        key = (
            config_name,
            tuple(o.input_line for o in choices),
            tuple((s.scheme(), s.path, s.provider) for s in sources),
            config_files_digest(folders),
            store_digest(),
        )
        found = _templates.get(key)
        if found is not None:
            _templates.move_to_end(key)
            return found
        defaults = create_defaults_list(
            repo=repo, config_name=config_name, overrides_list=choices, prepend_hydra=True, skip_missing=False
        )
        cfg = self._compose_config_from_defaults_list(defaults=defaults.defaults, repo=repo)
        OmegaConf.set_struct(cfg, True)
        OmegaConf.set_readonly(cfg.hydra, False)
        infos = [ConfigSourceInfo(path=s.path, schema=s.scheme(), provider=s.provider) for s in sources]
        _templates[key] = (cfg, dict(defaults.overrides.known_choices), infos)
        while len(_templates) > TEMPLATES_KEPT:
            _templates.popitem(last=False)
        return _templates[key]
