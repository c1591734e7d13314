"""Fingerprints of simulated results, to check that a change leaves them bit-identical.

``tests/data/release_fingerprints.json`` holds the fingerprints the previous release
gives; ``tests/test_threads.py`` recomputes them with the code as it is. To record
them from a checkout of that release (its own ``sim``), run from this repository::

    PYTHONPATH=/path/to/release python tests/release_fingerprint.py > tests/data/release_fingerprints.json

A fingerprint is the SHA-256 of the raw bytes of every daily column, the cohort
matrices, the Monte-Carlo group totals and the final per-slot state of a stepped
model, plus every lever's summary; for :func:`sim.simulate` runs (analytics and
economics included), of ``summary.json`` as opsim writes it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np

#: Stepped models: name → config values. Several chunks of 65,536 slots each, every lever, a sample.
MODEL_CASES: dict[str, dict[str, Any]] = {
    "organic": {"population.market_size": 200_000, "horizon_days": 60},
    "game_sample": {
        "population": "game",
        "population.market_size": 2_000_000,
        "population.sample_size": 140_000,
        "horizon_days": 45,
        "seed": 3,
    },
    **{
        name: {"strategy": name, "population.market_size": 140_000, "horizon_days": 70, "seed": 2}
        for name in ("paid_growth", "referral_led", "retention_first", "activation_push", "winback", "balanced_mix")
    },
}
#: Whole runs through ``simulate`` (comparison runs, analytics, economics): name → overrides.
SIMULATE_CASES: dict[str, list[str]] = {
    "balanced_mix": [
        "strategy=balanced_mix",
        "population.market_size=140000",
        "horizon_days=60",
        "seed=5",
        "economics.spend_response_multipliers=[0,2]",
    ],
}
#: Per-slot state compared at the end of a stepped run.
STATE_FIELDS = ("stage", "alive", "segment", "channel", "flags", "habit", "acquired_day", "last_visit_day")


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def model_fingerprint(values: dict[str, Any], **model_args: Any) -> str:
    """Step a model of ``values`` over its horizon and fingerprint everything it produced."""
    from sim import UserLifecycleModel

    model = UserLifecycleModel({**values, "progress": False, "record_events": False}, **model_args)
    for _ in range(model.horizon):
        model.step()
    parts = []
    for name in sorted(model.log.columns):
        parts += [name.encode(), np.ascontiguousarray(model.log.columns[name], dtype=np.float64).tobytes()]
    for array in (model.cohort_active, model.cohort_revenue, model.cohort_purchases):
        parts.append(np.ascontiguousarray(array).tobytes())
    parts += [model.group_acquired.tobytes(), model.group_revenue.tobytes()]
    for name in STATE_FIELDS:
        parts.append(np.ascontiguousarray(getattr(model.population, name)).tobytes())
    for lever in model.levers:
        parts.append(json.dumps(lever.summary(), sort_keys=True, default=float).encode())
        parts += [repr(float(lever.charged_total)).encode(), lever.group_charged.tobytes()]
    return _digest(parts)


def simulate_fingerprint(overrides: list[str], *extra: str) -> str:
    """Fingerprint ``summary.json`` of a whole run (timings left out)."""
    from sim import simulate

    result = simulate([*overrides, "progress=false", "figures=false", *extra])
    summary = {k: v for k, v in result.summary.items() if k not in ("seconds", "wall_seconds")}
    return _digest([json.dumps(summary, sort_keys=True, default=float).encode()])


def fingerprints() -> dict[str, str]:
    """Every case's fingerprint with the ``sim`` on the path."""
    out = {f"model/{name}": model_fingerprint(values) for name, values in MODEL_CASES.items()}
    out.update({f"simulate/{name}": simulate_fingerprint(o) for name, o in SIMULATE_CASES.items()})
    return out


if __name__ == "__main__":
    json.dump(fingerprints(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
