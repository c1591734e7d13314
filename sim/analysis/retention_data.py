"""Reading an analyst's retention data: cohort retention tables and survival tables.

Three CSV layouts (examples in ``experiments/calibration/``), chosen by ``fmt``
(``opsim-calibrate --format``) or detected from the header:

* **long cohort table** (``long``) — one row per cohort and day: ``cohort``
  (any label; ISO dates give the cohort's weekday), ``day`` (days since
  acquisition, integer >= 0), ``cohort_size`` (users acquired, integer > 0, the
  same on every row of a cohort) and at least one of ``active`` (classic: users
  of the cohort active on exactly that day) and ``rolling`` (users active on that
  day or later, up to the cohort's last day in the table), each 0 … cohort_size;
* **wide cohort export** (``wide``), as Amplitude, Mixpanel or Firebase export
  it — one row per cohort: a cohort column (``date``, ``cohort``, ``start date``
  …, or the first column), a size column (``users``, ``cohort_size``, ``new
  users``, ``people``, ``installs``, ``count``, ``size``) and one column per day
  (``day 0``, ``Day 1``, ``D7``, ``day_30``, ``< 1 day`` is day 0). Cells hold counts,
  percentages (``12.5%``, or plain numbers with ``values="percent"``) or shares
  (0 … 1); an empty cell is a day not yet observed (the triangle's corner). The
  cells are classic retention unless ``measure="rolling"``. Percentages and
  shares become counts: round(share · cohort_size);
* **survival table** (``survival``; contractual products, subscriptions) —
  columns ``period`` (integer >= 0, consecutive from 0) and ``survival`` (share
  of the cohort still subscribed at the start of the period, 1 at period 0, never
  rising); optional ``cohort_size`` (for standard errors).

Any problem stops with one :class:`DataError` naming the file, the row (the
CSV line number, header = line 1), the column and what is wrong; nothing is
written.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sim.base.errors import OpsimError

__all__ = [
    "FORMATS",
    "MEASURES",
    "VALUE_KINDS",
    "CohortTable",
    "DataError",
    "SurvivalTable",
    "read_new_users_csv",
    "read_retention_csv",
    "table_layout",
]

COHORT_COLUMNS = ("cohort", "day", "cohort_size", "active")
SURVIVAL_COLUMNS = ("period", "survival")
#: Layouts of a retention file (``auto``: detected from the header).
FORMATS = ("auto", "long", "wide", "survival")
#: What the cells of a wide export count: classic (active on day N) or rolling (day N or later).
MEASURES = ("classic", "rolling")
#: How the cells of a wide export are written (``auto``: detected).
VALUE_KINDS = ("auto", "counts", "percent", "share")
#: Header names of the cohort and the size column of a wide export (lower case).
WIDE_COHORT_NAMES = ("cohort", "date", "start date", "start_date", "cohort date", "day", "week")
WIDE_SIZE_NAMES = (
    "users",
    "cohort_size",
    "cohort size",
    "size",
    "new users",
    "new_users",
    "people",
    "installs",
    "count",
)
#: A day column of a wide export: "day 3", "Day_3", "D3", "d 3", "3"; "< 1 day" is day 0.
DAY_COLUMN = re.compile(r"^\s*(?:day|d)?[\s_-]*(\d+)\s*$", re.IGNORECASE)
DAY_ZERO_COLUMN = re.compile(r"^\s*<\s*1\s*day\s*$", re.IGNORECASE)
#: Date formats of cohort labels that give each cohort its weekday (tried in order).
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y", "%b %d, %Y", "%d %b %Y", "%Y-%m-%d %H:%M:%S")
#: A share above this in a wide export cannot be a share (0 … 1), so the cells are counts or percentages.
SHARE_MAX = 1.0
PERCENT = 100.0


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


def cohort_weekdays(labels: list[str]) -> np.ndarray | None:
    """The weekday (0 = Monday) of each cohort label, if every label is a date in one of :data:`DATE_FORMATS`."""
    for fmt in DATE_FORMATS:
        try:
            dates = pd.to_datetime(pd.Series(labels), format=fmt)
        except (ValueError, TypeError):
            continue
        return dates.dt.day_of_week.to_numpy().astype(np.int64)
    return None


@dataclass
class CohortTable:
    """A validated cohort retention table (long format: one row per cohort and day).

    Attributes:
        path: The file it was read from.
        frame: Columns ``cohort``, ``day``, ``cohort_size`` and ``active`` (classic)
            and/or ``rolling`` (day N or later), one row per observed cell.

    """

    path: str
    frame: pd.DataFrame

    @cached_property
    def cohorts(self) -> list[str]:
        """Cohort labels, in the order of the table."""
        return list(dict.fromkeys(self.frame["cohort"].tolist()))

    @cached_property
    def sizes(self) -> np.ndarray:
        """Users acquired in each cohort."""
        first = self.frame.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
        return first.loc[self.cohorts].to_numpy().astype(np.int64)

    @cached_property
    def weekday(self) -> np.ndarray:
        """Weekday (0 = Monday) of each cohort's acquisition day; −1 where the labels are not dates."""
        days = cohort_weekdays(self.cohorts)
        return np.full(len(self.cohorts), -1, dtype=np.int64) if days is None else days

    @property
    def max_day(self) -> int:
        """The last day N in the table."""
        return int(self.frame["day"].max())

    def _matrix(self, column: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.cohorts)}
        out = np.zeros((len(self.cohorts), self.max_day + 1), dtype=np.int64)
        rows = self.frame["cohort"].map(index).to_numpy()
        out[rows, self.frame["day"].to_numpy()] = self.frame[column].to_numpy()
        return out

    @cached_property
    def observed(self) -> np.ndarray:
        """``observed[c, n]``: the table has cohort c's day n."""
        index = {c: i for i, c in enumerate(self.cohorts)}
        out = np.zeros((len(self.cohorts), self.max_day + 1), dtype=bool)
        out[self.frame["cohort"].map(index).to_numpy(), self.frame["day"].to_numpy()] = True
        return out

    @cached_property
    def active(self) -> np.ndarray | None:
        """``active[c, n]``: classic counts (0 where unobserved); None if the table has no classic column."""
        return self._matrix("active") if "active" in self.frame else None

    @cached_property
    def rolling(self) -> np.ndarray | None:
        """``rolling[c, n]``: users active on day n or later; None if the table has no rolling column."""
        return self._matrix("rolling") if "rolling" in self.frame else None

    @property
    def users(self) -> int:
        """Users in all cohorts."""
        return int(self.sizes.sum())

    def pooled_retention(self, max_day: int | None = None, measure: str = "classic") -> pd.DataFrame:
        """Retention D_N pooled over cohorts: Σ active / Σ cohort_size per day N >= 1.

        Returns:
            Columns ``day``, ``users`` (cohort users observed at N), ``active``,
            ``retention`` and ``se`` (binomial standard error).

        """
        column = "active" if measure == "classic" else "rolling"
        f = self.frame[self.frame["day"] >= 1]
        if max_day is not None:
            f = f[f["day"] <= max_day]
        g = f.groupby("day", sort=True).agg(users=("cohort_size", "sum"), active=(column, "sum")).reset_index()
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
    counts = [c for c in ("active", "rolling") if c in frame.columns]
    _require_columns(path, frame, ("cohort", "day", "cohort_size", *(counts or ["active"])))
    day = _numbers(path, frame, "day", integer=True)
    size = _numbers(path, frame, "cohort_size", integer=True)
    values = {c: _numbers(path, frame, c, integer=True) for c in counts}
    cohort = frame["cohort"].astype(str).str.strip().to_numpy()
    for i in range(len(frame)):
        row = i + 2
        if day[i] < 0:
            raise DataError(path, f"day {day[i]} is negative", row=row, column="day")
        if size[i] <= 0:
            raise DataError(path, f"cohort_size {size[i]} must be > 0", row=row, column="cohort_size")
        for c, v in values.items():
            if not 0 <= v[i] <= size[i]:
                raise DataError(
                    path,
                    f"{c} {v[i]} is outside 0 … cohort_size {size[i]} (share outside [0, 1])",
                    row=row,
                    column=c,
                )
    if "active" in values and "rolling" in values:
        bad = np.flatnonzero(values["rolling"] < values["active"])
        if bad.size:
            i = int(bad[0])
            raise DataError(
                path,
                f"rolling {values['rolling'][i]} is below active {values['active'][i]}: users active on day N "
                "are also active on day N or later",
                row=i + 2,
                column="rolling",
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
    clean = pd.DataFrame({"cohort": cohort, "day": day, "cohort_size": size, **values})
    if not (clean["day"] >= 1).any():
        raise DataError(path, "no row with day >= 1: nothing to calibrate against")
    return CohortTable(str(path), clean.sort_values(["cohort", "day"], kind="stable").reset_index(drop=True))


def _wide_day(column: str) -> int | None:
    if DAY_ZERO_COLUMN.match(column):
        return 0
    m = DAY_COLUMN.match(column)
    return int(m.group(1)) if m else None


def _cell(path: Path, raw: object, row: int, column: str) -> tuple[float, bool] | None:
    """A wide export's cell: (number, written with %) or None when empty."""
    text = str(raw).strip() if raw is not None and not (isinstance(raw, float) and math.isnan(raw)) else ""
    if text in ("", "-", "—", "nan", "NaN", "null"):
        return None
    percent = text.endswith("%")
    try:
        x = float(text.rstrip("%").replace(",", "").strip())
    except ValueError:
        raise DataError(path, f"{text!r} is not a number (or a percentage)", row=row, column=column) from None
    if not math.isfinite(x) or x < 0:
        raise DataError(path, f"{text!r} is not allowed: a finite number >= 0", row=row, column=column)
    return x, percent


def _read_wide(path: Path, frame: pd.DataFrame, values: str, measure: str) -> CohortTable:
    """A wide cohort export → the long table (see the module docstring)."""
    lower = {c.lower(): c for c in frame.columns}
    day_cols = {c: d for c in frame.columns if (d := _wide_day(c)) is not None and c.lower() not in WIDE_COHORT_NAMES}
    size_col = next((lower[n] for n in WIDE_SIZE_NAMES if n in lower), None)
    cohort_col = next((lower[n] for n in WIDE_COHORT_NAMES if n in lower and lower[n] not in day_cols), None)
    if cohort_col is None:
        cohort_col = frame.columns[0]
    if size_col is None or size_col == cohort_col:
        raise DataError(
            path,
            f"no cohort size column: expected one of {list(WIDE_SIZE_NAMES)}; the file has {list(frame.columns)}",
        )
    if not day_cols:
        raise DataError(path, f"no day columns ('day 0', 'Day 1', 'D7', …); the file has {list(frame.columns)}")
    days = sorted(day_cols.values())
    if len(set(days)) != len(days):
        dup = next(d for d in days if days.count(d) > 1)
        raise DataError(
            path, f"day {dup} has more than one column", column=next(c for c, d in day_cols.items() if d == dup)
        )
    for c in frame.columns:
        if c not in day_cols and c not in (size_col, cohort_col) and re.search(r"week|month", c, re.IGNORECASE):
            raise DataError(path, "weekly or monthly columns are not supported: export daily retention", column=c)
    sizes = _numbers(path, frame, size_col, integer=True)
    cells: list[tuple[int, int, float, bool, str]] = []  # (row index, day, value, percent sign, column)
    for i in range(len(frame)):
        if sizes[i] <= 0:
            raise DataError(path, f"cohort size {sizes[i]} must be > 0", row=i + 2, column=size_col)
        for column, d in day_cols.items():
            cell = _cell(path, frame[column].iloc[i], i + 2, column)
            if cell is not None:
                cells.append((i, d, cell[0], cell[1], column))
    if not cells:
        raise DataError(path, "every day cell is empty: nothing to calibrate against")
    kind = values
    if kind == "auto":
        if any(c[3] for c in cells):
            kind = "percent"
        elif all(c[2] <= SHARE_MAX for c in cells) and any(not float(c[2]).is_integer() for c in cells):
            kind = "share"
        elif all(float(c[2]).is_integer() for c in cells):
            kind = "counts"
        else:
            i, d, x, _, column = next(c for c in cells if not float(c[2]).is_integer())
            raise DataError(
                path,
                f"{x} is neither a count nor a share (0 … 1); say how the cells are written: --values percent",
                row=i + 2,
                column=column,
            )
    rows = []
    for i, d, x, _, column in cells:
        n = sizes[i]
        if kind == "counts":
            if not float(x).is_integer() or x > n:
                raise DataError(
                    path, f"{x:g} is not a count of users between 0 and the cohort size {n}", row=i + 2, column=column
                )
            count = int(x)
        else:
            share = x / PERCENT if kind == "percent" else x
            if share > 1.0:
                unit = "%" if kind == "percent" else ""
                raise DataError(path, f"{x:g}{unit} is above 100 % of the cohort", row=i + 2, column=column)
            count = round(share * n)
        rows.append((str(frame[cohort_col].iloc[i]).strip(), d, n, count))
    long = pd.DataFrame(rows, columns=["cohort", "day", "cohort_size", "active" if measure == "classic" else "rolling"])
    seen: dict[str, int] = {}
    for i, label in enumerate(frame[cohort_col].astype(str).str.strip()):
        if label in seen:
            raise DataError(path, f"cohort {label!r} also at row {seen[label]}", row=i + 2, column=cohort_col)
        seen[label] = i + 2
    if not (long["day"] >= 1).any():
        raise DataError(path, "no day >= 1 column with a value: nothing to calibrate against")
    return CohortTable(str(path), long.reset_index(drop=True))


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


def table_layout(columns: Iterable[str]) -> str | None:
    """``survival``, ``long`` or ``wide``: the layout a retention CSV's header says (None: none of them).

    The rule ``--format auto`` reads a file by (:func:`read_retention_csv`), and the calibrator
    tells the layout of a table it read by (:func:`sim.app.calibrate.table_kind`).
    """
    names = [str(c).strip() for c in columns]
    present = set(names)
    if "period" in present or "survival" in present:
        return "survival"
    if {"cohort", "day"} <= present or "active" in present:
        return "long"
    if any(_wide_day(c) is not None for c in names):
        return "wide"
    return None


def read_retention_csv(
    path: str | Path, *, fmt: str = "auto", values: str = "auto", measure: str = "classic"
) -> CohortTable | SurvivalTable:
    """Read and validate a cohort retention table (long or wide) or a survival table.

    Args:
        path: The CSV file.
        fmt: ``long``, ``wide``, ``survival`` or ``auto`` (from the header: ``period`` or
            ``survival`` → survival; ``cohort`` with ``day`` → long; day columns → wide).
        values: For wide exports: ``counts``, ``percent``, ``share`` or ``auto``.
        measure: For wide exports: ``classic`` (active on day N) or ``rolling`` (day N or later).

    Raises:
        DataError: Naming file, row and column of the first problem.

    """
    for name, value, allowed in (
        ("format", fmt, FORMATS),
        ("values", values, VALUE_KINDS),
        ("measure", measure, MEASURES),
    ):
        if value not in allowed:
            raise DataError(path, f"--{name} {value!r} is not allowed: one of {', '.join(allowed)}")
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV file ({' '.join(str(exc).split())})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(path, "the file has a header but no rows")
    if fmt == "auto":
        fmt = table_layout(frame.columns)
        if fmt is None:
            raise DataError(
                path,
                f"unknown format: columns {list(frame.columns)}; expected {list(COHORT_COLUMNS)} (long), "
                f"a cohort, a size and day columns (wide: date,users,day 0,day 1,…) or {list(SURVIVAL_COLUMNS)}",
            )
    if fmt == "survival":
        return _read_survival(path, frame)
    if fmt == "long":
        return _read_cohorts(path, frame)
    return _read_wide(path, frame, values, measure)
