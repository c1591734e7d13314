"""A sweep's statistics and their legend: intervals over seeds, and what a point of one seed has instead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.sweep_stats import METRICS, summarize_points
from sim.output import sweep_report
from sim.output.verdict import sweep_verdict


def _jobs(seeds_per_point: dict[str, int]) -> pd.DataFrame:
    """Jobs of points that spend 100 and gain 150 + 10 · seed (incremental profit 50 + 10 · seed)."""
    rows = []
    for point, seeds in seeds_per_point.items():
        for seed in range(seeds):
            row = dict.fromkeys(METRICS, np.nan)
            gain = 150.0 + 10 * seed
            row.update(
                point=point,
                seed=seed,
                cost=100.0,
                incremental_profit=gain - 100.0,
                incremental_roi=(gain - 100.0) / 100.0,
                payback_day=30.0,
                d30=0.2,
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _verdict(table: pd.DataFrame, point: str) -> str:
    row = table.set_index("point").loc[point]
    return sweep_verdict(row, subject=point, currency="USD", horizon_days=90).interval


def test_the_verdict_of_a_point_of_one_seed_claims_no_t_interval():
    """The page read "Intervals: 95 % t-interval over 1 seed" where no interval exists."""
    table = summarize_points(_jobs({"a": 1, "b": 1}))
    assert table["incremental_profit_lo"].isna().all()
    assert _verdict(table, "a") == "none: one seed (an interval over seeds needs 2 seeds or more)"
    assert _verdict(summarize_points(_jobs({"a": 2})), "a").startswith("95 % t-interval over 2 seeds")


def test_the_table_legend_of_one_seed_per_point_says_no_interval():
    """The Markdown table's legend said "[low, high] = 95 % t-interval over seeds" with one seed per point."""
    table = summarize_points(_jobs({"a": 1, "b": 1}))
    legend = sweep_report.interval_legend(table, "[low, high] =")
    assert legend == "no interval: one seed per point (an interval needs 2 seeds or more)"
    markdown = sweep_report.sweep_markdown(table, [], Path("sweep"))
    assert "t-interval" not in markdown and legend in markdown


def test_two_seeds_per_point_have_a_t_interval_and_a_mixed_sweep_says_which_points_have_none():
    table = summarize_points(_jobs({"a": 2, "b": 2}))
    assert table["incremental_profit_lo"].notna().all()
    assert sweep_report.interval_legend(table, "[low, high] =") == "[low, high] = 95 % t-interval over seeds"
    assert "[low, high] = 95 % t-interval over seeds" in sweep_report.sweep_markdown(table, [], Path("sweep"))
    mixed = summarize_points(_jobs({"a": 2, "b": 1}))
    assert sweep_report.interval_legend(mixed, "±:") == (
        "±: 95 % t-interval over seeds (none for a point of one seed: an interval needs 2 seeds or more)"
    )
    assert _verdict(mixed, "b").startswith("none: one seed")
