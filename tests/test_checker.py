"""Every population preset passes the model checker; the checker catches bad runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.app.checker import ModelCheckError, check_model, check_result
from tests.conftest import PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_passes_model_checker(small_preset, preset):
    result = check_model(small_preset(preset))
    assert result.summary["acquired_users"] > 0


def test_checker_rejects_broken_conservation(small_preset):
    result = check_model(small_preset("consumer_app", days=30))
    broken = replace(result, daily=result.daily.copy())
    broken.daily.loc[5, "aware"] += 1
    with pytest.raises(ModelCheckError, match="do not sum to M"):
        check_result(broken)


def test_checker_rejects_negative_and_inconsistent_counts(small_preset):
    result = check_model(small_preset("game", days=30))
    broken = replace(result, daily=result.daily.copy())
    broken.daily.loc[3, "revenue"] = -1.0
    with pytest.raises(ModelCheckError, match="negative values"):
        check_result(broken)
    broken = replace(result, cohort_active=result.cohort_active.copy())
    broken.cohort_active[2, 3] += 1
    with pytest.raises(ModelCheckError, match="DAU"):
        check_result(broken)
    assert np.array_equal(result.cohort_active, check_model(small_preset("game", days=30)).cohort_active)


PUBLISHED_RANGES = {  # (low, high) in %, as cited in conf/population/<preset>.yaml
    "consumer_app": {"d1": (20, 27), "d7": (9, 13), "d30": (4, 7)},
    "ecommerce": {"d1": (19, 25), "d7": (5, 10), "d30": (4, 6)},
    "game": {"d1": (20, 30), "d7": (3.5, 8), "d30": (1.5, 3)},
}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_retention_falls_in_published_range(small_preset, preset):
    from sim import simulate

    # M = 200k over 120 days pools ~10k+ acquired users, so each D_N has SE < 0.4 points.
    retention = simulate(small_preset(preset, market_size=200_000, days=120)).summary["retention"]
    for key, (low, high) in PUBLISHED_RANGES[preset].items():
        assert low <= 100 * retention[key] <= high, f"{preset} {key} = {100 * retention[key]:.1f} %"


STRATEGIES = (
    "baseline",
    "paid_growth",
    "referral_led",
    "retention_first",
    "activation_push",
    "winback",
    "balanced_mix",
)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_preset_passes_model_checker(small_preset, strategy):
    cfg = small_preset("consumer_app", market_size=20_000, days=60)
    from sim import load_config

    cfg = replace(cfg, strategy=load_config([f"strategy={strategy}"]).strategy)
    cfg = replace(cfg, economics=replace(cfg.economics, marginal_roi=False, spend_response_multipliers=[]))
    result = check_model(cfg)
    econ = result.summary["economics"]
    assert (econ["incremental"] is None) == (strategy == "baseline")
    assert result.summary["strategy"] == strategy
