"""Every population preset passes the model checker; the checker catches bad runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim.checker import ModelCheckError, check_model, check_result
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
