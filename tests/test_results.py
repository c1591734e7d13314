"""Retention measures on hand-built cohort matrices, and the result folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim import simulate
from sim.analysis.retention import cohort_retention as classic_retention
from sim.analysis.retention import cohort_retention_curve as retention_curve
from sim.analysis.retention import cohort_table
from sim.output.files import write_atomic


def test_classic_retention_pools_observed_cohorts():
    # horizon 4; cohort 0: 5 users, 2 on day 1, 1 on day 2, 1 on day 3; cohort 1: 5 users, 3 on day 1, 0 on day 2;
    # cohort 2: 10 users, 4 on day 1; cohort 3: 2 users (day 0 only observed).
    ca = np.array([[5, 2, 1, 1], [5, 3, 0, 0], [10, 4, 0, 0], [2, 0, 0, 0]])
    assert classic_retention(ca, 1) == pytest.approx((2 + 3 + 4) / (5 + 5 + 10))
    assert classic_retention(ca, 2) == pytest.approx((1 + 0) / (5 + 5))
    assert classic_retention(ca, 3) == pytest.approx(1 / 5)
    assert np.isnan(classic_retention(ca, 4))
    assert retention_curve(ca)[:4] == pytest.approx([1.0, 9 / 20, 1 / 10, 1 / 5])
    table = cohort_table(ca)
    assert len(table) == 4 + 3 + 2 + 1
    row = table[(table.cohort_day == 1) & (table.day_n == 1)].iloc[0]
    assert (row.cohort_size, row.active, row.active_share) == (5, 3, pytest.approx(0.6))


def test_empty_cohorts_are_left_out_and_unobserved_retention_is_nan():
    ca = np.zeros((3, 3), dtype=int)
    assert np.isnan(classic_retention(ca, 1))
    assert cohort_table(ca).empty


def test_write_atomic_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")

    def fail(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_round_trips(tmp_path, small_preset):
    result = simulate(small_preset("ecommerce", days=35))
    out = result.save(tmp_path / "r", figures=True)
    assert json.loads((out / "summary.json").read_text())["acquired_users"] == result.summary["acquired_users"]
    assert pd.read_parquet(out / "daily.parquet").equals(result.daily)
    cohorts = pd.read_parquet(out / "cohorts.parquet")
    assert cohorts.equals(result.cohorts)
    d7 = cohorts[cohorts.day_n == 7]
    assert d7.active.sum() / d7.cohort_size.sum() == pytest.approx(result.summary["retention"]["d7"])
    assert (out / "stages.png").stat().st_size > 10_000
