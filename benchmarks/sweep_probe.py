"""``opsim -m`` with timestamps: where a joblib sweep's wall time goes (used by ``bench_sweep_timeline.py``).

Run as ``python benchmarks/sweep_probe.py EVENTS.jsonl <opsim -m arguments>``, with this
folder on ``PYTHONPATH`` so that joblib's workers can import :func:`execute_job`. It
replaces the joblib launcher's ``execute_job`` with a copy of it (hydra-joblib-launcher
1.2: ``setup_globals``, ``Singleton.set_state``, ``load_sweep_config``, ``run_job``) that
writes when each step ends, and records when the command starts, when the launcher is
called and returns, and when the command ends. One JSON object per line, times from
``time.time()`` (one clock for every process).
"""

from __future__ import annotations

import json
import os
import sys
import time

EVENTS_ENV = "OPSIM_SWEEP_PROBE_EVENTS"


def _write(record: dict) -> None:
    with open(os.environ[EVENTS_ENV], "a") as f:
        f.write(json.dumps(record) + "\n")


def execute_job(idx, overrides, hydra_context, config, task_function, singleton_state):
    """hydra_joblib_launcher._core.execute_job, step by step with timestamps."""
    started = time.time()
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals
    from omegaconf import open_dict

    setup_globals()
    Singleton.set_state(singleton_state)
    state_set = time.time()
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    loaded = time.time()
    ret = run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    ended = time.time()
    meta_path = os.path.join(str(sweep_config.hydra.runtime.output_dir), "meta.json")
    with open(meta_path) as f:
        simulate_seconds = json.load(f)["wall_seconds"]
    _write(
        {
            "event": "job",
            "pid": os.getpid(),
            "idx": idx,
            "started": started,
            "state_set": state_set,
            "loaded": loaded,
            "ended": ended,
            "simulate_seconds": simulate_seconds,
        }
    )
    return ret


def main() -> None:
    """Record the command's start, run ``opsim`` with the probe in place, record its end."""
    os.environ[EVENTS_ENV] = os.path.abspath(sys.argv[1])
    _write({"event": "start", "t": time.time()})
    from hydra_plugins.hydra_joblib_launcher import _core

    launch = _core.launch

    def timed_launch(*args, **kwargs):
        _write({"event": "launch", "t": time.time()})
        try:
            return launch(*args, **kwargs)
        finally:
            _write({"event": "launched", "t": time.time()})

    _core.launch = timed_launch  # the launcher looks both up in _core when it is called
    _core.execute_job = execute_job
    from sim.app.cli import main as opsim

    try:
        opsim(sys.argv[2:])
    finally:
        _write({"event": "end", "t": time.time()})


if __name__ == "__main__":
    main()
