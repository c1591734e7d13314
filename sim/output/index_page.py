"""``index.html`` of a folder of runs (a sweep): every run's report, linked, with its key numbers.

One row per run report: its point (the swept values that vary, when the folder is
a sweep), seed, cost, incremental profit and ROI, payback day and D1/D7/D30, each
read from the run's ``summary.json``; above the table a link to the sweep's own
``report.html`` when there is one. Same house style as every other page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from sim.output.completion import recorded_seed
from sim.output.files import write_text
from sim.output.formatting import money, number, percent, ratio
from sim.output.html import Cell, page, table_html

__all__ = ["write_index"]

INDEX_CSS = """
table.runs { font-size: 0.9em; } table.runs th, table.runs td { padding: 4px 7px; }
table.runs td:first-child { max-width: 26em; overflow-wrap: anywhere; }
"""


def _link(href: Path | str, text: str) -> str:
    return f'<a href="{html.escape(quote(str(href), safe="/=,+"))}">{html.escape(text)}</a>'


def write_index(
    root: Path,
    reports: list[Path],
    *,
    labels: Mapping[Path, tuple[str, int | None]] | None = None,
    sweep_report: Path | None = None,
) -> Path:
    """Write ``index.html`` in ``root``: one row per run report, linked.

    Args:
        root: The folder of runs.
        reports: The runs' ``report.html`` files (below ``root``).
        labels: Run folder → (point label, seed), for a sweep; else the folder's name is shown.
        sweep_report: The sweep's ``report.html`` (linked above the table), or None.

    Returns:
        The path of ``index.html``.

    """
    rows = []
    for rep in reports:
        s = json.loads((rep.parent / "summary.json").read_text())
        econ = s.get("economics") or {}
        cur = str(econ.get("currency", ""))
        inc = econ.get("incremental") or {}
        ret = s.get("retention", {})
        label, seed = (labels or {}).get(rep.parent, (str(rep.parent.relative_to(root)), None))
        if seed is None:  # not a sweep's job (or its seed was not swept): the seed the run records
            seed = recorded_seed(rep.parent)
        payback = econ.get("payback_day")
        spent = bool(econ.get("cost_total"))
        rows.append(
            [
                Cell(html=_link(rep.relative_to(root), label), key="run"),
                Cell("" if seed is None else str(seed), seed),
                Cell(str(s.get("strategy", ""))),
                Cell(money(econ.get("cost_total"), cur, digits=0), econ.get("cost_total")),
                Cell(money(inc.get("profit"), cur, signed=True, digits=0), inc.get("profit"), numeric=True),
                Cell(ratio(inc.get("roi")), inc.get("roi"), numeric=True),
                Cell(
                    str(payback) if payback is not None else ("not paid back" if spent else "—"),
                    payback,
                    numeric=True,
                ),
                *[Cell(percent(ret.get(n)), ret.get(n), numeric=True) for n in ("d1", "d7", "d30")],
            ]
        )
    header = [
        "run",
        Cell("seed", numeric=True),
        "strategy",
        Cell("cost", numeric=True),
        Cell("incremental profit", numeric=True),
        Cell("incremental ROI", numeric=True),
        Cell("payback day", numeric=True),
        *[Cell(n, numeric=True) for n in ("D1", "D7", "D30")],
    ]
    top = ""
    if sweep_report is not None:
        top = (
            f"<p>{_link(sweep_report.relative_to(root), 'The sweep’s report')}: "
            "the verdict, the ranked points and the figures.</p>"
        )
    body = (
        f"<h1>opsim runs</h1><p class='sub'><code>{html.escape(str(root))}</code>: "
        f"{number(len(reports))} run reports</p>{top}" + table_html(header, rows, css_class="runs", row_headers=False)
    )
    out = root / "index.html"
    write_text(out, page(f"opsim runs — {root}", body, css=INDEX_CSS))
    return out
