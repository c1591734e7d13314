"""Visit analytics in memory that does not grow with the visits: what the per-run measures need, kept per user.

A run of N users over H days makes up to N · H visit events; keeping them (as
``(user, day)`` pairs) costs memory in proportion to every visit ever made. The
per-run analysis (:func:`sim.analysis.analytics.analyze`) needs much less, and
:class:`VisitStats` keeps just that while the run goes, fed one day at a time
(:meth:`VisitStats.observe`, the visitors of day t with their acquisition day a):

* per user, the **last visit day** (rolling retention R_N: tenure of the last visit ≥ N);
* per user, one **bit per measure day** N of :data:`~sim.analysis.events.MEASURE_DAYS`
  (classic D_N: a visit at tenure t − a = N) and per bracket [lo, hi] of
  :data:`~sim.analysis.events.BRACKETS` (a visit with lo ≤ t − a ≤ hi);
* per user, one **bit per tenure week** k ≤ :data:`TRIANGLE_WEEKS` (the weekly
  cohort triangle: a visit with ⌊(t − a)/7⌋ = k);
* per day and per week w = ⌊t/7⌋, the **growth counts**: users active; *retained*
  (their previous visit was in the period before); *new* (acquired in the period,
  not active in the one before). A user counts once per period: at the first
  visit in it, which is when the previous visit day is in an earlier period.

That is 6 bytes per user (:data:`BYTES_PER_USER`) and a few counters per day.
:meth:`VisitStats.finish` adds the user table (acquisition day, channel, segment)
and returns a :class:`VisitSummary`, which answers the same questions as
:class:`~sim.analysis.events.EventData` built from the full event list
(:class:`~sim.analysis.events.VisitRecord`), with identical results (tested),
for those measure days, brackets and weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis.events import BRACKETS, MEASURE_DAYS, WEEK_DAYS, group_labels

__all__ = ["BYTES_PER_USER", "TRIANGLE_WEEKS", "PeriodTally", "VisitStats", "VisitSummary"]

#: Weeks of tenure of the weekly cohort triangle of each run (weeks 0 … 12).
TRIANGLE_WEEKS = 12
#: Per-user state: last visit day (int16), measure bits (uint16), tenure-week bits (uint16).
BYTES_PER_USER = 2 + 2 + 2
#: Tenure weeks whose bits :meth:`VisitSummary.period_active` counts in one pass, as one pattern
#: of so many bits (2**8 patterns a cohort).
PATTERN_BITS = 8
#: Last visit day of a user who has not visited.
NO_VISIT = -1
_BITS = 16
#: What :meth:`VisitStats.observe_part` returns: per tracked period length (1 and 7 days),
#: (step, period, users active, new, retained) among the users it was given.
PeriodTally = tuple[tuple[int, int, int, int, int], ...]


@dataclass
class VisitSummary:
    """The per-user and per-period statistics of a run's visits, with its user table.

    Follows :class:`sim.analysis.events.VisitRecord`. Attributes as in
    :class:`~sim.analysis.events.EventData`; the rest is :class:`VisitStats`'s state.
    """

    acquired_day: np.ndarray
    horizon: int
    groups: dict[str, np.ndarray] | None
    labels: dict[str, list[str]] | None
    last_day: np.ndarray
    hits: np.ndarray
    weeks: np.ndarray
    days: tuple[int, ...]
    brackets: tuple[tuple[int, int], ...]
    triangle_weeks: int
    counts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]

    def __post_init__(self) -> None:
        self._last_tenure: np.ndarray | None = None

    def last_tenure(self) -> np.ndarray:
        """Per user, tenure of the last visit (−1 if none); computed once."""
        if self._last_tenure is None:
            last = self.last_day.astype(np.int32)
            self._last_tenure = np.where(last >= 0, last - self.acquired_day, np.int32(-1))
        return self._last_tenure

    def _bit(self, index: int) -> np.ndarray:
        return ((self.hits >> np.uint16(index)) & np.uint16(1)).astype(bool)

    def classic_hits(self, n: int) -> np.ndarray:
        """Per user: active on exactly day a + N (N one of the tracked measure days)."""
        if n not in self.days:
            raise ValueError(f"classic D{n} was not tracked: the run tracks D_N for N in {list(self.days)}")
        return self._bit(self.days.index(n))

    def bracket_hits(self, lo: int, hi: int) -> np.ndarray:
        """Per user: active at least once in days a + lo … a + hi (a tracked bracket)."""
        if (lo, hi) not in self.brackets:
            raise ValueError(f"bracket [{lo}, {hi}] was not tracked: the run tracks {list(self.brackets)}")
        return self._bit(len(self.days) + self.brackets.index((lo, hi)))

    def _check_weeks(self, step: int, width: int) -> None:
        if step != WEEK_DAYS or width > self.triangle_weeks + 1:
            raise ValueError(
                f"tenure periods of {step} days up to {width - 1} were not tracked: "
                f"the run tracks weeks 0 … {self.triangle_weeks}"
            )

    def _visited(self) -> tuple[np.ndarray, np.ndarray]:
        """The users with any tracked tenure week, and their week bits: the one pass over every user."""
        visited = np.flatnonzero(self.weeks != 0)  # on a bool mask: several times faster than on the bits
        return visited, self.weeks[visited]

    def period_cells(self, step: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (user, week k) with a visit in tenure week k < width (weeks only)."""
        self._check_weeks(step, width)
        visited, bits = self._visited()
        users, weeks = [], []
        for k in range(width):
            mine = visited[((bits >> np.uint16(k)) & np.uint16(1)).astype(bool)]
            users.append(mine)
            weeks.append(np.full(mine.size, k, dtype=np.int64))
        return np.concatenate(users), np.concatenate(weeks)

    def period_active(self, step: int, width: int, cohort: np.ndarray, n_cohorts: int) -> np.ndarray:
        """Users active in tenure week k < width, by cohort code ``cohort[user]`` < n_cohorts: (n_cohorts, width).

        The users' week bits are counted as patterns, :data:`PATTERN_BITS` weeks at a
        time: with u[c, p] the users of cohort c whose bits for weeks k₀ … k₀ + g − 1
        read p (one ``bincount`` over the users who visited),

            active[c, k₀ + j] = Σ_p u[c, p] · bit_j(p),

        the same counts as one per (user, week) cell of :meth:`period_cells`, without
        gathering each week's users.
        """
        self._check_weeks(step, width)
        visited, bits = self._visited()
        code = np.asarray(cohort)[visited].astype(np.int64)
        active = np.empty((n_cohorts, width), dtype=np.int64)
        for first in range(0, width, PATTERN_BITS):
            g = min(PATTERN_BITS, width - first)
            pattern = (bits >> np.uint16(first)) & np.uint16((1 << g) - 1)
            users = np.bincount((code << g) | pattern, minlength=n_cohorts << g).reshape(n_cohorts, 1 << g)
            bit = (np.arange(1 << g)[:, None] >> np.arange(g)[None, :]) & 1  # bit_j(p), (patterns, g)
            active[:, first : first + g] = users @ bit
        return active

    def period_counts(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per calendar day (step 1) or week (step 7): users active, new and retained."""
        if step not in self.counts:
            raise ValueError(f"periods of {step} days were not tracked: days (1) and weeks ({WEEK_DAYS})")
        return self.counts[step]

    def label(self, name: str, codes: np.ndarray) -> list[str]:
        """Names for group codes (the codes themselves when no labels are known)."""
        return group_labels(self.labels, name, codes)


class VisitStats:
    """Accumulates what the per-run analysis needs from each day's visitors (see the module docstring).

    Args:
        users: N, the users (simulated slots).
        horizon: H, the days of the run.
        days: Measure days N of classic retention.
        brackets: Day brackets [lo, hi] of bracket retention.
        triangle_weeks: Last tenure week of the weekly cohort triangle.

    """

    def __init__(
        self,
        users: int,
        horizon: int,
        *,
        days: Sequence[int] = MEASURE_DAYS,
        brackets: Sequence[tuple[int, int]] = BRACKETS,
        triangle_weeks: int = TRIANGLE_WEEKS,
    ) -> None:
        if len(days) + len(brackets) > _BITS or triangle_weeks + 1 > _BITS:
            raise ValueError(f"at most {_BITS} measure days and brackets, and {_BITS} tenure weeks")
        self.users = users
        self.horizon = horizon
        self.days = tuple(days)
        self.brackets = tuple(brackets)
        self.triangle_weeks = triangle_weeks
        self.last_day = np.full(users, NO_VISIT, dtype=np.int16)
        self.hits = np.zeros(users, dtype=np.uint16)
        self.weeks = np.zeros(users, dtype=np.uint16)
        n_weeks = (horizon - 1) // WEEK_DAYS + 1
        self.counts = {
            step: tuple(np.zeros(n, dtype=np.int64) for _ in range(3))
            for step, n in ((1, horizon), (WEEK_DAYS, n_weeks))
        }

    def observe(self, day: int, users: np.ndarray, acquired_day: np.ndarray) -> None:
        """Take in day ``day``'s visitors: distinct user indices and their acquisition days (≤ ``day``)."""
        self.add(self.observe_part(day, users, acquired_day))

    def observe_part(self, day: int, users: np.ndarray, acquired_day: np.ndarray) -> PeriodTally:
        """Take in some of day ``day``'s visitors; return their period counts for :meth:`add`.

        Only the per-user arrays (``last_day``, ``hits``, ``weeks``) change here, at
        ``users``; the counts per period are whole numbers returned to be added up, in
        any order. So the model calls it for each chunk of users, side by side in
        threads or worker processes (the per-user arrays shared with them), and adds the
        tallies of the day's chunks (:class:`sim.core.model.VisitObserver`).
        """
        if users.size == 0:
            return ()
        acq = acquired_day.astype(np.int64)
        tenure = day - acq
        prev = self.last_day[users].astype(np.int64)
        seen = prev >= 0
        tally = []
        for step in self.counts:
            period = day // step
            first = ~seen | (prev // step < period)  # the user's first visit in this period
            was_active = seen & (prev // step == period - 1)
            is_new = acq // step == period
            tally.append(
                (
                    step,
                    period,
                    int(np.count_nonzero(first)),
                    int(np.count_nonzero(first & is_new & ~was_active)),
                    int(np.count_nonzero(first & was_active)),
                )
            )
        bits = np.zeros(users.size, dtype=np.uint16)
        for i, n in enumerate(self.days):
            bits[tenure == n] |= np.uint16(1 << i)
        for j, (lo, hi) in enumerate(self.brackets):
            bits[(tenure >= lo) & (tenure <= hi)] |= np.uint16(1 << (len(self.days) + j))
        self.hits[users] |= bits
        week = tenure // WEEK_DAYS
        early = week <= self.triangle_weeks
        self.weeks[users[early]] |= np.left_shift(np.uint16(1), week[early].astype(np.uint16))
        self.last_day[users] = day
        return tuple(tally)

    def add(self, tally: PeriodTally) -> None:
        """Add the period counts of :meth:`observe_part` (active, new and retained users per day and week)."""
        for step, period, active, new, retained in tally:
            counts = self.counts[step]
            counts[0][period] += active
            counts[1][period] += new
            counts[2][period] += retained

    def finish(
        self,
        acquired_day: np.ndarray,
        groups: dict[str, np.ndarray] | None = None,
        labels: dict[str, list[str]] | None = None,
    ) -> VisitSummary:
        """The statistics with the user table at the end of the run (acquisition day, −1: never).

        Group codes are kept in their own (small) integer type: the per-user arrays of
        the measures stay a few bytes per user.
        """
        return VisitSummary(
            acquired_day=np.asarray(acquired_day, dtype=np.int32),  # compact: days fit, N can be large
            horizon=self.horizon,
            groups=groups,
            labels=labels,
            last_day=self.last_day,
            hits=self.hits,
            weeks=self.weeks,
            days=self.days,
            brackets=self.brackets,
            triangle_weeks=self.triangle_weeks,
            counts=self.counts,
        )
