"""opsim: an agent-based user lifecycle simulator for growth and operations teams.

Public API::

    from sim import simulate, compose
    result = simulate(compose(["population=game", "seed=3"]))
    result.summary["retention"]      # {'d1': ..., 'd7': ..., 'd30': ...}
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sim.app.config import Config, compose, load_config, register_schema
    from sim.app.model import UserLifecycleModel
    from sim.app.simulate import simulate
    from sim.base.errors import ConfigError, OpsimError
    from sim.core.lifecycle import Stage
    from sim.output.result import Result

#: Where each public name lives. Loaded on first use (PEP 562), so ``opsim``'s parent
#: process and the tools that only compose configs do not import Mesa and the model.
#: This module is the public facade over every layer (see README, "Architecture").
_EXPORTS = {
    "Config": "sim.app.config",
    "ConfigError": "sim.base.errors",
    "OpsimError": "sim.base.errors",
    "Result": "sim.output.result",
    "Stage": "sim.core.lifecycle",
    "UserLifecycleModel": "sim.app.model",
    "compose": "sim.app.config",
    "load_config": "sim.app.config",
    "register_schema": "sim.app.config",
    "simulate": "sim.app.simulate",
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
    "register_schema",
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
