"""The pieces every opsim page is built from: one self-contained HTML file in one house style.

A page (:func:`page`) carries its own CSS and embeds its images as PNG data URIs,
so it can be mailed or archived alone and loads nothing from elsewhere. The
pieces below are shared by the run, sweep and plan pages so that they read alike:

==========================  ==========================================================
:func:`table_html`          a table; :class:`Cell` gives a cell its number (``data-value``)
:func:`side_by_side_html`   strategy vs baseline (or plan vs base): two columns and the difference
:func:`definitions_html`    the box that says what every headline number means
:func:`details_html`        a collapsed section (the resolved config)
:func:`figure_html`         an embedded figure with its caption
:func:`verdict_html`        lives in :mod:`sim.output.verdict` (the one-line answer)
==========================  ==========================================================

Every text is escaped here; callers pass plain strings (``Cell.html`` is the one
exception, for links and line breaks the caller built and escaped). Tables are
laid out to fit a 1280 px window: numbers do not wrap, labels do. A small script
records, for automated checks, how many images decoded
(``document.body.dataset.imagesLoaded`` and ``.images``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.output.formatting import MISSING, is_number, with_half_width

__all__ = [
    "BASE_CSS",
    "Cell",
    "Comparison",
    "definitions_html",
    "details_html",
    "figure_html",
    "page",
    "side_by_side_html",
    "table_html",
]

BASE_CSS = """
:root { --ink: #1a1a1a; --muted: #595959; --line: #d4d4d4; --panel: #f6f6f6;
  --good: #006b4f; --good-bg: #e3f3ec; --bad: #a3261b; --bad-bg: #fbe9e7; --unsure: #7a5200; --unsure-bg: #fff3d6; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); max-width: 1180px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 1.55em; margin: 0.2em 0; }
h2 { font-size: 1.2em; margin: 1.8em 0 0.5em; padding-bottom: 0.2em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
p, li, dd, figcaption, .sub, code { overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 0.8em; }
.small { font-size: 0.82em; color: var(--muted); }
nav { margin: 0 0 0.6em; font-size: 0.9em; } nav a { margin-right: 1.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; max-width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0 0 0.3em; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
thead th { background: var(--panel); font-weight: 600; border-bottom: 2px solid var(--line); }
tbody th { font-weight: 500; }
.num { text-align: right; white-space: nowrap; }
td .small { display: block; white-space: nowrap; }
tr.best { background: var(--good-bg); }
.verdict { border-left: 6px solid var(--unsure); background: var(--unsure-bg); border-radius: 4px;
  padding: 10px 16px; margin: 0.8em 0 1em; }
.verdict .answer { font-size: 1.15em; font-weight: 650; }
.verdict.pays { border-color: var(--good); background: var(--good-bg); }
.verdict.pays .answer { color: var(--good); }
.verdict.loses { border-color: var(--bad); background: var(--bad-bg); }
.verdict.loses .answer { color: var(--bad); }
.verdict.none { border-color: var(--line); background: var(--panel); }
.verdict p { margin: 0.25em 0; }
.definitions { background: var(--panel); border: 1px solid var(--line); border-radius: 4px;
  padding: 4px 16px 8px; font-size: 0.88em; }
.definitions dl { display: grid; grid-template-columns: minmax(9em, max-content) minmax(0, 1fr); gap: 3px 16px; margin: 0.5em 0; }
.definitions dt { font-weight: 600; } .definitions dd { margin: 0; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 28px; align-items: start; }
figure { margin: 1em 0 1.6em; } img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.88em; max-width: 60em; }
details { margin: 0.8em 0; } details > summary { cursor: pointer; font-weight: 600; }
pre { background: var(--panel); padding: 0.8em 1em; overflow-x: auto; font-size: 0.82em; max-height: 36em; }
"""

_IMAGE_CHECK = """<script>
// For automated checks: how many images decoded.
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.imagesLoaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = imgs.length;
});
</script>"""


@dataclass(frozen=True)
class Cell:
    """One table cell.

    Attributes:
        text: What the cell shows (escaped when written).
        value: The number behind it, written as ``data-value`` (checks read it), or None.
        note: A second, smaller line under the text (e.g. the interval), or "".
        numeric: Right-aligned, not wrapped; defaults to whether ``value`` is given.
        html: Ready-made HTML shown instead of ``text`` (a link); the caller escapes it.
        key: A name for checks (``data-key``), or "".

    """

    text: str = ""
    value: float | None = None
    note: str = ""
    numeric: bool | None = None
    html: str = ""
    key: str = ""

    def render(self, tag: str = "td") -> str:
        """The cell as HTML."""
        numeric = self.value is not None if self.numeric is None else self.numeric
        attrs = ' class="num"' if numeric else ""
        if self.value is not None and is_number(self.value):
            attrs += f' data-value="{float(self.value)!r}"'
        if self.key:
            attrs += f' data-key="{html.escape(self.key)}"'
        body = self.html or html.escape(self.text)
        if self.note:
            body += f'<span class="small">{html.escape(self.note)}</span>'
        return f"<{tag}{attrs}>{body}</{tag}>"


def _cell(c: Cell | str) -> Cell:
    return c if isinstance(c, Cell) else Cell(str(c))


def table_html(
    header: Sequence[str | Cell],
    rows: Sequence[Sequence[Cell | str]],
    *,
    caption: str = "",
    row_classes: Sequence[str] | None = None,
    css_class: str = "",
    row_headers: bool = True,
) -> str:
    """A table: a header row and body rows of :class:`Cell` (or plain strings).

    Args:
        header: Column titles; a :class:`Cell` with ``numeric=True`` right-aligns its column title.
        rows: The body; the first cell of each row is a row header when ``row_headers``.
        caption: A caption above the table, or "".
        row_classes: A CSS class per row (e.g. ``"best"``), or None.
        css_class: A CSS class of the table, or "".
        row_headers: Write each row's first cell as ``<th scope="row">``.

    """
    head = "".join(_cell(h).render("th") for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = [_cell(c) for c in row]
        first = cells[0].render("th").replace("<th", '<th scope="row"', 1) if row_headers else cells[0].render()
        cls = f' class="{html.escape(row_classes[i])}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>{first}{''.join(c.render() for c in cells[1:])}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    cls_attr = f' class="{html.escape(css_class)}"' if css_class else ""
    return f"<table{cls_attr}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass(frozen=True)
class Comparison:
    """One row of a side-by-side table.

    Attributes:
        name: What is compared ("users acquired").
        ours: The strategy's (or plan's) value; None if unknown.
        theirs: The baseline's (or base plan's) value; None if unknown.
        fmt: Formats one value with its unit.
        difference_fmt: Formats the difference (signed); defaults to ``fmt``.
        difference_half_width: Half-width of the difference's 95 % interval, or None.
        key: A name for checks (``data-key`` of the row's cells), or "".

    """

    name: str
    ours: float | None
    theirs: float | None
    fmt: Callable[[Any], str]
    difference_fmt: Callable[[Any], str] | None = None
    difference_half_width: float | None = None
    key: str = ""


def side_by_side_html(rows: Sequence[Comparison], *, ours: str, theirs: str, caption: str = "") -> str:
    """Two columns (e.g. strategy and baseline) and their difference, with its interval where known."""
    body = []
    for r in rows:
        diff = float(r.ours) - float(r.theirs) if is_number(r.ours) and is_number(r.theirs) else None
        diff_fmt = r.difference_fmt or r.fmt
        diff_text = with_half_width(diff, r.difference_half_width, diff_fmt) if diff is not None else MISSING
        body.append(
            [
                Cell(r.name),
                Cell(r.fmt(r.ours), r.ours, numeric=True, key=f"{r.key}.ours" if r.key else ""),
                Cell(r.fmt(r.theirs), r.theirs, numeric=True, key=f"{r.key}.theirs" if r.key else ""),
                Cell(diff_text, diff, numeric=True, key=f"{r.key}.difference" if r.key else ""),
            ]
        )
    header = ["", Cell(ours, numeric=True), Cell(theirs, numeric=True), Cell("difference", numeric=True)]
    return table_html(header, body, caption=caption, css_class="side-by-side")


def definitions_html(items: Sequence[tuple[str, str]], *, title: str = "What the numbers mean") -> str:
    """The definitions box: one term and its definition per item."""
    entries = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in items)
    return f'<aside class="definitions"><h3>{html.escape(title)}</h3><dl>{entries}</dl></aside>'


def details_html(summary: str, inner_html: str, *, open_: bool = False) -> str:
    """A collapsed section: ``summary`` (escaped) shown, ``inner_html`` (HTML) on click."""
    return f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>{inner_html}</details>"


def figure_html(name: str, png: bytes, caption: str = "") -> str:
    """One embedded figure with an optional caption."""
    data = base64.b64encode(png).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">{cap}</figure>'


def page(title: str, body: str, *, css: str = "") -> str:
    """A complete HTML document: ``title`` (escaped here), ``body`` (HTML, escaped by the caller)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{BASE_CSS}{css}</style></head>
<body>
{body}
{_IMAGE_CHECK}
</body></html>
"""
