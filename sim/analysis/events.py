"""Retention measures from event data, in the operations team's own terms.

Input is what any analytics tool has: a **user table** (acquisition day, −1 if
never acquired; optionally channel and segment labels) and **visit events**
(user, day), at most one per user and day, held in :class:`EventData`. A
simulation produces both (:meth:`sim.core.model.LifecycleModel.events`); so can a
hand-built table. A simulation run does not keep its events, though: it hands
each day's visitors to :class:`sim.analysis.visit_stats.VisitStats`, which keeps
per user only what these measures need (a few bits and the last visit day), so
the analytics' memory does not grow with the number of visits. Both follow
:class:`VisitRecord`, and every function here gives identical results on either.

Definitions, for a user acquired on day a and horizon H (days 0 … H − 1):

* **classic** D_N — active on day a + N exactly. Pooled over users with a + N < H.
* **rolling** (unbounded) R_N — active on day a + N *or later*: last visit ≥ a + N.
  Pooled over users with a + N < H.
* **bracket** B[lo, hi] — active at least once in days a + lo … a + hi. Pooled over
  users with a + hi < H.
* **cohort triangle** — classic D_N by acquisition day (or week: a // 7), N ≥ 0.

Growth accounting is in :mod:`sim.analysis.growth`, the funnel and the whole
per-run analysis in :mod:`sim.analysis.analytics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

__all__ = [
    "BRACKETS",
    "MEASURE_DAYS",
    "EventData",
    "VisitRecord",
    "bracket_retention",
    "classic_retention",
    "cohort_triangle",
    "retention_table",
    "rolling_curve",
    "rolling_retention",
    "unique_sorted",
]

#: Days N of the classic and rolling retention measures of every run (D1 … D90).
MEASURE_DAYS = (1, 7, 14, 30, 60, 90)
#: Day brackets [lo, hi] of bracket retention.
BRACKETS = ((1, 7), (8, 14), (15, 30))
#: Days per week, for weekly cohorts and periods.
WEEK_DAYS = 7
#: Fewest (group combination, acquisition day) bins :func:`retention_table` may count in one
#: pass over every grouping at once; it may always use as many bins as there are users.
JOINT_BINS_FLOOR = 1 << 16
#: Period index given to "no previous period" (any value that is never ``period − 1``).
_NO_PREVIOUS_PERIOD = -2


class VisitRecord(Protocol):
    """What the retention measures and growth accounting read: users, and per user what their visits were.

    Attributes:
        acquired_day: Per user, the acquisition day (−1: never acquired).
        horizon: Number of observed days H.
        groups: Optional per-user group codes or labels.

    """

    acquired_day: np.ndarray
    horizon: int
    groups: dict[str, np.ndarray] | None

    def last_tenure(self) -> np.ndarray:
        """Per user, tenure of the last visit (−1 if none)."""

    def classic_hits(self, n: int) -> np.ndarray:
        """Per user: active on exactly day a + N."""

    def bracket_hits(self, lo: int, hi: int) -> np.ndarray:
        """Per user: active at least once in days a + lo … a + hi."""

    def period_cells(self, step: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (user, k) with a visit in tenure period k < width (periods of ``step`` days)."""

    def period_active(self, step: int, width: int, cohort: np.ndarray, n_cohorts: int) -> np.ndarray:
        """Users active in tenure period k < width, by cohort code ``cohort[user]`` < n_cohorts: (n_cohorts, width)."""

    def period_counts(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per calendar period of ``step`` days: users active, new (acquired in it) and retained (active before)."""

    def label(self, name: str, codes: np.ndarray) -> list[str]:
        """Names for group codes."""


@dataclass
class EventData:
    """Users and their visits.

    Attributes:
        acquired_day: Per user, the acquisition day (−1: never acquired).
        visit_user: User index of each visit.
        visit_day: Day of each visit (one visit per user and day at most).
        horizon: Number of observed days H.
        groups: Optional per-user group codes or labels (``{"channel": ..., "segment": ...}``).
        labels: Optional names of integer group codes (``{"channel": ["organic", ...]}``).

    """

    acquired_day: np.ndarray
    visit_user: np.ndarray
    visit_day: np.ndarray
    horizon: int
    groups: dict[str, np.ndarray] | None = None
    labels: dict[str, list[str]] | None = None

    def __post_init__(self) -> None:
        self.acquired_day = np.asarray(self.acquired_day, dtype=np.int64)
        self.visit_user = np.asarray(self.visit_user, dtype=np.int64)
        self.visit_day = np.asarray(self.visit_day, dtype=np.int64)
        acq = self.acquired_day[self.visit_user]
        if (acq < 0).any() or (self.visit_day < acq).any():
            raise ValueError("a visit before its user's acquisition day (or by a user never acquired)")
        key = self.visit_day * (self.acquired_day.size + 1) + self.visit_user
        if key.size > 1 and not (np.diff(key) > 0).all():  # sorted by day then user already (simulator output)
            key = np.sort(key)
            if (np.diff(key) == 0).any():
                raise ValueError("more than one visit for a user on one day")

    @cached_property
    def tenure(self) -> np.ndarray:
        """Days since acquisition of each visit."""
        return self.visit_day - self.acquired_day[self.visit_user]

    @cached_property
    def _last_tenure(self) -> np.ndarray:
        last = np.full(self.acquired_day.size, -1, dtype=np.int64)
        order = np.argsort(self.visit_day, kind="stable")  # later visits overwrite earlier ones
        last[self.visit_user[order]] = self.tenure[order]
        return last

    def last_tenure(self) -> np.ndarray:
        """Per user, tenure of the last visit (−1 if none)."""
        return self._last_tenure

    def label(self, name: str, codes: np.ndarray) -> list[str]:
        """Names for group codes (the codes themselves when no labels are known)."""
        return group_labels(self.labels, name, codes)

    def classic_hits(self, n: int) -> np.ndarray:
        """Per user: active on exactly day a + N."""
        hit = np.zeros(self.acquired_day.size, dtype=bool)
        hit[self.visit_user[self.tenure == n]] = True
        return hit

    def bracket_hits(self, lo: int, hi: int) -> np.ndarray:
        """Per user: active at least once in days a + lo … a + hi."""
        tenure = self.tenure
        hit = np.zeros(self.acquired_day.size, dtype=bool)
        hit[self.visit_user[(tenure >= lo) & (tenure <= hi)]] = True
        return hit

    def period_cells(self, step: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (user, k) with a visit in tenure period k < width (periods of ``step`` days)."""
        k = self.tenure // step
        keep = k < width
        cell = unique_sorted(self.visit_user[keep] * width + k[keep])  # one count per user and period
        return cell // width, cell % width

    def period_active(self, step: int, width: int, cohort: np.ndarray, n_cohorts: int) -> np.ndarray:
        """Users active in tenure period k < width, by cohort code ``cohort[user]`` < n_cohorts: (n_cohorts, width)."""
        users, k = self.period_cells(step, width)
        return np.bincount(cohort[users] * width + k, minlength=n_cohorts * width).reshape(n_cohorts, width)

    def period_counts(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per calendar period of ``step`` days: users active, new and retained.

        *new*: acquired in the period and not active in the one before; *retained*:
        active in the period before too. Counted once per user and period.
        """
        n_periods = (self.horizon - 1) // step + 1
        p = self.visit_day // step
        key = unique_sorted(self.visit_user * n_periods + p)  # unique (user, period), sorted by user then period
        user, per = key // n_periods, key % n_periods
        same_user_before = np.r_[False, user[1:] == user[:-1]]
        prev = np.r_[_NO_PREVIOUS_PERIOD, per[:-1]]
        was_active = same_user_before & (prev == per - 1)
        is_new = (self.acquired_day[user] // step) == per
        active = np.bincount(per, minlength=n_periods)
        retained = np.bincount(per[was_active], minlength=n_periods)
        new = np.bincount(per[is_new & ~was_active], minlength=n_periods)
        return active, new, retained


def group_labels(labels: dict[str, list[str]] | None, name: str, codes: np.ndarray) -> list[str]:
    """Names for group codes (the codes themselves when no labels are known)."""
    names = (labels or {}).get(name)
    return [names[int(c)] if names is not None and 0 <= int(c) < len(names) else str(c) for c in codes]


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + compare: faster than numpy's hash-based unique here)."""
    s = np.sort(values, kind="stable")
    return s[np.r_[True, s[1:] != s[:-1]]] if s.size else s


def _pooled(hit: np.ndarray, eligible: np.ndarray, group: np.ndarray | None) -> pd.DataFrame:
    """Shares of ``hit`` among ``eligible`` users, overall and by group code."""
    if group is None:
        n, k = int(eligible.sum()), int((hit & eligible).sum())
        return pd.DataFrame({"group": ["all"], "users": [n], "retained": [k]})
    group = np.asarray(group)
    if np.issubdtype(group.dtype, np.integer):  # small integer codes: count directly
        low = int(group.min()) if group.size else 0
        codes = group - low
        present = np.bincount(codes, minlength=1) > 0
        labels = np.flatnonzero(present) + low
        n = np.bincount(codes[eligible], minlength=present.size)[present]
        k = np.bincount(codes[hit & eligible], minlength=present.size)[present]
        return pd.DataFrame({"group": labels.astype(str), "users": n, "retained": k})
    labels, codes = np.unique(group, return_inverse=True)
    n = np.bincount(codes[eligible], minlength=labels.size)
    k = np.bincount(codes[hit & eligible], minlength=labels.size)
    return pd.DataFrame({"group": labels.astype(str), "users": n, "retained": k})


def _share(frame: pd.DataFrame) -> pd.DataFrame:
    users = frame["users"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["share"] = np.where(users > 0, frame["retained"] / np.maximum(users, 1), np.nan)
    return frame


def classic_retention(data: VisitRecord, n: int, group: np.ndarray | None = None) -> pd.DataFrame:
    """D_N: share of users active on exactly day a + N (pooled, optionally by group)."""
    acq = data.acquired_day
    eligible = (acq >= 0) & (acq + n < data.horizon)
    return _share(_pooled(data.classic_hits(n), eligible, group))


def rolling_retention(data: VisitRecord, n: int, group: np.ndarray | None = None) -> pd.DataFrame:
    """R_N: share of users active on day a + N or later."""
    acq = data.acquired_day
    eligible = (acq >= 0) & (acq + n < data.horizon)
    return _share(_pooled(data.last_tenure() >= n, eligible, group))


def bracket_retention(data: VisitRecord, lo: int, hi: int, group: np.ndarray | None = None) -> pd.DataFrame:
    """B[lo, hi]: share of users active at least once in days a + lo … a + hi."""
    if not 0 <= lo <= hi:
        raise ValueError(f"bracket [{lo}, {hi}] is not allowed: need 0 <= lo <= hi")
    acq = data.acquired_day
    eligible = (acq >= 0) & (acq + hi < data.horizon)
    return _share(_pooled(data.bracket_hits(lo, hi), eligible, group))


def _group_codes(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``group`` (sorted) and each element's index among them."""
    group = np.asarray(group)
    if np.issubdtype(group.dtype, np.integer) and group.size:  # small integer codes: count directly
        low = int(group.min())
        shifted = (group - low).astype(np.int64)
        present = np.bincount(shifted) > 0
        index = np.cumsum(present) - 1
        return np.flatnonzero(present) + low, index[shifted]
    values, codes = np.unique(group, return_inverse=True)
    return values, codes.reshape(-1)


def _counts_by_day(
    codes: np.ndarray,
    n_groups: int,
    acquired: np.ndarray,
    horizon: int,
    measures: list[tuple[str, int, int, np.ndarray]],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Users ``size[g, a]`` and each measure's hits ``hits[g, a]`` by group code g and acquisition day a.

    Hits are counted as the sum of the 0/1 hit per user in each bin (``bincount`` with
    weights), which does not gather the hitting users' keys into a new array for each
    measure first. The float sums are whole numbers below 2**53, so exact.
    """
    key = codes * horizon + acquired
    bins = n_groups * horizon
    size = np.bincount(key, minlength=bins).reshape(n_groups, horizon)
    return size, [
        np.bincount(key, weights=hit, minlength=bins).astype(np.int64).reshape(n_groups, horizon)
        for _m, _lo, _hi, hit in measures
    ]


def _counts_by_grouping(
    groupings: list[tuple[str, list[str], np.ndarray]],
    acquired: np.ndarray,
    horizon: int,
    measures: list[tuple[str, int, int, np.ndarray]],
) -> tuple[list[tuple[str, list[str], np.ndarray, list[np.ndarray]]], np.ndarray, list[np.ndarray]]:
    """Each grouping's ``(by, names, size, hits)`` (:func:`_counts_by_day`), and ``size`` and ``hits`` of all users.

    Where the combinations of every grouping's groups times the days are few (at most
    the users, or :data:`JOINT_BINS_FLOOR`; always with no grouping), the users are
    counted once by combination and each grouping's counts are sums over the others'
    groups (whole numbers: the same counts); else once per grouping. "All" is the sum
    of any one grouping's groups.
    """
    shape = tuple(len(names) for _by, names, _codes in groupings)
    combinations = int(np.prod(shape, dtype=np.int64))
    if not groupings or combinations * horizon <= max(acquired.size, JOINT_BINS_FLOOR):
        joint = np.ravel_multi_index([codes for *_n, codes in groupings], shape) if groupings else None
        size, hits = _counts_by_day(
            np.zeros(acquired.size, dtype=np.int64) if joint is None else joint,
            combinations,
            acquired,
            horizon,
            measures,
        )
        axes = range(len(shape))

        def marginal(counts: np.ndarray, keep: int) -> np.ndarray:
            return counts.reshape(*shape, horizon).sum(axis=tuple(i for i in axes if i != keep))

        counted = [
            (by, names, marginal(size, i), [marginal(h, i) for h in hits])
            for i, (by, names, _codes) in enumerate(groupings)
        ]
        return counted, size.sum(axis=0, keepdims=True), [h.sum(axis=0, keepdims=True) for h in hits]
    counted = [
        (by, names, *_counts_by_day(codes, len(names), acquired, horizon, measures)) for by, names, codes in groupings
    ]
    return counted, counted[0][2].sum(axis=0, keepdims=True), [h.sum(axis=0, keepdims=True) for h in counted[0][3]]


def retention_table(
    data: VisitRecord,
    days: Sequence[int] = MEASURE_DAYS,
    brackets: Sequence[tuple[int, int]] = BRACKETS,
) -> pd.DataFrame:
    """Classic, rolling and bracket retention, overall and by every group in ``data.groups``.

    The same numbers as :func:`classic_retention`, :func:`rolling_retention` and
    :func:`bracket_retention` for every measure and group (tested), counted in one
    pass (one per grouping where their combinations are many, :func:`_counts_by_grouping`):
    a user is eligible for a measure reaching day a + N when a + N < H, which depends
    on the acquisition day a alone, so each grouping's users and hits are counted per
    (group g, acquisition day a) once (``all`` as the sum of one grouping's groups,
    ``cohort_week`` as the sum of its days of ``all``), and

        users[g, m] = Σ_{a < H − N_m} size[g, a],    retained[g, m] = Σ_{a < H − N_m} hits_m[g, a].

    Returns:
        Long table: ``by`` (all, channel, segment, cohort_week), ``group``, ``measure``,
        ``day_n`` (for brackets: lo), ``day_hi``, ``users``, ``retained``, ``share``.

    """
    horizon = data.horizon
    acq = np.asarray(data.acquired_day)
    mine = np.flatnonzero(acq >= 0)
    a = acq[mine].astype(np.int64)
    last = np.asarray(data.last_tenure())[mine]
    # (measure, N, N_hi, hit per acquired user); the measure reaches day a + N_hi
    measures: list[tuple[str, int, int, np.ndarray]] = []
    for n in days:
        measures.append(("classic", n, n, np.asarray(data.classic_hits(n))[mine]))
        measures.append(("rolling", n, n, last >= n))
    for lo, hi in brackets:
        if not 0 <= lo <= hi:
            raise ValueError(f"bracket [{lo}, {hi}] is not allowed: need 0 <= lo <= hi")
        measures.append(("bracket", lo, hi, np.asarray(data.bracket_hits(lo, hi))[mine]))
    # per grouping: group names, users size[g, a] and each measure's hits[g, a] by acquisition day a
    groupings = []
    for by, group in (data.groups or {}).items():
        values, codes = _group_codes(np.asarray(group)[mine])
        integer = np.issubdtype(values.dtype, np.integer)
        names = data.label(by, values) if integer else [str(v) for v in values.astype(str)]
        groupings.append((by, names, codes))
    counted, size_all, hits_all = _counts_by_grouping(groupings, a, horizon, measures)
    counted.insert(0, ("all", ["all"], size_all, hits_all))
    # acquisition weeks group acquisition days: a week's counts are its days' counts of "all"
    weeks = np.flatnonzero(np.bincount(a // WEEK_DAYS))
    day = np.arange(horizon)
    in_week = np.searchsorted(weeks, day // WEEK_DAYS)
    present = np.isin(day // WEEK_DAYS, weeks)

    def by_week(per_day: np.ndarray) -> np.ndarray:
        out = np.zeros((weeks.size, horizon), dtype=per_day.dtype)
        out[in_week[present], day[present]] = per_day[0, present]
        return out

    counted.append(("cohort_week", [str(w) for w in weeks], by_week(size_all), [by_week(h) for h in hits_all]))
    columns: dict[str, list] = {k: [] for k in ("by", "group", "measure", "day_n", "day_hi", "users", "retained")}
    for by, names, size_by_day, hits_by_day in counted:
        size = size_by_day.cumsum(axis=1)
        for (measure, lo, hi, _hit), hits in zip(measures, hits_by_day, strict=True):
            observed = horizon - hi  # cohorts a < H − N_hi are observed for the measure
            if observed <= 0:
                continue
            users = size[:, observed - 1]
            retained = hits[:, :observed].sum(axis=1)
            keep = users > 0
            count = int(keep.sum())
            columns["by"] += [by] * count
            columns["group"] += [name for name, k in zip(names, keep, strict=True) if k]
            columns["measure"] += [measure] * count
            columns["day_n"] += [lo] * count
            columns["day_hi"] += [hi] * count
            columns["users"].append(users[keep])
            columns["retained"].append(retained[keep])
    users = np.concatenate([np.zeros(0, dtype=np.int64), *columns["users"]]).astype(np.int64)
    retained = np.concatenate([np.zeros(0, dtype=np.int64), *columns["retained"]]).astype(np.int64)
    table = pd.DataFrame(
        {
            "by": pd.Series(columns["by"], dtype=str),
            "group": pd.Series(columns["group"], dtype=str),
            "measure": pd.Series(columns["measure"], dtype=str),
            "day_n": np.asarray(columns["day_n"], dtype=np.int64),
            "day_hi": np.asarray(columns["day_hi"], dtype=np.int64),
            "users": users,
            "retained": retained,
        }
    )
    return _share(table)


def cohort_triangle(data: VisitRecord, period: str = "day", max_n: int | None = None) -> pd.DataFrame:
    """Classic retention by acquisition cohort (rows) and periods since acquisition (columns).

    With ``period="week"``, cohorts are acquisition weeks and a user counts as active
    in tenure week k if active on any day of it (a bracket per week). Unobserved cells are NaN.
    """
    if period not in ("day", "week"):
        raise ValueError(f"period={period!r} is not allowed: 'day' or 'week'")
    step = 1 if period == "day" else WEEK_DAYS
    acq = data.acquired_day
    users = np.flatnonzero(acq >= 0)
    cohort = acq // step
    n_cohorts = (data.horizon - 1) // step + 1
    width = n_cohorts if max_n is None else min(max_n + 1, n_cohorts)
    size = np.bincount(cohort[users], minlength=n_cohorts)
    active = data.period_active(step, width, cohort, n_cohorts)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = active / size[:, None]
    # Cell (c, k) is observed when its last user's period k ends inside the horizon:
    # (c·step + step − 1) + k·step + step − 1 < H.
    c, k_ = np.arange(n_cohorts)[:, None], np.arange(width)[None, :]
    observed = (c + k_ + 2) * step - 2 < data.horizon
    share[~observed | (size[:, None] == 0)] = np.nan
    frame = pd.DataFrame(share, columns=[f"{period[0]}{i}" for i in range(width)])
    frame.insert(0, "cohort_size", size)
    frame.insert(0, f"cohort_{period}", np.arange(n_cohorts))
    return frame[frame["cohort_size"] > 0].reset_index(drop=True)


def rolling_curve(data: VisitRecord, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled rolling retention R_0 … R_max_n and the users observed at each N.

    A user acquired on day a is observed for N < w = H − a and retained at every
    N ≤ c = min(last tenure, w − 1), so with one count per value of each (w capped at
    max_n + 1, c clipped to −1 … max_n)

        users[N] = #(w > N),    retained[N] = #(c ≥ N),    R_N = retained[N] / users[N],

    both tail sums of those counts: one pass over the users each, no sort.
    """
    acq = data.acquired_day
    mine = acq >= 0
    window = data.horizon - acq[mine]  # user observed for N < window (window >= 1)
    last = data.last_tenure()[mine]
    users = _at_least(np.minimum(window, max_n + 1), max_n + 1)[1:]  # #(window >= N + 1)
    cap = np.minimum(last, window - 1)  # retained at every N <= cap
    hit = _at_least(np.clip(cap, -1, max_n) + 1, max_n + 1)[1:]  # #(cap + 1 >= N + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(users > 0, hit / np.maximum(users, 1), np.nan), users


def _at_least(values: np.ndarray, top: int) -> np.ndarray:
    """``out[v] = #(values >= v)`` for v = 0 … ``top`` (``values`` whole numbers in 0 … ``top``)."""
    counts = np.bincount(values, minlength=top + 1)
    return counts[::-1].cumsum()[::-1]
