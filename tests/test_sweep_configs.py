"""A sweep job's config from the kept template equals Hydra's own composition of it, node for node."""

from __future__ import annotations

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.types import RunMode
from omegaconf import OmegaConf

from sim.app import sweep_configs
from sim.app.config import config_dir, register_schema
from sim.app.sweep_configs import TemplateSweepLoader

#: Hydra overrides of the whole sweep (as `opsim -m` passes them), and each job's own overrides.
SWEEP = ["hydra.sweep.dir=/tmp/opsim-sweep", "hydra.sweeper.prevalidated=true"]
JOBS = [
    ["seed=3", "hydra.sweep.subdir=seed_3"],
    ["seed=4", "population.market_size=5000", "hydra.sweep.subdir='seed=4'"],
    ["strategy=paid_growth", "strategy.paid_ads.search.daily_budget=250.0", "hydra.sweep.subdir=a"],
    ["population=game", "strategy=winback", "seed=1", "horizon_days=30"],
    ["+add@strategy.paid_ads.tiktok=channel", "strategy.paid_ads.tiktok.daily_budget=10"],
    ["~hydra.job_logging.loggers.MESA", "economics.margin=0.5"],
    ["~strategy", "seed=5"],
    ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=8"],
    ["population.segments={casual: {weight: 1.0}}", "seed=2"],
    ["hydra.job.name=other", "record_events=false"],
]
#: Jobs Hydra refuses: the templated loader refuses them with the same error.
BAD_JOBS = [
    ["population=nope"],
    ["~economics.spend_response_multipliers"],
    ["seed=many"],
    ["population.colour=red"],
]


def _loaders():
    register_schema()
    path = create_config_search_path(f"file://{config_dir()}")
    hydra = ConfigLoaderImpl(config_search_path=path)
    master = hydra.load_configuration("config", SWEEP, run_mode=RunMode.MULTIRUN)
    return hydra, TemplateSweepLoader.of(hydra), master


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job[0])
def test_a_job_config_equals_hydras_composition(job):
    hydra, templated, master = _loaders()
    composed = hydra.load_sweep_config(master, job)
    want = OmegaConf.to_container(composed, resolve=False)
    for _ in range(2):  # composed once, then from the kept template
        got = templated.load_sweep_config(master, job)
        assert OmegaConf.to_container(got, resolve=False) == want
        assert OmegaConf.get_type(got) is OmegaConf.get_type(composed)
        assert OmegaConf.is_struct(got) and not OmegaConf.is_readonly(got.hydra)


def test_jobs_that_pick_the_same_presets_share_one_template_and_not_their_changes():
    _hydra, templated, master = _loaders()
    sweep_configs._templates.clear()
    first = templated.load_sweep_config(master, ["seed=1"])
    first.population.market_size = 7
    second = templated.load_sweep_config(master, ["seed=2", "population.market_size=9"])
    third = templated.load_sweep_config(master, ["seed=3"])
    other = templated.load_sweep_config(master, ["population=game", "seed=3"])
    assert len(sweep_configs._templates) == 2
    assert (first.seed, second.seed, third.seed) == (1, 2, 3)
    assert (second.population.market_size, third.population.market_size) == (9, 1_000_000)
    assert other.population.name == "game" and list(third.hydra.overrides.task) == ["seed=3"]


@pytest.mark.parametrize("job", BAD_JOBS, ids=lambda job: job[0])
def test_a_job_hydra_refuses_is_refused_with_the_same_error(job):
    hydra, templated, master = _loaders()
    with pytest.raises(Exception) as by_hydra:
        hydra.load_sweep_config(master, job)
    for _ in range(2):
        with pytest.raises(type(by_hydra.value)) as ours:
            templated.load_sweep_config(master, job)
        assert str(ours.value) == str(by_hydra.value)
