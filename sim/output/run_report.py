"""The report of one run (``report.html``): "should we spend?" first, then why.

One self-contained page, built from the files of a result folder alone (so
``opsim-report`` rebuilds it for any existing run), read top to bottom:

1. the **verdict** — pays back on day N, or not within the horizon — with the
   incremental profit and ROI and their intervals (:mod:`sim.output.verdict`);
2. the **headline numbers** next to a box that defines each of them
   (:mod:`sim.output.glossary`);
3. **strategy vs baseline** side by side (the organic run with the same seed), and
   the two day by day;
4. **money**: cost by lever with each lever's marginal ROI, CAC by channel, cost
   against gross profit, the spend response of each ad channel;
5. **retention**: strategy vs baseline, by acquisition channel and segment, and
   the classic, rolling and bracket measures;
6. **growth and lifecycle**: growth accounting, cohort heatmap, funnel, stages;
7. the resolved config, collapsed.

Money carries its currency and thousands separators everywhere; every number in
the headline table and the verdict also sits in a ``data-value`` attribute, which
the browser tests compare with ``summary.json``.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from sim.analysis.retention import MIN_POOLED_SHARE
from sim.analysis.stats import Z_95
from sim.base.errors import ResultFolderError
from sim.output.files import write_atomic, write_text
from sim.output.formatting import (
    counted,
    digits_for,
    is_number,
    money,
    number,
    percent,
    percentage_points,
    ratio,
)
from sim.output.glossary import TERMS, definitions
from sim.output.html import (
    Cell,
    Comparison,
    definitions_html,
    details_html,
    figure_html,
    page,
    side_by_side_html,
    table_html,
)
from sim.output.verdict import run_verdict, verdict_html

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: a report whose figures workers draw never needs it
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COHORT_FIGURES",
    "FIGURE_CAPTIONS",
    "PANEL_FIGURES",
    "FolderData",
    "draw_figure",
    "figure_data",
    "figure_names",
    "figures",
    "load_folder",
    "render_html",
    "same_figure",
    "write_report",
    "write_report_files",
]


class FigureDrawer(Protocol):
    """Draws named figures of a run's data elsewhere (:class:`sim.output.figure_workers.FigureWorkers`)."""

    def start(self, data: FolderData, names: list[str]) -> None:
        """Start drawing the named figures now, for :meth:`draw` to collect later."""
        ...

    def draw(self, data: FolderData, names: list[str]) -> dict[str, bytes] | None:
        """PNG bytes of each named figure, or None to have them drawn here."""
        ...


#: Under the headline's LTV when the run is too short to project its tail (summary.json says why).
LTV_TAIL_LEFT_OUT = "observed part only: tail not projected"
#: Files of a result folder that are not analytics tables.
_OWN_TABLES = ("daily", "cohorts", "baseline_cohorts")
#: The retention measures shown as tables by day N, with their captions (brackets get their own table).
MEASURE_TABLES = (
    ("classic", "Classic D_N: active on exactly day N"),
    ("rolling", "Rolling D_N: active on day N or later"),
)


@dataclass
class FolderData:
    """What a result folder holds."""

    path: Path
    summary: dict[str, Any]
    meta: dict[str, Any]
    config_text: str
    daily: pd.DataFrame
    cohorts: pd.DataFrame
    baseline_cohorts: pd.DataFrame | None
    tables: dict[str, pd.DataFrame]

    @property
    def economics(self) -> dict[str, Any]:
        """``summary.json`` → ``economics`` (empty if absent)."""
        return self.summary.get("economics") or {}

    @property
    def currency(self) -> str:
        """The money unit of the run."""
        return str(self.economics.get("currency", ""))

    @property
    def title(self) -> str:
        """What was simulated, in one line."""
        s = self.summary
        n = s.get("sample_size", s["market_size"])
        sample = "" if n == s["market_size"] else f" ({number(n)} simulated)"
        return (
            f"{s.get('population', '')}: market of {counted(s['market_size'], 'user')}{sample}, {counted(s['days'], 'day')}, "
            f"strategy {s.get('strategy', 'baseline')}, seed {self.meta.get('seed', '?')}"
        )


def _read(path: Path, read: Callable[[Path], Any]) -> Any:
    """Read one file of a result folder; one line naming the file when it is missing or malformed."""
    try:
        return read(path)
    except FileNotFoundError:
        raise ResultFolderError(f"{path}: missing (the result folder is incomplete)") from None
    except (OSError, ValueError, TypeError) as exc:  # JSON, Parquet or text that cannot be read
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ResultFolderError(f"{path}: cannot be read ({reason})") from None


def load_folder(path: str | Path) -> FolderData:
    """Read a result folder written by :meth:`sim.output.result.Result.save`.

    Raises:
        ResultFolderError: A file is missing or malformed (named in the message).

    """
    path = Path(path)
    if not (path / "summary.json").is_file():
        raise ResultFolderError(f"{path}: no summary.json — not an opsim result folder")
    summary = _read(path / "summary.json", lambda p: json.loads(p.read_text()))
    meta = _read(path / "meta.json", lambda p: json.loads(p.read_text())) if (path / "meta.json").is_file() else {}
    if not isinstance(summary, dict) or "market_size" not in summary:
        raise ResultFolderError(f"{path / 'summary.json'}: not the summary of an opsim run")
    daily = _read(path / "daily.parquet", pd.read_parquet)
    cohorts = _read(path / "cohorts.parquet", pd.read_parquet)
    if not {"cohort_day", "day_n", "cohort_size", "active"} <= set(cohorts.columns):
        raise ResultFolderError(f"{path / 'cohorts.parquet'}: not the cohort table of an opsim run")
    base = path / "baseline_cohorts.parquet"
    baseline_cohorts = _read(base, pd.read_parquet) if base.is_file() else None
    tables = {p.stem: _read(p, pd.read_parquet) for p in sorted(path.glob("*.parquet")) if p.stem not in _OWN_TABLES}
    config_text = _read(path / "config.yaml", Path.read_text) if (path / "config.yaml").is_file() else ""
    return FolderData(path, summary, meta, config_text, daily, cohorts, baseline_cohorts, tables)


def _has_baseline(data: FolderData) -> bool:
    return "baseline_dau" in data.daily


#: The run's figures in report order: name → caption (some captions are completed per run).
FIGURE_CAPTIONS = {
    "vs_baseline": "The strategy and the organic baseline (same market, same seed, no levers), day by day.",
    "payback": "Cumulative cost of the levers against the cumulative incremental gross profit (margin × extra revenue "
    "over the baseline); they cross for good on the payback day.",
    "spend_response": "Spend response per ad channel: users acquired against the channel's total spend, relative to the "
    "channel at zero budget (reruns with the same seed); the square is the configured budget.",
    "retention": "Classic retention D_N (share of a cohort active on exactly day N), all cohorts pooled, with its 95 % "
    "binomial interval",
    "retention_groups": "Classic retention by acquisition channel and by latent segment (users of each group in the legend).",
    "cohort_heatmap": "Cohort triangle by acquisition week: % of each week's new users active in their k-th week after it "
    "(week 0 is 100 % by definition and left out).",
    "growth": "Weekly growth accounting: active users split into retained, new and resurrected; churned (lapsed) "
    "below zero; quick ratio on the right axis (above 1 the active base grows).",
    "funnel": "Funnel: users ever aware, acquired, retained (came back after day 0), activated (habitual).",
    "stages": "Acquired users by lifecycle stage: the active stages and DAU above, the lapsed ones below (own scale).",
}
#: Figures with several panels: they are drawn into a Figure, not onto one Axes.
PANEL_FIGURES = ("vs_baseline", "spend_response", "retention_groups", "stages")


def figure_names(data: FolderData) -> list[str]:
    """The figures this run has data for, in report order."""
    econ = data.economics
    measures = data.tables.get("retention_measures")
    has = {
        "vs_baseline": _has_baseline(data),
        "payback": "cost_total" in data.daily and bool(econ.get("cost_total")),
        "spend_response": "spend_response" in data.tables,
        "retention": True,
        "retention_groups": measures is not None and measures["by"].isin(["channel", "segment"]).any(),
        "cohort_heatmap": "cohort_triangle_weekly" in data.tables,
        "growth": "growth_weekly" in data.tables,
        "funnel": bool(data.summary.get("analytics", {}).get("funnel")),
        "stages": True,
    }
    return [name for name in FIGURE_CAPTIONS if has[name]]


def _caption(data: FolderData, name: str) -> str:
    if name != "retention":
        return FIGURE_CAPTIONS[name]
    baseline = "; the organic baseline dashed" if data.baseline_cohorts is not None else ""
    return (
        f"{FIGURE_CAPTIONS[name]}{baseline}. Days observed by fewer than "
        f"{percent(MIN_POOLED_SHARE, 0)} of the D1 users are left out."
    )


#: The figures drawn from the cohort tables (``cohorts``, ``baseline_cohorts``): by far the
#: largest part of a run's data (H·(H+1)/2 rows for a horizon of H days).
COHORT_FIGURES = ("retention",)


def figure_data(data: FolderData, names: list[str]) -> FolderData:
    """The part of ``data`` that the named figures are drawn from (what is sent to a figure worker).

    Without a figure of :data:`COHORT_FIGURES` among them, the cohort tables are left out
    (an empty cohort table with the same columns, no baseline cohorts); the rest is kept,
    since :func:`figure_names` reads it to check a figure's name. Each named figure is
    drawn from it as from ``data`` (tested).
    """
    if any(name in COHORT_FIGURES for name in names):
        return data
    return replace(data, cohorts=data.cohorts.iloc[:0], baseline_cohorts=None)


def draw_figure(data: FolderData, name: str, *, ax: Axes | Figure | None = None) -> Figure:
    """Draw one of the run's figures (:data:`FIGURE_CAPTIONS`) on ``ax``, in a Figure, or on a new Figure.

    Args:
        data: The run's data.
        name: The figure's name.
        ax: An Axes to draw on, a Figure to draw in (the several-panel figures of
            :data:`PANEL_FIGURES` need a Figure), or None for a new Figure.

    Returns:
        The figure drawn on.

    Raises:
        ValueError: For a name the run has no data for, or an Axes for a several-panel figure.

    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    available = figure_names(data)
    if name not in available:
        raise ValueError(f"figure={name!r} is not allowed: one of {', '.join(available)} for this run")
    from sim.output import figures as plots

    function, args, options = _figure_call(data, name)
    draw = getattr(plots, function)
    if name in PANEL_FIGURES:
        if isinstance(ax, Axes):
            raise ValueError(f"figure={name!r} draws several panels: pass a Figure, not an Axes")
        return draw(*args, **options, fig=ax)
    return draw(*args, **options, ax=ax.add_subplot() if isinstance(ax, Figure) else ax)


def _figure_call(data: FolderData, name: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The function of :mod:`sim.output.figures` that draws figure ``name``, and what it is given of ``data``.

    The function by its name: :func:`same_figure` compares calls without importing matplotlib.
    """
    strategy = str(data.summary.get("strategy", ""))
    if name == "vs_baseline":
        return "baseline_comparison_figure", (data.daily, data.currency, strategy), {}
    if name == "spend_response":
        return "spend_response_figure", (data.tables["spend_response"], data.currency), {}
    if name == "retention_groups":
        return "retention_groups_figure", (data.tables["retention_measures"], data.title), {}
    if name == "stages":
        return "stages_figure", (data.daily, data.title), {}
    if name == "payback":
        return "payback_figure", (data.daily, data.economics, strategy), {}
    if name == "retention":
        return "cohort_retention_figure", (data.cohorts, data.baseline_cohorts, data.title), {}
    if name == "cohort_heatmap":
        return "cohort_heatmap_figure", (data.tables["cohort_triangle_weekly"], data.title), {}
    if name == "growth":
        return "growth_figure", (data.tables["growth_weekly"], data.title), {}
    return "funnel_figure", (data.summary["analytics"]["funnel"], data.title), {}


def same_figure(first: FolderData, second: FolderData, name: str) -> bool:
    """Whether figure ``name`` of ``first`` is the one of ``second``: drawn by the same function from equal inputs.

    What a figure drawn from a run's data before the run had finished (drawn while its
    analytics are computed and its tables written, :func:`sim.app.simulate.simulate`) is
    checked with before it is used as the figure of the finished run. Equal means the same
    value and type, tables with the same columns, values and dtypes, arrays with the same
    dtype (NaN equal to NaN).
    """
    if first is second:
        return True
    names = figure_names(first)
    if name not in names or name not in figure_names(second):
        return False
    return _equal(_figure_call(first, name), _figure_call(second, name))


def _equal(first: Any, second: Any) -> bool:
    """Equality of a figure's inputs (see :func:`same_figure`)."""
    if first is second and not isinstance(first, float):  # a float may be NaN
        return True
    if type(first) is not type(second):
        return False
    if isinstance(first, pd.DataFrame):
        return first.equals(second) and first.dtypes.equals(second.dtypes)
    if isinstance(first, np.ndarray):
        return first.dtype == second.dtype and np.array_equal(first, second, equal_nan=first.dtype.kind in "fc")
    if isinstance(first, (tuple, list)):
        return len(first) == len(second) and all(_equal(a, b) for a, b in zip(first, second, strict=True))
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(_equal(first[k], second[k]) for k in first)
    if isinstance(first, float) and first != first:  # NaN, as in a funnel of no one
        return second != second
    return bool(first == second)


def figures(data: FolderData, workers: FigureDrawer | None = None) -> dict[str, tuple[str, bytes]]:
    """Figure name → (caption, PNG bytes), in report order.

    Args:
        data: The run's data (sent to the workers, if any, to draw from).
        workers: Processes to draw in (:class:`~sim.output.figure_workers.FigureWorkers`),
            or None to draw here; the same bytes either way.

    """
    names = figure_names(data)
    drawn = workers.draw(data, names) if workers is not None else None
    out: dict[str, tuple[str, bytes]] = {}
    for name in names:
        if drawn is None:
            from sim.output.figures import save_png_of  # here: with workers, this process never needs matplotlib

            buf = io.BytesIO()
            save_png_of(lambda name=name: draw_figure(data, name), buf)
            png = buf.getvalue()
        else:
            png = drawn[name]
        out[name] = (_caption(data, name), png)
    return out


def _mc_half(econ: dict[str, Any], *keys: str) -> float | None:
    """Z_95 × the Monte-Carlo standard error at ``economics.monte_carlo.<keys>`` (None if absent)."""
    node: Any = econ.get("monte_carlo") or {}
    for k in keys:
        node = (node or {}).get(k) if isinstance(node, dict) else None
    return Z_95 * float(node) if is_number(node) else None


def _estimate_cell(value: Any, half: float | None, fmt: Callable[[Any], str], key: str) -> Cell:
    note = "" if half is None or not is_number(value) else f"± {fmt(half).lstrip('+')}"
    return Cell(fmt(value), value if is_number(value) else None, note=note, numeric=True, key=key)


def _payback_text(econ: dict[str, Any]) -> str:
    """The payback day as the headline shows it; unknown without the baseline run, which the verdict says too."""
    if econ.get("payback_day") is not None:
        return str(econ["payback_day"])
    return "not within the horizon" if econ.get("incremental") else "unknown without the baseline run"


def _headline_rows(data: FolderData) -> list[list[Cell]]:
    s = data.summary
    econ = data.economics
    cur = data.currency
    ret = s.get("retention", {})
    rows = [
        [Cell("users acquired"), Cell(number(s["acquired_users"]), s["acquired_users"], key="acquired_users")],
        [Cell("DAU (last day)"), Cell(number(s["dau"]), s["dau"], key="dau")],
        [Cell("MAU (last day)"), Cell(number(s["mau"]), s["mau"], key="mau")],
        [
            Cell("stickiness DAU/MAU"),
            Cell(percent(s["stickiness_dau_mau"]), s["stickiness_dau_mau"], key="stickiness_dau_mau"),
        ],
    ]
    for n in ("d1", "d7", "d30"):
        rows.append([Cell(f"classic {n.upper()}"), Cell(percent(ret.get(n)), ret.get(n), key=f"retention.{n}")])
    rows.append([Cell("revenue"), Cell(money(s["revenue"], cur), s["revenue"], key="revenue")])
    if econ.get("cost_total"):
        inc = econ.get("incremental") or {}

        def signed(x: Any) -> str:
            return money(x, cur, signed=True, digits=0)

        rows += [
            [Cell("cost"), Cell(money(econ["cost_total"], cur), econ["cost_total"], key="economics.cost_total")],
            [
                Cell("incremental users"),
                _estimate_cell(
                    inc.get("acquired_users"),
                    _mc_half(econ, "incremental", "acquired_users"),
                    lambda x: number(x, signed=True),
                    "economics.incremental.acquired_users",
                ),
            ],
            [
                Cell("incremental profit"),
                _estimate_cell(
                    inc.get("profit"), _mc_half(econ, "incremental", "profit"), signed, "economics.incremental.profit"
                ),
            ],
            [
                Cell("incremental ROI"),
                _estimate_cell(
                    inc.get("roi"),
                    _mc_half(econ, "incremental", "roi"),
                    lambda x: ratio(x, digits_for(_mc_half(econ, "incremental", "roi"), 2)),
                    "economics.incremental.roi",
                ),
            ],
            [
                Cell("payback day"),
                Cell(
                    _payback_text(econ),
                    econ.get("payback_day"),
                    numeric=True,
                    key="economics.payback_day",
                ),
            ],
            [
                Cell("CAC (cost per incremental user)"),
                Cell(money(inc.get("cac"), cur), inc.get("cac"), numeric=True, key="economics.incremental.cac"),
            ],
        ]
    ltv = econ.get("ltv") or {}
    if ltv:
        rows.append(
            [
                Cell("LTV per user"),
                Cell(
                    money(ltv.get("per_user"), cur),
                    ltv.get("per_user"),
                    note=LTV_TAIL_LEFT_OUT if ltv.get("tail_projected") is False else "",
                    key="economics.ltv",
                ),
            ]
        )
    return rows


#: Headline rows and the definition (:mod:`sim.output.glossary` term) that explains each.
HEADLINE_TERMS = {
    "users acquired": "users acquired",
    "DAU (last day)": "DAU / WAU / MAU",
    "MAU (last day)": "DAU / WAU / MAU",
    "stickiness DAU/MAU": "stickiness",
    "classic D1": "classic D1 / D7 / D30",
    "classic D7": "classic D1 / D7 / D30",
    "classic D30": "classic D1 / D7 / D30",
    "revenue": "revenue",
    "cost": "cost",
    "incremental users": "incremental users",
    "incremental profit": "incremental profit",
    "incremental ROI": "incremental ROI",
    "payback day": "payback day",
    "CAC (cost per incremental user)": "CAC",
    "LTV per user": "LTV per user",
}


def _terms(data: FolderData, headline: list[list[Cell]]) -> list[str]:
    """The definitions the page shows: every headline row's, the verdict's and those of the money tables."""
    wanted = {HEADLINE_TERMS[row[0].text] for row in headline}
    if data.economics.get("cost_total"):
        wanted |= {"verdict", "CAC by channel", "marginal ROI", "interval (one run)"}
    if "growth_weekly" in data.tables:
        wanted.add("quick ratio")
    return [t for t in TERMS if t in wanted]


def _baseline_numbers(data: FolderData) -> dict[str, Any]:
    """The organic baseline's headline numbers: ``summary.json`` → ``baseline``, else the daily table's columns."""
    if "baseline" in data.summary:
        return data.summary["baseline"]
    d = data.daily
    return {
        "acquired_users": float(d["baseline_new_users"].sum()),
        "dau": float(d["baseline_dau"].iloc[-1]),
        "mean_dau": float(d["baseline_dau"].mean()),
        "revenue": float(d["baseline_revenue"].sum()),
        "retention": {},
    }


def _side_by_side(data: FolderData) -> str:
    s, econ, cur = data.summary, data.economics, data.currency
    base = _baseline_numbers(data)
    margin = float(econ.get("margin", float("nan")))

    def cash(x: Any) -> str:
        return money(x, cur, digits=0)

    def signed_cash(x: Any) -> str:
        return money(x, cur, signed=True, digits=0)

    def count(x: Any) -> str:
        return number(x)

    def signed_count(x: Any) -> str:
        return number(x, signed=True)

    gross = margin * float(s["revenue"])
    base_gross = margin * float(base["revenue"])
    cost = float(econ.get("cost_total") or 0.0)
    rows = [
        Comparison(
            "users acquired",
            s["acquired_users"],
            base["acquired_users"],
            count,
            signed_count,
            _mc_half(econ, "incremental", "acquired_users"),
            key="acquired_users",
        ),
        Comparison("mean DAU", s["mean_dau"], base.get("mean_dau"), count, signed_count, key="mean_dau"),
        Comparison("DAU (last day)", s["dau"], base.get("dau"), count, signed_count, key="dau"),
        Comparison("MAU (last day)", s["mau"], base.get("mau"), count, signed_count, key="mau"),
        Comparison("revenue", s["revenue"], base["revenue"], cash, signed_cash, key="revenue"),
        Comparison(
            f"gross profit ({percent(margin, 0)} margin)",
            gross,
            base_gross,
            cash,
            signed_cash,
            _mc_half(econ, "incremental", "gross_profit"),
            key="gross_profit",
        ),
        Comparison("cost of the levers", cost, 0.0, cash, signed_cash, key="cost"),
        Comparison(
            "profit (gross profit − cost)",
            gross - cost,
            base_gross,
            signed_cash,
            signed_cash,
            _mc_half(econ, "incremental", "profit"),
            key="profit",
        ),
    ]
    for n in ("d1", "d7", "d30"):
        rows.append(
            Comparison(
                f"classic {n.upper()}",
                s.get("retention", {}).get(n),
                base.get("retention", {}).get(n),
                percent,
                percentage_points,
                key=f"retention.{n}",
            )
        )
    return side_by_side_html(rows, ours=f"strategy {s.get('strategy', '')}", theirs="organic baseline")


def _lever_tables(data: FolderData) -> str:
    econ, cur = data.economics, data.currency
    by_lever = econ.get("cost_by_lever") or {}
    total = float(econ.get("cost_total") or 0.0)
    if not by_lever:
        return ""
    marginal = econ.get("marginal_roi") or {}
    rows = []
    for lever, cost in sorted(by_lever.items(), key=lambda kv: -kv[1]):
        m = marginal.get(lever)
        m_text = "fixed price" if lever in marginal and m is None else ratio(m) if lever in marginal else "not run"
        rows.append(
            [
                Cell(lever.replace("_", " ")),
                Cell(money(cost, cur, digits=0), cost, key=f"cost.{lever}"),
                Cell(percent(cost / total if total else float("nan"), 0), numeric=True),
                Cell(m_text, m if is_number(m) else None, numeric=True, key=f"marginal_roi.{lever}"),
            ]
        )
    header = ["lever", Cell("cost", numeric=True), Cell("share", numeric=True), Cell("marginal ROI", numeric=True)]
    out = table_html(header, rows, caption="Cost by lever, and what the next 1 % of each lever's budget returns")
    cac = econ.get("cac_by_channel") or {}
    if cac:
        crow = []
        for channel, value in cac.items():
            spend = by_lever.get(f"paid_ads_{channel}")
            column = f"new_users_{channel}"
            users = float(data.daily[column].sum()) if column in data.daily else None
            crow.append(
                [
                    Cell(channel),
                    Cell(money(spend, cur, digits=0), spend),
                    Cell(number(users), users),
                    Cell(money(value, cur), value, key=f"cac.{channel}"),
                ]
            )
        header = ["ad channel", Cell("spend", numeric=True), Cell("users via the channel", numeric=True)]
        header.append(Cell("CAC", numeric=True))
        out += table_html(header, crow, caption="Customer acquisition cost by ad channel")
    return out


def _measures_tables(data: FolderData) -> str:
    table = data.tables.get("retention_measures")
    if table is None:
        return ""
    t = table[table["by"] != "cohort_week"]
    groups = list(dict.fromkeys(zip(t["by"], t["group"], strict=True)))
    out = []
    for measure, caption in MEASURE_TABLES:
        rows_m = t[t["measure"] == measure]
        days = sorted(rows_m["day_n"].unique())
        if not days:
            continue
        rows = []
        by_group = dict(tuple(rows_m.groupby(["by", "group"], sort=False, dropna=False)))  # one pass, not one a group
        for by, group in groups:
            if (by, group) not in by_group:
                continue
            g = by_group[(by, group)]
            share = dict(zip(g["day_n"].to_numpy(), g["share"].to_numpy(), strict=True))
            label = "all users" if by == "all" else f"{by}: {group}"
            users = g["users"].iloc[0]
            cells = [Cell(label), Cell(number(users), users)]
            cells += [Cell(percent(share.get(d)), share.get(d), numeric=True) for d in days]
            rows.append(cells)
        header = ["group", Cell("new users", numeric=True), *[Cell(f"D{d}", numeric=True) for d in days]]
        out.append(table_html(header, rows, caption=caption, css_class="measures"))
    brackets = t[t["measure"] == "bracket"]
    if not brackets.empty:
        spans = list(dict.fromkeys(zip(brackets["day_n"], brackets["day_hi"], strict=True)))
        rows = []
        by_group = dict(tuple(brackets.groupby(["by", "group"], sort=False, dropna=False)))
        for by, group in groups:
            if (by, group) not in by_group:
                continue
            g = by_group[(by, group)]
            share = {(a, b): v for a, b, v in zip(g["day_n"], g["day_hi"], g["share"], strict=True)}
            label = "all users" if by == "all" else f"{by}: {group}"
            rows.append([Cell(label), *[Cell(percent(share.get(sp)), share.get(sp), numeric=True) for sp in spans]])
        header = ["group", *[Cell(f"days {a}–{b}", numeric=True) for a, b in spans]]
        out.append(table_html(header, rows, caption="Bracket retention: active at least once in days a–b"))
    return "".join(out)


REPORT_CSS = """
table.measures td, table.measures th { padding: 3px 8px; font-size: 0.9em; }
"""


def render_html(data: FolderData, images: dict[str, tuple[str, bytes]]) -> str:
    """The report page (images embedded as data URIs)."""
    s, econ = data.summary, data.economics

    def fig(name: str) -> str:
        return figure_html(name, images[name][1], images[name][0]) if name in images else ""

    verdict = verdict_html(
        run_verdict(s),
        none_text=f"No operations spend in this run (strategy {s.get('strategy', 'baseline')}): "
        "it is the organic baseline, nothing to pay back.",
    )
    rows = _headline_rows(data)
    glossary = definitions(
        currency=data.currency or "money",
        margin=float(econ.get("margin", float("nan"))),
        horizon_days=int(s["days"]),
        ltv_days=(econ.get("ltv") or {}).get("days"),
        terms=_terms(data, rows),
    )
    headline = table_html(["", Cell("value", numeric=True)], rows, css_class="headline")
    sections = [
        f"<h1>Should we spend? Strategy {html.escape(str(s.get('strategy', '')))}</h1>",
        f'<p class="sub">{html.escape(data.title)}. Folder <code>{html.escape(str(data.path))}</code></p>',
        '<nav><a href="#vs-baseline">Strategy vs baseline</a><a href="#money">Money</a>'
        '<a href="#retention">Retention</a><a href="#growth">Growth</a><a href="#config">Configuration</a></nav>',
        verdict,
        f'<div class="cols"><div><h2>Headline numbers</h2>{headline}</div><div>{definitions_html(glossary)}</div></div>',
    ]
    if _has_baseline(data):
        sections.append(
            '<h2 id="vs-baseline">Strategy vs organic baseline</h2>'
            '<p class="small">The baseline is the same market and seed with no levers (common random numbers): '
            "every difference is the strategy's doing. ± = 95 % interval of the difference (Monte-Carlo error "
            "of this run).</p>" + _side_by_side(data) + fig("vs_baseline")
        )
    if econ.get("cost_total"):
        sections.append('<h2 id="money">Money</h2>' + _lever_tables(data) + fig("payback") + fig("spend_response"))
    sections.append(
        '<h2 id="retention">Retention</h2>' + fig("retention") + fig("retention_groups") + _measures_tables(data)
    )
    sections.append(
        '<h2 id="growth">Growth and lifecycle</h2>'
        + fig("growth")
        + fig("cohort_heatmap")
        + fig("funnel")
        + fig("stages")
    )
    config = f"<pre>{html.escape(data.config_text)}</pre>" if data.config_text else "<p>(no config.yaml)</p>"
    sections.append('<h2 id="config">Configuration</h2>' + details_html("Resolved configuration (config.yaml)", config))
    return page(f"opsim report — {data.title}", "\n".join(sections), css=REPORT_CSS)


def write_report_files(
    path: str | Path, *, pngs: bool = True, workers: FigureDrawer | None = None, data: FolderData | None = None
) -> list[Path]:
    """Write the figures as PNG files and ``report.html`` into a result folder; return the files (the page last).

    ``workers`` draw the figures side by side (:mod:`sim.output.figure_workers`); None draws them here.
    ``data`` is the folder's content when the caller has it in memory (:meth:`sim.output.result.Result.save`,
    which has just written it: reading it back took a default run some 30 ms); None reads the folder.
    """
    if data is None:
        data = load_folder(path)
    images = figures(data, workers)
    written = []
    if pngs:
        for name, (_caption, png) in images.items():
            write_atomic(data.path / f"{name}.png", lambda p, b=png: p.write_bytes(b))
            written.append(data.path / f"{name}.png")
    out = data.path / "report.html"
    write_text(out, render_html(data, images))
    return [*written, out]


def write_report(path: str | Path, *, pngs: bool = True) -> Path:
    """Write ``report.html`` (and the figures as PNG files) into a result folder; return the page."""
    return write_report_files(path, pngs=pngs)[-1]
