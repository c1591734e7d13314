"""Self-contained HTML report of a result folder (``report.html``) and the index of a folder of runs.

The report is one file, ``report.html``, with every figure embedded as a PNG
data URI: headline numbers, retention (classic, rolling, bracket; by channel and
segment), the cohort heatmap, growth accounting with the quick ratio, the
funnel, lifecycle stages, money (with levers) and the resolved config. It is
built from the files of the folder alone, so ``opsim-report`` rebuilds it (and
the PNG files next to it) for any existing run; given a folder of runs (a Hydra
multirun) it also writes an ``index.html`` linking them (:func:`write_index`).
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.retention import cohort_retention_curve, pooled_cohort_users
from sim.base.errors import ResultFolderError
from sim.output import figures as plots
from sim.output.files import write_atomic, write_text
from sim.output.html import figure_html, page

__all__ = ["FolderData", "load_folder", "render_html", "write_index", "write_report", "write_report_files"]


@dataclass
class FolderData:
    """What a result folder holds."""

    path: Path
    summary: dict[str, Any]
    meta: dict[str, Any]
    config_text: str
    daily: pd.DataFrame
    cohort_active: np.ndarray
    tables: dict[str, pd.DataFrame]

    @property
    def title(self) -> str:
        """Short description used in figure titles."""
        s = self.summary
        return f"{s.get('population', '')} M = {s['market_size']:,}, strategy {s.get('strategy', 'baseline')}, seed {self.meta.get('seed', '?')}".strip()


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
    horizon = len(daily)
    cohorts = _read(path / "cohorts.parquet", pd.read_parquet)
    ca = np.zeros((horizon, horizon), dtype=np.int64)
    try:
        ca[cohorts["cohort_day"].to_numpy(), cohorts["day_n"].to_numpy()] = cohorts["active"].to_numpy()
    except (KeyError, IndexError) as exc:
        raise ResultFolderError(f"{path / 'cohorts.parquet'}: not the cohort table of this run ({exc})") from None
    tables = {
        p.stem: _read(p, pd.read_parquet) for p in sorted(path.glob("*.parquet")) if p.stem not in ("daily", "cohorts")
    }
    config_text = _read(path / "config.yaml", Path.read_text) if (path / "config.yaml").is_file() else ""
    return FolderData(path, summary, meta, config_text, daily, ca, tables)


def figures(data: FolderData) -> dict[str, tuple[str, bytes]]:
    """Figure name → (caption, PNG bytes), in report order."""
    out: dict[str, tuple[str, bytes]] = {}

    def draw(name: str, caption: str, fn: Callable[..., Figure], *args: Any) -> None:
        buf = io.BytesIO()
        plots.save_png(fn(*args), buf)
        out[name] = (caption, buf.getvalue())

    draw(
        "retention",
        "Classic retention D_N (share of a cohort active on exactly day N), all cohorts pooled, with its 95 % binomial interval.",
        plots.retention_figure,
        cohort_retention_curve(data.cohort_active),
        pooled_cohort_users(data.cohort_active),
        data.title,
    )
    if "cohort_triangle_weekly" in data.tables:
        draw(
            "cohort_heatmap",
            "Cohort triangle by acquisition week: share of each week's users active in their k-th week.",
            plots.cohort_heatmap_figure,
            data.tables["cohort_triangle_weekly"],
            data.title,
        )
    if "growth_weekly" in data.tables:
        draw(
            "growth",
            "Weekly growth accounting: active users split into retained, new and resurrected; churned (lapsed) below zero; quick ratio on the right.",
            plots.growth_figure,
            data.tables["growth_weekly"],
            data.title,
        )
    funnel = data.summary.get("analytics", {}).get("funnel")
    if funnel:
        draw(
            "funnel",
            "Funnel: users ever aware, acquired, retained (came back after day 0), activated (habitual).",
            plots.funnel_figure,
            funnel,
            data.title,
        )
    draw(
        "stages",
        "Acquired users by lifecycle stage over time; DAU dashed.",
        plots.stages_figure,
        data.daily,
        data.title,
    )
    econ = data.summary.get("economics", {})
    if "cost_total" in data.daily and econ:
        draw(
            "payback",
            "Cumulative cost against cumulative gross profit; payback day marked.",
            plots.payback_figure,
            data.daily,
            econ,
            data.summary.get("strategy", ""),
        )
    if "spend_response" in data.tables:
        draw(
            "spend_response",
            "Spend response per ad channel: users acquired against spend, relative to zero budget.",
            plots.spend_response_figure,
            data.tables["spend_response"],
            econ.get("currency", ""),
        )
    return out


def _pct(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{100 * x:.1f} %"


def _num(x: Any, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _headline(data: FolderData) -> list[tuple[str, str]]:
    s = data.summary
    a = s.get("analytics", {})
    classic = a.get("retention", {}).get("classic", s.get("retention", {}))
    rolling = a.get("retention", {}).get("rolling", {})
    rows = [
        ("strategy", str(s.get("strategy", "baseline"))),
        ("market size (M)", _num(s["market_size"])),
        ("days simulated", _num(s["days"])),
        ("users acquired", _num(s["acquired_users"])),
        ("DAU / WAU / MAU (last day)", f"{_num(s['dau'])} / {_num(s['wau'])} / {_num(s['mau'])}"),
        ("stickiness DAU/MAU", _pct(s["stickiness_dau_mau"])),
        ("classic D1 / D7 / D30", " / ".join(_pct(classic.get(k)) for k in ("d1", "d7", "d30"))),
        ("classic D14 / D60 / D90", " / ".join(_pct(classic.get(k)) for k in ("d14", "d60", "d90"))),
        ("rolling D7 / D30", " / ".join(_pct(rolling.get(k)) for k in ("d7", "d30"))),
        ("quick ratio (last full week)", _num(a.get("quick_ratio_last_full_week"), 2)),
        ("revenue", _num(s["revenue"])),
    ]
    econ = s.get("economics") or {}
    if econ.get("cost_total"):
        cur = econ["currency"]
        inc = econ.get("incremental") or {}
        rows += [
            ("cost", f"{_num(econ['cost_total'])} {cur}"),
            ("incremental users", _num(inc.get("acquired_users"))),
            ("incremental profit", f"{_num(inc.get('profit'))} {cur}"),
            ("incremental ROI", _num(inc.get("roi"), 2)),
            ("payback day", "—" if econ.get("payback_day") is None else str(econ["payback_day"])),
        ]
    if econ.get("ltv"):
        rows.append(
            ("LTV per user (observed + projected tail)", f"{_num(econ['ltv']['per_user'], 2)} {econ['currency']}")
        )
    return rows


def _retention_html(data: FolderData) -> str:
    table = data.tables.get("retention_measures")
    if table is None:
        return ""
    t = table.copy()
    t["measure"] = np.where(
        t["measure"] == "bracket",
        "bracket " + t["day_n"].astype(str) + "-" + t["day_hi"].astype(str),
        t["measure"] + " D" + t["day_n"].astype(str),
    )
    t = t[t["by"] != "cohort_week"]
    wide = t.pivot_table(index=["by", "group"], columns="measure", values="share", sort=False)
    wide = (100 * wide).round(1)
    return wide.to_html(classes="measures", na_rep="—", float_format=lambda x: f"{x:.1f}")


REPORT_CSS = """
table.measures td { text-align: right; }
"""


def render_html(data: FolderData, images: dict[str, tuple[str, bytes]]) -> str:
    """The report page (images embedded as data URIs)."""
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _headline(data))
    figs = "".join(figure_html(name, png, caption) for name, (caption, png) in images.items())
    body = f"""<h1>opsim report</h1>
<p>{html.escape(data.title)} — folder <code>{html.escape(str(data.path))}</code></p>
<h2>Headline numbers</h2><table class="headline">{head}</table>
<h2>Figures</h2>{figs}
<h2>Retention measures (%)</h2>
<p>classic D_N: active on exactly day N after acquisition; rolling: on day N or later; bracket a-b: at least once in days a to b.</p>
{_retention_html(data)}
<h2>Resolved configuration</h2><pre>{html.escape(data.config_text)}</pre>"""
    return page(f"opsim report — {data.title}", body, css=REPORT_CSS)


def write_report_files(path: str | Path, *, pngs: bool = True) -> list[Path]:
    """Write the figures as PNG files and ``report.html`` into a result folder; return the files (the page last)."""
    data = load_folder(path)
    images = figures(data)
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


def write_index(root: Path, reports: list[Path]) -> Path:
    """Write ``index.html`` in ``root``: one row per run report, linked."""
    rows = []
    for rep in reports:
        s = json.loads((rep.parent / "summary.json").read_text())
        r = s.get("retention", {})
        inc = (s.get("economics") or {}).get("incremental") or {}
        rows.append(
            f'<tr><td><a href="{html.escape(str(rep.relative_to(root)))}">{html.escape(str(rep.parent.relative_to(root)))}</a></td>'
            f"<td>{html.escape(str(s.get('strategy', '')))}</td><td>{_pct(r.get('d1'))}</td><td>{_pct(r.get('d7'))}</td>"
            f"<td>{_pct(r.get('d30'))}</td><td>{_num(inc.get('roi'), 2)}</td></tr>"
        )
    body = (
        f"<h1>opsim runs in {html.escape(str(root))}</h1><table>"
        "<tr><th>run</th><th>strategy</th><th>D1</th><th>D7</th><th>D30</th><th>incremental ROI</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    out = root / "index.html"
    write_text(out, page("opsim runs", body))
    return out
