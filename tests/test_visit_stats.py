"""Visit analytics kept per user while a run steps give exactly what the full event list gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.analytics import analyze
from sim.analysis.events import EventData, cohort_triangle, retention_table
from sim.analysis.growth import growth_accounting
from sim.analysis.visit_stats import BYTES_PER_USER, VisitStats
from sim.app.model import UserLifecycleModel


def _both(cfg, reference=False):
    """The same run seen twice: every event kept, and the per-user statistics."""
    stats = VisitStats(cfg.population.simulated_users, cfg.horizon_days)
    model = UserLifecycleModel(cfg, reference=reference, keep_events=True, visit_observer=stats)
    for _ in range(cfg.horizon_days):
        model.step()
    p = model.population
    acq = np.where(p.acquired_day >= 0, p.acquired_day, -1)
    groups = {"channel": p.channel, "segment": p.segment}
    labels = {"channel": list(model.channels), "segment": list(model.segments.names)}
    slots, days = model.events()
    events = EventData(
        acq, slots, days, cfg.horizon_days, groups={k: v.astype(np.int64) for k, v in groups.items()}, labels=labels
    )
    return events, stats.finish(acq, groups=groups, labels=labels)


@pytest.mark.parametrize(
    ("preset", "strategy", "days", "reference"),
    [("ecommerce", "baseline", 100, False), ("game", "winback", 60, False), ("consumer_app", "baseline", 40, True)],
)
def test_tables_and_summary_identical_to_the_event_list(small_preset, preset, strategy, days, reference):
    cfg = small_preset(preset, market_size=3000 if reference else 20000, days=days)
    if strategy != "baseline":
        from sim.app.config import load_config

        cfg = load_config(
            [f"population={preset}", "population.market_size=20000", f"horizon_days={days}", f"strategy={strategy}"]
        )
    events, summary = _both(cfg, reference=reference)
    for period in ("day", "week"):
        pd.testing.assert_frame_equal(growth_accounting(summary, period), growth_accounting(events, period))
    pd.testing.assert_frame_equal(cohort_triangle(summary, "week", max_n=12), cohort_triangle(events, "week", max_n=12))
    pd.testing.assert_frame_equal(retention_table(summary), retention_table(events))
    t_s, s_s = analyze(summary, aware=1, activated=1)
    t_e, s_e = analyze(events, aware=1, activated=1)
    assert s_s == s_e
    for name in t_e:
        pd.testing.assert_frame_equal(t_s[name], t_e[name])


def test_hand_built_visits():
    """Three users over 15 days, counted by hand."""
    stats = VisitStats(3, 15)
    acquired = np.array([0, 2, -1])
    visits = {0: [0], 1: [0], 2: [1], 7: [0, 1], 8: [1], 14: [0]}  # day -> users
    for day in range(15):
        users = np.array(visits.get(day, []), dtype=np.int64)
        stats.observe(day, users, acquired[users])
    s = stats.finish(acquired)
    assert s.last_tenure().tolist() == [14, 6, -1]
    assert s.classic_hits(1).tolist() == [True, False, False]  # user 0 on day 1; user 1 not on day 3
    assert s.classic_hits(7).tolist() == [True, False, False]
    assert s.bracket_hits(1, 7).tolist() == [True, True, False]  # user 1: days 7, 8 are tenure 5, 6
    assert s.bracket_hits(8, 14).tolist() == [True, False, False]
    active, new, retained = s.period_counts(1)
    assert active.tolist() == [1, 1, 1, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 1]
    assert new.tolist() == [1, 0, 1] + [0] * 12 and retained[8] == 1 and retained[1] == 1
    active_w, new_w, retained_w = s.period_counts(7)
    assert active_w.tolist() == [2, 2, 1] and new_w.tolist() == [2, 0, 0] and retained_w.tolist() == [0, 2, 1]
    users, weeks = s.period_cells(7, 3)
    assert sorted(zip(users.tolist(), weeks.tolist(), strict=True)) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    # by cohort: user 0 (cohort 0) in weeks 0-2, user 1 (cohort 1) in week 0; user 2 never visited
    assert s.period_active(7, 3, np.array([0, 1, -1]), 2).tolist() == [[1, 1, 1], [1, 0, 0]]
    assert s.period_active(7, 3, np.array([1, 1, -1]), 3).tolist() == [[0, 0, 0], [2, 1, 1], [0, 0, 0]]
    with pytest.raises(ValueError, match="was not tracked"):
        s.classic_hits(2)
    # tenure weeks 0 … triangle_weeks are tracked; one more, or days, are refused with what is tracked
    assert s.period_cells(7, s.triangle_weeks + 1)[1].max() <= s.triangle_weeks
    tracked = f"the run tracks weeks 0 … {s.triangle_weeks}"
    with pytest.raises(ValueError) as refused:
        s.period_cells(7, s.triangle_weeks + 2)
    assert str(refused.value) == f"tenure periods of 7 days up to {s.triangle_weeks + 1} were not tracked: {tracked}"
    with pytest.raises(ValueError) as refused:
        s.period_cells(1, 3)
    assert str(refused.value) == f"tenure periods of 1 days up to 2 were not tracked: {tracked}"
    for step, width in ((7, s.triangle_weeks + 2), (1, 3)):
        with pytest.raises(ValueError) as by_cohort:
            s.period_active(step, width, np.zeros(3, dtype=np.int64), 1)
        assert str(by_cohort.value) == f"tenure periods of {step} days up to {width - 1} were not tracked: {tracked}"


def test_active_by_cohort_counts_every_user_week_cell_once():
    """period_active equals one count per (user, week) cell of period_cells, across the pattern groups of weeks.

    Random week bits for weeks 0-12 (13 weeks: patterns of 8 and 5 weeks), five cohorts;
    every width from 1 to 13 (inside one pattern group, at its edge, across it).
    """
    from sim.analysis.visit_stats import PATTERN_BITS

    rng = np.random.default_rng(3)
    users = 2000
    stats = VisitStats(users, 13 * 7)
    stats.weeks[:] = rng.integers(0, 1 << 13, users) * (rng.random(users) < 0.8)  # a fifth never visited
    acquired = rng.integers(0, 35, users)
    summary = stats.finish(acquired)
    cohort = acquired // 7
    assert 13 > PATTERN_BITS
    for width in range(1, 14):
        cells, weeks = summary.period_cells(7, width)
        expected = np.zeros((5, width), dtype=np.int64)
        np.add.at(expected, (cohort[cells], weeks), 1)
        np.testing.assert_array_equal(summary.period_active(7, width, cohort, 5), expected)


def test_memory_does_not_grow_with_the_visits():
    stats = VisitStats(10_000, 400)
    per_user = sum(a.nbytes for a in (stats.last_day, stats.hits, stats.weeks))
    rng = np.random.default_rng(0)
    for day in range(400):
        users = np.unique(rng.integers(0, 10_000, 3_000))
        stats.observe(day, users, np.zeros(users.size, dtype=np.int64))
    assert per_user == 10_000 * BYTES_PER_USER == sum(a.nbytes for a in (stats.last_day, stats.hits, stats.weeks))


def test_the_last_tracked_tenure_week_is_kept_and_the_next_is_not():
    """Week 12 (tenure days 84-90) is the triangle's last; week 13 is not tracked (both sides of the edge)."""
    stats = VisitStats(3, 100)
    acquired = np.array([0, 0, 0])
    for day, user in ((0, 0), (0, 1), (0, 2), (84, 0), (90, 1), (91, 2)):  # tenure weeks 12, 12, 13
        users = np.array([user])
        stats.observe(day, users, acquired[users])
    users, weeks = stats.finish(acquired).period_cells(7, 13)
    assert sorted(zip(users.tolist(), weeks.tolist(), strict=True)) == [(0, 0), (0, 12), (1, 0), (1, 12), (2, 0)]
    assert stats.finish(acquired).period_active(7, 13, np.zeros(3, dtype=np.int64), 1).tolist() == [
        [3] + [0] * 11 + [2]
    ]
    assert stats.weeks.tolist() == [1 | 1 << 12, 1 | 1 << 12, 1]  # no bit beyond week 12 either


def test_active_by_cohort_with_more_weekly_cohorts_than_a_narrow_code_holds():
    """More than 128 weekly cohorts (a 1,500-day horizon), their codes given as int16: cohort << 8 must not overflow."""
    rng = np.random.default_rng(5)
    users = 3000
    stats = VisitStats(users, 1500)
    stats.weeks[:] = rng.integers(0, 1 << 13, users) * (rng.random(users) < 0.8)
    acquired = rng.integers(0, 1500, users)
    summary = stats.finish(acquired)
    cohort = acquired // 7
    n_cohorts = int(cohort.max()) + 1
    assert n_cohorts > 128
    cells, weeks = summary.period_cells(7, 13)
    expected = np.zeros((n_cohorts, 13), dtype=np.int64)
    np.add.at(expected, (cohort[cells], weeks), 1)
    np.testing.assert_array_equal(summary.period_active(7, 13, cohort.astype(np.int16), n_cohorts), expected)


def test_analyze_hands_its_tables_over_before_the_survival_fits(small_preset):
    """tables_ready gets the very tables analyze returns and the summary without its fits yet; the result is the
    same with or without it."""
    cfg = small_preset("ecommerce", market_size=20000, days=100)
    _events, summary = _both(cfg, reference=False)
    seen = []

    def ready(tables, so_far):
        seen.append((tables, dict(so_far), set(tables)))

    tables, out = analyze(summary, aware=5, activated=1, tables_ready=ready)
    ((handed, so_far, names),) = seen
    assert handed is tables and names == set(tables)  # the same dict, nothing added after
    assert "funnel" in so_far and "rolling_retention_fit" not in so_far
    assert set(out["rolling_retention_fit"]) == {"sbg", "bdw"}
    assert {k: v for k, v in out.items() if k != "rolling_retention_fit"} == so_far
    again_tables, again = analyze(summary, aware=5, activated=1)
    assert again == out
    for name in tables:
        pd.testing.assert_frame_equal(again_tables[name], tables[name])
