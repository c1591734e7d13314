"""opsim: an agent-based user lifecycle simulator for growth and operations teams.

Public API::

    from sim import simulate, compose
    result = simulate(compose(["population=game", "seed=3"]))
    result.summary["retention"]      # {'d1': ..., 'd7': ..., 'd30': ...}
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sim.api import simulate
    from sim.config import Config, compose, load_config
    from sim.errors import ConfigError, OpsimError
    from sim.lifecycle import Stage
    from sim.model import UserLifecycleModel
    from sim.results import Result

#: Where each public name lives. Loaded on first use (PEP 562), so ``opsim``'s parent
#: process and the tools that only compose configs do not import Mesa and the model.
_EXPORTS = {
    "Config": "sim.config",
    "ConfigError": "sim.errors",
    "OpsimError": "sim.errors",
    "Result": "sim.results",
    "Stage": "sim.lifecycle",
    "UserLifecycleModel": "sim.model",
    "compose": "sim.config",
    "load_config": "sim.config",
    "simulate": "sim.api",
}

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
