"""opsim: an agent-based user lifecycle simulator for growth and operations teams.

Public API::

    from sim import simulate, compose
    result = simulate(compose(["population=game", "seed=3"]))
    result.summary["retention"]      # {'d1': ..., 'd7': ..., 'd30': ...}
"""

from sim.api import simulate
from sim.config import Config, compose, load_config
from sim.errors import ConfigError, OpsimError
from sim.lifecycle import Stage
from sim.model import UserLifecycleModel
from sim.results import Result

__all__ = [
    "Config",
    "ConfigError",
    "OpsimError",
    "Result",
    "Stage",
    "UserLifecycleModel",
    "compose",
    "load_config",
    "simulate",
]
