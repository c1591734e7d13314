"""Every retention measure on hand-built event data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import UserLifecycleModel
from sim.analysis.events import (
    JOINT_BINS_FLOOR,
    EventData,
    bracket_retention,
    classic_retention,
    cohort_triangle,
    retention_table,
    rolling_curve,
    rolling_retention,
)
from sim.analysis.growth import check_growth_identity, growth_accounting


@pytest.fixture
def tiny():
    """Five users acquired on day 0, two on day 3, one never; horizon 20 days.

    user: visits (day)
    0: 0, 1, 7          1: 0, 7, 8          2: 0, 2
    3: 0, 14            4: 0
    5: 3, 4, 10         6: 3
    7: never acquired
    """
    visits = {0: [0, 1, 7], 1: [0, 7, 8], 2: [0, 2], 3: [0, 14], 4: [0], 5: [3, 4, 10], 6: [3]}
    users = [u for u, days in visits.items() for _ in days]
    days = [d for days in visits.values() for d in days]
    channel = np.array(["ads", "ads", "organic", "organic", "organic", "ads", "organic", "organic"])
    return EventData(
        acquired_day=np.array([0, 0, 0, 0, 0, 3, 3, -1]),
        visit_user=np.array(users),
        visit_day=np.array(days),
        horizon=20,
        groups={"channel": channel},
    )


def share(frame, group="all"):
    return float(frame.loc[frame.group == group, "share"].iloc[0])


def test_classic_retention_known_answers(tiny):
    # D7: users 0 and 1 (day 7) and user 5 (acquired day 3, active on day 10): 3 of 7
    assert share(classic_retention(tiny, 7)) == pytest.approx(3 / 7)
    assert classic_retention(tiny, 7)["retained"].iloc[0] == 3


def test_classic_d7_of_the_first_cohort_is_two_fifths(tiny):
    first = EventData(
        tiny.acquired_day[:5], tiny.visit_user[tiny.visit_user < 5], tiny.visit_day[tiny.visit_user < 5], 20
    )
    assert share(classic_retention(first, 7)) == pytest.approx(2 / 5)
    assert share(classic_retention(first, 1)) == pytest.approx(1 / 5)
    assert share(rolling_retention(first, 7)) == pytest.approx(3 / 5)  # users 0, 1 and 3 (day 14)
    assert share(bracket_retention(first, 1, 7)) == pytest.approx(3 / 5)  # 0 (1, 7), 1 (7), 2 (2)
    assert share(bracket_retention(first, 8, 14)) == pytest.approx(2 / 5)  # 1 (8), 3 (14)


def test_rolling_curve_known_answer(tiny):
    """Users 0-4 are observed for N < 20, users 5-6 for N < 17; last tenures 7, 8, 2, 14, 0, 7, 0."""
    curve, users = rolling_curve(tiny, 19)
    assert users.tolist() == [7] * 17 + [5] * 3
    # R_N = #(last tenure >= N) / users[N]: 5 users past N = 0 (u4, u6 never came back), 4 past N = 2 (u2),
    # 2 past N = 7 (u0, u5), 1 past N = 8 (u1), none past N = 14 (u3)
    expected = [1.0, 5 / 7, 5 / 7] + [4 / 7] * 5 + [2 / 7] + [1 / 7] * 6 + [0.0] * 5
    assert curve.tolist() == expected


@pytest.mark.parametrize(("users", "horizon"), [(600, 40), (1500, 100), (60, 3), (20, 1)])
def test_rolling_curve_equals_rolling_retention_at_every_n(users, horizon):
    """Each R_N of the one-pass curve is the pooled rolling retention computed alone (N past the horizon: no users)."""
    data = _random_events(np.random.default_rng(users + 1), users, horizon, False)
    max_n = horizon + 2
    curve, observed = rolling_curve(data, max_n)
    for n in range(max_n + 1):
        alone = rolling_retention(data, n)
        assert observed[n] == alone["users"].iloc[0]
        np.testing.assert_array_equal(curve[n], alone["share"].iloc[0])  # NaN where no user is observed
    assert observed[horizon:].tolist() == [0] * 3


def test_rolling_curve_with_max_n_inside_the_horizon(tiny):
    """Tenures past max_n count as retained at every N up to it (the run's case: max_n = min(90, H - 1))."""
    curve, users = rolling_curve(tiny, 5)
    assert users.tolist() == [7] * 6
    assert curve.tolist() == [1.0, 5 / 7, 5 / 7, 4 / 7, 4 / 7, 4 / 7]


def test_rolling_curve_with_one_user_observed_and_a_user_who_never_visited():
    """One user observed at N = 1 ... 4 (user 1 came on the last day); an acquired user without visits retains at no N."""
    one = EventData(np.array([0, 4]), np.array([0, 0, 1]), np.array([0, 4, 4]), 5)
    curve, users = rolling_curve(one, 4)
    assert users.tolist() == [2, 1, 1, 1, 1]
    assert curve.tolist() == [1.0] * 5  # user 0's last tenure 4 is the last day observed
    silent = EventData(np.array([0, 0]), np.array([0]), np.array([0]), 5)
    curve, users = rolling_curve(silent, 2)
    assert users.tolist() == [2, 2, 2] and curve.tolist() == [0.5, 0.0, 0.0]
    assert curve[0] == share(rolling_retention(silent, 0))


def test_event_data_counts_active_users_by_cohort_and_tenure_period(tiny):
    """Day periods k < 7: cohort 0 (users 0-4) all at tenure 0, user 0 at 1, user 2 at 2; cohort 3 (users 5, 6).

    Tenure 7 (users 0, 1, 5) is outside: nothing of it lands in another cohort's row or column.
    """
    active = tiny.period_active(1, 7, tiny.acquired_day, 20)
    assert active.shape == (20, 7)
    assert active[0].tolist() == [5, 1, 1, 0, 0, 0, 0]
    assert active[3].tolist() == [2, 1, 0, 0, 0, 0, 0]
    assert active.sum() == 5 + 1 + 1 + 2 + 1  # every other row empty


def test_day_triangle_columns_rows_and_unobserved_cells(tiny):
    """Columns d0 … d19 (or up to max_n), only cohorts with users, renumbered; a cell is NaN where the horizon ends first."""
    tri = cohort_triangle(tiny, "day")
    assert list(tri.columns) == ["cohort_day", "cohort_size"] + [f"d{i}" for i in range(20)]
    assert tri.index.tolist() == [0, 1] and tri.cohort_day.tolist() == [0, 3]
    assert tri.iloc[0]["d19"] == 0.0  # cohort 0, day 19: observed (the horizon's last day)
    cohort_3 = tri.iloc[1]
    assert cohort_3["d16"] == 0.0 and np.isnan(cohort_3[[f"d{i}" for i in range(17, 20)]].astype(float)).all()
    assert list(cohort_triangle(tiny, "day", max_n=10).columns)[2:] == [f"d{i}" for i in range(11)]
    weeks = ["cohort_week", "cohort_size", "w0", "w1", "w2"]  # 20 days: 3 weeks, whatever max_n allows beyond
    assert list(cohort_triangle(tiny, "week", max_n=12).columns) == weeks == list(cohort_triangle(tiny, "week").columns)


def test_a_cohort_or_acquisition_week_of_one_user_is_kept():
    """Users 0, 1 acquired on day 0, user 2 alone on day 8 (week 1); horizon 12."""
    data = EventData(np.array([0, 0, 8]), np.array([0, 1, 0, 2, 2]), np.array([0, 0, 3, 8, 9]), 12)
    tri = cohort_triangle(data, "day")
    assert tri.cohort_day.tolist() == [0, 8] and tri.cohort_size.tolist() == [2, 1]
    table = retention_table(data, days=(1,), brackets=())
    week_1 = table[(table.by == "cohort_week") & (table.group == "1") & (table.measure == "classic")]
    assert week_1[["users", "retained"]].to_numpy().tolist() == [[1, 1]]  # user 2 came back on day 9
    _curve, users = rolling_curve(data, 11)
    assert users.tolist() == [3] * 4 + [2] * 8  # user 2 is observed for N < 4


def test_eligibility_excludes_unobserved_users(tiny):
    # D17: only users acquired on day 0 are observed (0 + 17 < 20 but 3 + 17 = 20 is not)
    d17 = classic_retention(tiny, 17)
    assert d17["users"].iloc[0] == 5
    assert bracket_retention(tiny, 10, 19)["users"].iloc[0] == 5  # day 0 + 19 < 20
    assert bracket_retention(tiny, 10, 20)["users"].iloc[0] == 0


def test_by_group(tiny):
    by_channel = rolling_retention(tiny, 7, tiny.groups["channel"])
    ads = by_channel[by_channel.group == "ads"].iloc[0]
    organic = by_channel[by_channel.group == "organic"].iloc[0]
    assert (ads.users, ads.retained) == (3, 3)  # users 0, 1, 5 all active on day a+7 or later
    assert (organic.users, organic.retained) == (4, 1)  # users 2, 3, 4, 6: only 3 (day 14); user 7 never acquired


def test_retention_table_has_every_measure_and_grouping(tiny):
    table = retention_table(tiny, days=(1, 7), brackets=((1, 7),))
    assert set(table.by) == {"all", "channel", "cohort_week"}
    assert set(table.measure) == {"classic", "rolling", "bracket"}
    row = table[(table.by == "all") & (table.measure == "classic") & (table.day_n == 7)].iloc[0]
    assert row.retained == 3 and row.users == 7


def test_cohort_triangle_by_day_and_week(tiny):
    tri = cohort_triangle(tiny, "day", max_n=10)
    first = tri[tri.cohort_day == 0].iloc[0]
    assert (
        first.cohort_size == 5
        and first.d0 == 1.0
        and first.d7 == pytest.approx(2 / 5)
        and first.d1 == pytest.approx(1 / 5)
    )
    third = tri[tri.cohort_day == 3].iloc[0]
    assert third.d7 == pytest.approx(1 / 2)  # user 5 on day 10
    weeks = cohort_triangle(tiny, "week")
    w0 = weeks.iloc[0]
    assert w0.cohort_size == 7 and w0.w0 == 1.0
    assert w0.w1 == pytest.approx(3 / 7)  # tenure days 7-13: users 0, 1, 5 (day 10 = tenure 7)


def test_growth_accounting_known_answer(tiny):
    g = growth_accounting(tiny, "day").set_index("day")
    assert g.loc[0, ["active", "new", "retained", "resurrected", "churned"]].tolist() == [5, 5, 0, 0, 0]
    assert g.loc[1, ["active", "new", "retained", "resurrected", "churned"]].tolist() == [1, 0, 1, 0, 4]
    assert g.loc[2, ["active", "new", "retained", "resurrected", "churned"]].tolist() == [1, 0, 0, 1, 1]
    assert g.loc[3, ["active", "new", "retained", "resurrected", "churned"]].tolist() == [2, 2, 0, 0, 1]
    assert g.loc[7, ["active", "resurrected"]].tolist() == [2, 2]
    assert g.loc[8, ["active", "retained", "churned"]].tolist() == [1, 1, 1]
    assert g.loc[1, "quick_ratio"] == pytest.approx(0.0)
    assert check_growth_identity(g.reset_index())
    weekly = growth_accounting(tiny, "week")
    assert weekly.loc[0, "active"] == 7 and weekly.loc[1, "active"] == 3 and weekly.loc[1, "retained"] == 3
    assert check_growth_identity(weekly)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_growth_identity_and_dau_on_random_runs(small_preset, seed):
    model = UserLifecycleModel(small_preset("ecommerce", days=45, seed=seed))
    for _ in range(45):
        model.step()
    slots, days = model.events()
    acq = model.population.acquired_day.astype(np.int64)
    data = EventData(np.where(acq >= 0, acq, -1), slots, days, 45)
    daily = growth_accounting(data, "day")
    assert check_growth_identity(daily) and check_growth_identity(growth_accounting(data, "week"))
    assert np.array_equal(daily["active"].to_numpy(), model.log.columns["dau"])
    assert np.array_equal(daily["new"].to_numpy(), model.log.columns["new_users"])
    # the event data reproduces the model's own cohort matrix
    tri = cohort_triangle(data, "day")
    for _, row in tri.head(10).iterrows():
        a = int(row.cohort_day)
        assert row.d1 * row.cohort_size == pytest.approx(model.cohort_active[a, 1]) or np.isnan(row.d1)


def test_funnel_known_answer():
    from sim.analysis.analytics import funnel

    out = funnel(aware=200, acquired=50, retained=20, activated=5)
    assert (out["acquired_rate"], out["retained_rate"], out["activated_rate"]) == (0.25, 0.4, 0.25)
    assert np.isnan(funnel(0, 0, 0, 0)["acquired_rate"])


def test_bad_event_data_is_rejected():
    with pytest.raises(ValueError, match="before its user's acquisition day"):
        EventData(np.array([5]), np.array([0]), np.array([2]), 10)
    with pytest.raises(ValueError, match="more than one visit"):
        EventData(np.array([0]), np.array([0, 0]), np.array([1, 1]), 10)
    assert isinstance(retention_table(EventData(np.array([-1]), np.array([], int), np.array([], int), 5)), pd.DataFrame)


def _table_measure_by_measure(data, days, brackets):
    """The retention table built one measure and one grouping at a time, from the single-measure functions."""
    groupings = {"all": None, **(data.groups or {})}
    acq = data.acquired_day
    groupings["cohort_week"] = np.where(acq >= 0, acq // 7, -1)
    frames = []
    for by, group in groupings.items():
        block = []
        for n in days:
            block.append(classic_retention(data, n, group).assign(by=by, measure="classic", day_n=n, day_hi=n))
            block.append(rolling_retention(data, n, group).assign(by=by, measure="rolling", day_n=n, day_hi=n))
        for lo, hi in brackets:
            block.append(bracket_retention(data, lo, hi, group).assign(by=by, measure="bracket", day_n=lo, day_hi=hi))
        if by not in ("all", "cohort_week") and np.issubdtype(np.asarray(group).dtype, np.integer):
            for f in block:
                f["group"] = data.label(by, f["group"].astype(int).to_numpy())
        frames += block
    table = pd.concat(frames, ignore_index=True)
    table = table[((table["by"] != "cohort_week") | (table["group"] != "-1")) & (table["users"] > 0)]
    return table[["by", "group", "measure", "day_n", "day_hi", "users", "retained", "share"]].reset_index(drop=True)


def _random_events(rng, users, horizon, text_groups):
    acquired = np.where(rng.random(users) < 0.7, rng.integers(0, horizon, users), -1)
    pairs = set()
    for u in np.flatnonzero(acquired >= 0):
        days = np.r_[acquired[u], rng.integers(acquired[u], horizon, rng.integers(0, 6))]
        pairs |= {(int(d), int(u)) for d in days}
    day, user = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs), strict=True))
    segment = rng.choice(["habitual", "casual", "new"], users) if text_groups else rng.integers(0, 2, users)
    groups = {"channel": rng.integers(2, 6, users), "segment": segment}  # codes 2 … 5: 5 has no label
    return EventData(acquired, user, day, horizon, groups=groups, labels={"channel": ["a", "b", "c", "d", "e"]})


@pytest.mark.parametrize(
    ("users", "horizon", "text_groups"), [(600, 40, False), (1500, 100, True), (60, 3, False), (20, 1, True)]
)
def test_retention_table_equals_every_measure_computed_alone(users, horizon, text_groups):
    """The one-pass table has exactly the rows, values and types of the measures computed one by one."""
    data = _random_events(np.random.default_rng(users), users, horizon, text_groups)
    for days, brackets in (((1, 7, 14, 30, 60, 90), ((1, 7), (8, 14), (15, 30))), ((0, 2), ((0, 3), (2, 2)))):
        pd.testing.assert_frame_equal(
            retention_table(data, days, brackets), _table_measure_by_measure(data, days, brackets), check_exact=True
        )


def test_retention_table_with_many_groups_equals_every_measure_computed_alone():
    """Groupings whose combinations times the days outnumber the users (and JOINT_BINS_FLOOR) are counted one by one.

    4 channels x 3 segments x about 1,000 acquired users' own groups x 100 days is about
    1.2 million bins, more than 1,500 users and 2**16: the per-grouping count.
    """
    data = _random_events(np.random.default_rng(11), 1500, 100, True)
    data.groups["user"] = np.arange(1500)
    assert 4 * 3 * int((data.acquired_day >= 0).sum()) * 100 > max(1500, JOINT_BINS_FLOOR)
    days, brackets = (1, 7, 30), ((1, 7),)
    table = retention_table(data, days, brackets)
    pd.testing.assert_frame_equal(table, _table_measure_by_measure(data, days, brackets), check_exact=True)
    assert set(table["by"]) == {"all", "channel", "segment", "user", "cohort_week"}


def test_retention_table_refuses_a_reversed_bracket(tiny):
    with pytest.raises(ValueError, match=r"bracket \[7, 1\] is not allowed"):
        retention_table(tiny, days=(1,), brackets=((7, 1),))


@pytest.mark.parametrize("groups", [None, "one"])
def test_retention_table_with_no_or_one_grouping_equals_every_measure_computed_alone(groups):
    """'all' and the cohort weeks are counted from a grouping's groups when there is one, directly when not."""
    full = _random_events(np.random.default_rng(7), 900, 60, False)
    data = EventData(
        full.acquired_day,
        full.visit_user,
        full.visit_day,
        full.horizon,
        groups=None if groups is None else {"channel": full.groups["channel"]},
        labels=full.labels,
    )
    days, brackets = (1, 7, 30), ((1, 7), (8, 14))
    table = retention_table(data, days, brackets)
    pd.testing.assert_frame_equal(table, _table_measure_by_measure(data, days, brackets), check_exact=True)
    assert set(table["by"]) == ({"all", "cohort_week"} if groups is None else {"all", "channel", "cohort_week"})
