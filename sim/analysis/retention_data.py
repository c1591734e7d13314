"""Reading an analyst's retention data: cohort retention tables and survival tables.

Two CSV formats (examples in ``experiments/calibration/``):

* **cohort retention table** (classic retention, apps and games) — columns
  ``cohort`` (any label), ``day`` (days since acquisition, integer >= 0),
  ``cohort_size`` (users acquired, integer > 0, the same on every row of a
  cohort) and ``active`` (users of the cohort active on that day, 0 …
  cohort_size);
* **survival table** (contractual products, subscriptions) — columns ``period``
  (integer >= 0, consecutive from 0) and ``survival`` (share of the cohort still
  subscribed at the start of the period, 1 at period 0, never rising); optional
  ``cohort_size`` (for standard errors).

Any problem stops with one :class:`DataError` naming the file, the row (the
CSV line number, header = line 1), the column and what is wrong; nothing is
written.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.base.errors import OpsimError

__all__ = ["CohortTable", "DataError", "SurvivalTable", "read_new_users_csv", "read_retention_csv"]

COHORT_COLUMNS = ("cohort", "day", "cohort_size", "active")
SURVIVAL_COLUMNS = ("period", "survival")


class DataError(OpsimError, ValueError):
    """An input data file is malformed: names the file, row and column."""

    def __init__(self, path: str | Path, message: str, *, row: int | None = None, column: str | None = None) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        self.path, self.row, self.column = str(path), row, column
        super().__init__(f"{where}: {message}")


@dataclass
class CohortTable:
    """A validated cohort retention table (long format)."""

    path: str
    frame: pd.DataFrame

    def pooled_retention(self, max_day: int | None = None) -> pd.DataFrame:
        """Classic retention D_N pooled over cohorts: Σ active / Σ cohort_size per day N >= 1.

        Returns:
            Columns ``day``, ``users`` (cohort users observed at N), ``active``,
            ``retention`` and ``se`` (binomial standard error).

        """
        f = self.frame[self.frame["day"] >= 1]
        if max_day is not None:
            f = f[f["day"] <= max_day]
        g = f.groupby("day", sort=True).agg(users=("cohort_size", "sum"), active=("active", "sum")).reset_index()
        g["retention"] = g["active"] / g["users"]
        g["se"] = np.sqrt(g["retention"] * (1 - g["retention"]) / g["users"])
        return g


@dataclass
class SurvivalTable:
    """A validated survival table."""

    path: str
    period: np.ndarray
    survival: np.ndarray
    cohort_size: int | None


def _numbers(path: Path, frame: pd.DataFrame, column: str, *, integer: bool) -> np.ndarray:
    values = []
    for i, raw in enumerate(frame[column].tolist()):
        row = i + 2
        try:
            x = float(str(raw).strip())
        except ValueError:
            raise DataError(path, f"{raw!r} is not a number", row=row, column=column) from None
        if not math.isfinite(x):
            raise DataError(path, f"{raw!r} is not a finite number", row=row, column=column)
        if integer and not x.is_integer():
            raise DataError(path, f"{raw!r} is not a whole number", row=row, column=column)
        values.append(x)
    return np.array(values, dtype=np.int64 if integer else np.float64)


def _require_columns(path: Path, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            path, f"missing column(s) {missing}; the file has {list(frame.columns)}, expected {list(columns)}"
        )


def _read_cohorts(path: Path, frame: pd.DataFrame) -> CohortTable:
    _require_columns(path, frame, COHORT_COLUMNS)
    day = _numbers(path, frame, "day", integer=True)
    size = _numbers(path, frame, "cohort_size", integer=True)
    active = _numbers(path, frame, "active", integer=True)
    cohort = frame["cohort"].astype(str).str.strip().to_numpy()
    for i in range(len(frame)):
        row = i + 2
        if day[i] < 0:
            raise DataError(path, f"day {day[i]} is negative", row=row, column="day")
        if size[i] <= 0:
            raise DataError(path, f"cohort_size {size[i]} must be > 0", row=row, column="cohort_size")
        if not 0 <= active[i] <= size[i]:
            raise DataError(
                path,
                f"active {active[i]} is outside 0 … cohort_size {size[i]} (share outside [0, 1])",
                row=row,
                column="active",
            )
    seen: dict[tuple[str, int], int] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for i in range(len(frame)):
        row, key = i + 2, (cohort[i], int(day[i]))
        if key in seen:
            raise DataError(
                path, f"duplicated row for cohort {key[0]!r}, day {key[1]} (first at row {seen[key]})", row=row
            )
        seen[key] = row
        first = sizes.setdefault(cohort[i], (int(size[i]), row))
        if first[0] != size[i]:
            raise DataError(
                path,
                f"cohort {cohort[i]!r} has cohort_size {size[i]} here but {first[0]} at row {first[1]}: a cohort has one size",
                row=row,
                column="cohort_size",
            )
    clean = pd.DataFrame({"cohort": cohort, "day": day, "cohort_size": size, "active": active})
    if not (clean["day"] >= 1).any():
        raise DataError(path, "no row with day >= 1: nothing to calibrate against")
    return CohortTable(str(path), clean.sort_values(["cohort", "day"]).reset_index(drop=True))


def _read_survival(path: Path, frame: pd.DataFrame) -> SurvivalTable:
    _require_columns(path, frame, SURVIVAL_COLUMNS)
    period = _numbers(path, frame, "period", integer=True)
    share = _numbers(path, frame, "survival", integer=False)
    order = np.argsort(period, kind="stable")
    for i in range(len(frame)):
        row = i + 2
        if not 0.0 <= share[i] <= 1.0:
            raise DataError(path, f"survival {share[i]} is outside [0, 1]", row=row, column="survival")
    for a, b in itertools.pairwise(order):
        if period[a] == period[b]:
            raise DataError(path, f"duplicated period {period[b]} (also at row {a + 2})", row=b + 2, column="period")
        if share[b] > share[a]:
            raise DataError(
                path,
                f"survival goes up from {share[a]} (period {period[a]}) to {share[b]}: shares never rise",
                row=b + 2,
                column="survival",
            )
    p_sorted = period[order]
    if p_sorted[0] != 0 or not np.array_equal(p_sorted, np.arange(len(p_sorted))):
        raise DataError(path, f"periods must be 0, 1, 2, … without gaps; got {p_sorted.tolist()}", column="period")
    if share[order][0] != 1.0:
        raise DataError(
            path,
            f"survival at period 0 must be 1 (the whole cohort); got {share[order][0]}",
            row=order[0] + 2,
            column="survival",
        )
    size = None
    if "cohort_size" in frame.columns:
        sizes = _numbers(path, frame, "cohort_size", integer=True)
        if (sizes <= 0).any() or len(set(sizes.tolist())) != 1:
            bad = int(np.argmax((sizes <= 0) | (sizes != sizes[0])))
            raise DataError(
                path, "cohort_size must be one positive whole number on every row", row=bad + 2, column="cohort_size"
            )
        size = int(sizes[0])
    if len(p_sorted) < 3:
        raise DataError(path, "at least periods 0, 1 and 2 are needed to fit a model")
    return SurvivalTable(str(path), p_sorted, share[order], size)


def read_new_users_csv(path: str | Path) -> np.ndarray:
    """Daily new users: columns ``day`` (0, 1, 2, … without gaps) and ``new_users`` (>= 0).

    Returns:
        New users per day, day 0 first.

    Raises:
        DataError: Naming file, row and column of the first problem.

    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    _require_columns(path, frame, ("day", "new_users"))
    day = _numbers(path, frame, "day", integer=True)
    users = _numbers(path, frame, "new_users", integer=True)
    for i in range(len(frame)):
        if users[i] < 0:
            raise DataError(path, f"new_users {users[i]} is negative", row=i + 2, column="new_users")
    order = np.argsort(day, kind="stable")
    if not np.array_equal(day[order], np.arange(len(day))):
        dup = [int(d) for d in day if (day == d).sum() > 1]
        what = (
            f"duplicated day {dup[0]}"
            if dup
            else f"days must be 0, 1, 2, … without gaps; got {sorted(day.tolist())[:10]} …"
        )
        raise DataError(path, what, column="day")
    if len(day) < 7:
        raise DataError(path, "at least 7 days of new users are needed")
    return users[order].astype(float)


def read_retention_csv(path: str | Path) -> CohortTable | SurvivalTable:
    """Read and validate a cohort retention table or a survival table (chosen by its columns).

    Raises:
        DataError: Naming file, row and column of the first problem.

    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV file ({' '.join(str(exc).split())})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(path, "the file has a header but no rows")
    if "cohort" in frame.columns or "active" in frame.columns:
        return _read_cohorts(path, frame)
    if "period" in frame.columns or "survival" in frame.columns:
        return _read_survival(path, frame)
    raise DataError(
        path,
        f"unknown format: columns {list(frame.columns)}; expected {list(COHORT_COLUMNS)} or {list(SURVIVAL_COLUMNS)}",
    )
