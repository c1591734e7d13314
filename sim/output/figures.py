"""Figures of one run, in the house style (:mod:`sim.output.style`).

Every function takes plain data (arrays, DataFrames, dicts from the result
folder), draws on a given matplotlib ``Axes`` (or on a new ``Figure`` of its own)
and returns the figure; :func:`save_png` writes it. Figures are
``matplotlib.figure.Figure`` objects, not pyplot figures, so nothing here switches
the backend or keeps figures alive in pyplot's registry, and the style is applied
with a context (never globally): a notebook user's ``plt`` state stays as it was.
Money axes carry their currency, counts have thousands separators or SI prefixes,
and an interval is drawn (and named in a legend) only where one exists.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cbook import is_math_text
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import NullLocator

from sim.analysis.retention import HEADLINE_DAYS, LONG_TERM_DAYS, MIN_POOLED_SHARE, pooled_curve_from_table
from sim.analysis.stats import binomial_half_width
from sim.output.cell_labels import cell_labels
from sim.output.formatting import compact, percent
from sim.output.style import (
    BASELINE,
    COST,
    GAIN,
    NEUTRAL,
    PALETTE,
    STRATEGY,
    compact_formatter,
    house_style,
    money_formatter,
    one_warning_for_missing_cjk_font,
    percent_formatter,
    text_colour_on,
)

__all__ = [
    "baseline_comparison_figure",
    "calibration_figure",
    "cohort_heatmap_figure",
    "funnel_figure",
    "growth_figure",
    "lift_figure",
    "payback_figure",
    "retention_figure",
    "retention_groups_figure",
    "save_png",
    "save_png_of",
    "spend_response_figure",
    "stages_figure",
    "target_axes",
]

Target = str | Path | IO[bytes]

#: Stages of acquired users that are active on the dashboard, and the lapsed ones, in stacking order.
ACTIVE_STAGES = ("new", "retained", "activated")
LAPSED_STAGES = ("dormant", "churned")
LAPSED_COLOURS = (PALETTE[4], BASELINE)
#: Tenure weeks shown in the cohort heatmap (week 0 is 100 % by definition and left out).
HEATMAP_WEEKS = 12
#: zlib level of the PNG files (:func:`_write_png`): the fastest of zlib's levels but for two that save
#: little time and write larger files.
PNG_COMPRESS_LEVEL = 3
#: The first eight bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types of 8-bit RGB and RGBA pixels, the row filter "None", and the pHYs unit "metre".
PNG_RGB, PNG_RGBA, PNG_FILTER_NONE, PNG_UNIT_METRE = 2, 6, 0, 1
#: Metres in an inch (the PNG resolution is in pixels per metre).
METRES_PER_INCH = 0.0254
#: Index of the alpha channel of an RGBA pixel, and its value where the pixel is opaque.
ALPHA = 3
OPAQUE = 255
#: Half a heatmap cell: cell (k, w) covers k ± ½ by w ± ½ in data units, its number at the centre.
CELL_HALF = 0.5
#: The heatmap writes its numbers smaller above this many cohorts.
HEATMAP_DENSE_ROWS = 26
#: The heatmap's title: what its numbers are (it has no colour bar).
HEATMAP_TITLE = "Cohort retention by acquisition week: % of each cohort active"
#: Retention measures drawn by group (classic D_N at the measured days).
GROUP_MEASURE = "classic"
#: The sides an Axes' spines can be on: tick labels on a side are turned on by ``label<side>``.
SPINE_SIDES = ("left", "right", "bottom", "top")


def target_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given Axes and its figure, or a new figure of ``size`` inches with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


_axes = target_axes

#: What an empty figure says: a run that acquired nobody has no cohort, growth or funnel to draw.
NO_USERS_TEXT = "no users were acquired in this run: nothing to draw"
#: What the retention figure says when users were acquired but no cohort is a day old at the horizon.
NO_RETENTION_TEXT = "no cohort is a day old yet (D1 needs two days): nothing to draw"


def _no_data(ax: Axes, title: str, text: str = NO_USERS_TEXT) -> None:
    """An empty panel that says why it is empty (never a blank or a crash)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, wrap=True)


def save_png(fig: Figure, target: Target) -> None:
    """Write the figure as PNG to a path or a binary file object, in the house style.

    ``Figure.savefig`` draws a figure that has a layout engine twice: once without
    rendering, to place everything, then again to render. One Agg drawing also runs the
    layout engine before it renders, and gives the same pixels (tested for every figure
    opsim draws) in less time: a default run's six figures take 0.57 s of CPU (which
    includes what :func:`_fewer_measurements` saves) against 0.82 s through ``savefig``
    (``benchmarks/bench_overhead.py``, which times ``savefig`` with its own PNG writing,
    2026-12-01 00:10; 0.62 s against 0.76 s before those skips and before the heatmap lost
    its colour bar; 1.02 s against 1.04 s
    with matplotlib 3.11 and the garbage collector running, and 1.42 s against 1.55 s
    before the heatmap's numbers and the growth bars became collections). Settings that
    make ``savefig`` do more than that (another ``savefig.dpi``, facecolour or bounding
    box, transparency) are left to ``savefig`` itself. The pixels are then written by
    :func:`_write_png`. Where no CJK font is installed, CJK text gives one warning that says
    so (:func:`~sim.output.style.one_warning_for_missing_cjk_font`), not one per character.
    """
    with house_style(), one_warning_for_missing_cjk_font():
        if not _one_drawing_is_savefig(fig):
            fig.savefig(target, format="png")
            return
        original = fig.canvas
        canvas = FigureCanvasAgg(fig)  # becomes fig.canvas: put back below, as savefig does
        try:
            with _fewer_measurements(fig):
                canvas.draw()
            _write_png(np.asarray(canvas.buffer_rgba()), fig.dpi, target)
        finally:
            fig.set_canvas(original)


def save_png_of(build: Callable[[], Figure], target: Target) -> None:
    """:func:`save_png` of the figure ``build()`` makes, drawn in less time where no text of it must wrap.

    matplotlib wraps a text (``wrap=True``: opsim's titles, :func:`_title`) at each of a
    drawing's three layouts of it (two of constrained layout, one to render), each time
    measuring every run of words from a line's start ("a", "a b", "a b c" …): 2–4 % of
    a default run's figures' CPU (``benchmarks/bench_figure_cpu.py``), for titles that fit. So the figure is drawn with
    those texts unwrapped, in the rotation mode matplotlib's wrapping gives them
    (``anchor``: a text of several lines placed from its first line), which gives the
    same pixels (tested), and kept if no line of them would wrap where it was drawn
    (:func:`_would_wrap`, matplotlib's rule). Otherwise that drawing and its warnings are
    dropped, and a new figure from ``build`` is saved by :func:`save_png`, wrapped as
    matplotlib wraps it (a drawn figure is not drawn the same again: constrained layout
    starts from where the last drawing left its Axes). So ``build`` makes a new figure at
    each call; the first one's texts are left as that drawing had them.
    """
    fig = build()
    wrappable = _wrappable_texts(fig)
    with house_style(), one_warning_for_missing_cjk_font():
        if wrappable and _one_drawing_is_savefig(fig):
            for text in wrappable:
                text.set_wrap(False)
                text.set_rotation_mode("anchor")
            canvas = FigureCanvasAgg(fig)
            with warnings.catch_warnings(record=True) as caught, _fewer_measurements(fig):
                warnings.simplefilter("always")  # each kept, to be raised again through the filters or dropped
                canvas.draw()
            renderer = canvas.get_renderer()
            if not any(_would_wrap(text, renderer) for text in wrappable):
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # through the filters
                _write_png(np.asarray(canvas.buffer_rgba()), fig.dpi, target)
                return
            fig = build()
    save_png(fig, target)


@contextmanager
def _fewer_measurements(fig: Figure) -> Iterator[None]:
    """Within the block, matplotlib skips two measurements of the figure that cannot change its pixels.

    Laying out and drawing a figure, matplotlib updates each axis' ticks (locator, formatter,
    tick positions and labels) many times over: a default run's six figures, 20 axes, made
    and drawn once each, update them 219 times. Two kinds of those updates measure nothing
    the drawing uses (187 updates without them):

    * **A spine's box in the layout.** Constrained layout takes the tight box of every
      visible spine, which is the spine's edge of the Axes widened by the tick marks on it,
      and finding the marks updates the axis' ticks once more. Where the axis writes its
      tick labels on the spine's side, each label lies beyond its mark (at the tick's pad
      from the mark's end, along a tick whose label is taller than its mark is wide), so
      the labels' boxes, which the layout takes as well, already reach further: those
      spines are left out of the layout (``Artist.set_in_layout``). A spine whose side has
      no tick labels (the upper panel of two sharing the x axis) stays in it.
    * **Minor ticks that duplicate major ones.** At each tick update an axis looks for
      minor ticks at a major tick's place, to drop them, calling its major locator a second
      time; an axis without minor ticks (a ``NullLocator``, the style's default) has none:
      its ``remove_overlapping_locs`` is turned off.

    Each setting is put back after the block (the figure may be the caller's). The same
    pixels as ``savefig`` for every figure opsim draws (tested, with both kinds of axis
    and spine). A default run's six figures took 0.58 s of CPU against 0.62–0.63 s before
    (``python benchmarks/bench_figure_cpu.py``, its ``save_png_of`` figure, three runs of the
    code before and after, alternating, 2026-11-30 23:52).
    """
    spines, axes_without_minor_ticks = [], []
    for ax in fig.axes:
        for side in SPINE_SIDES:
            spine = ax.spines.get(side)
            if spine is None or spine.axis is None or not spine.get_in_layout():
                continue
            if spine.axis.get_tick_params().get(f"label{side}"):
                spines.append(spine)
        for axis in (ax.xaxis, ax.yaxis):
            if axis.remove_overlapping_locs and isinstance(axis.get_minor_locator(), NullLocator):
                axes_without_minor_ticks.append(axis)
    for spine in spines:
        spine.set_in_layout(False)
    for axis in axes_without_minor_ticks:
        axis.remove_overlapping_locs = False
    try:
        yield
    finally:
        for spine in spines:
            spine.set_in_layout(True)
        for axis in axes_without_minor_ticks:
            axis.remove_overlapping_locs = True


def _wrappable_texts(fig: Figure) -> list[Text]:
    """The figure's texts that matplotlib wraps when it draws them: ``wrap=True``, horizontal, not TeX."""
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [child for child in ax.get_children() if isinstance(child, Text)]
    return [text for text in texts if text.get_wrap() and text.get_rotation() == 0 and not text.get_usetex()]


def _would_wrap(text: Text, renderer: RendererBase) -> bool:
    """Whether matplotlib's wrapping would break a line of this (horizontal) text where it was drawn.

    matplotlib's rule (``Text._get_wrapped_text``): a line of two words or more is broken
    where the rounded-up width of its words so far exceeds the room from the text's
    anchor to the figure's edge (the right edge for a left-aligned text, the left for a
    right-aligned one, twice the nearer for a centred one). A run of a line's first words
    is no wider than the line, so a line is broken only where the whole of it is too wide.
    """
    x = text.get_transform().transform(text.get_position())[0]
    box = text.get_figure().get_window_extent()
    room = {"left": box.x1 - x, "right": x - box.x0}.get(
        text.get_horizontalalignment(), 2 * min(box.x1 - x, x - box.x0)
    )
    for line in text.get_text().split("\n"):
        if " " not in line:
            continue
        width = renderer.get_text_width_height_descent(line, text.get_fontproperties(), ismath=is_math_text(line))[0]
        if math.ceil(width) > room:
            return True
    return False


def _write_png(rgba: np.ndarray, dpi: float, target: Target) -> None:
    """Encode rendered pixels (rows top first, RGBA) as PNG: RGB where every pixel is opaque, rows unfiltered, zlib level 3.

    ``savefig`` writes RGBA through Pillow at zlib level 6. opsim's figures have a white
    background, so the alpha channel says nothing; and Pillow tries every PNG row filter on
    every row and keeps the best, which took half of the encoding time, while the same zlib
    level on unfiltered rows gives files of the same size on these figures (a default run's
    six PNGs: 453,675 against 454,454 bytes, encoded in 46 against 71 ms, the fastest of 7
    rounds of ``python benchmarks/bench_png.py`` on 2026-11-30; 44 against 75–77 ms on
    2026-12-01, since the pixels are copied once, straight into the rows: 47 ms before; with
    the heatmap's colour bar gone, 443,026 against 445,319 bytes in 45–46 against 73–76 ms).
    Pillow cannot be told to skip the filters, so the chunks are written here, as the PNG
    specification lays them out (signature, ``IHDR``, ``pHYs``, ``tEXt``, ``IDAT``, ``IEND``,
    each with its CRC-32). The pixels, the resolution and the "Software" text are those
    ``savefig`` writes (tested, by decoding the file with Pillow).
    """
    opaque = bool((rgba[..., ALPHA] == OPAQUE).all())
    pixels = rgba[..., :ALPHA] if opaque else rgba
    height, width, channels = pixels.shape
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = PNG_FILTER_NONE
    body = rows[:, 1:].reshape(height, width, channels)  # a view of the rows: the pixels are copied once, into place
    body[...] = pixels
    per_metre = int(dpi / METRES_PER_INCH + 0.5)  # as Pillow rounds it
    software = f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"
    header = struct.pack(">IIBBBBB", width, height, 8, PNG_RGB if opaque else PNG_RGBA, 0, 0, 0)
    chunks = [
        _png_chunk(b"IHDR", header),
        _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, PNG_UNIT_METRE)),
        _png_chunk(b"tEXt", b"Software\0" + software.encode("latin-1")),
        _png_chunk(b"IDAT", zlib.compress(rows.data, PNG_COMPRESS_LEVEL)),
        _png_chunk(b"IEND", b""),
    ]
    data = PNG_SIGNATURE + b"".join(chunks)
    if isinstance(target, (str, Path)):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk: the body's length, the chunk type, the body, the CRC-32 of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _one_drawing_is_savefig(fig: Figure) -> bool:
    """Whether ``savefig`` under the current settings only draws and encodes the figure as it is."""
    dpi = rcParams["savefig.dpi"]
    return (
        (dpi == "figure" or float(dpi) == fig.dpi)
        and rcParams["savefig.facecolor"] == "auto"
        and rcParams["savefig.edgecolor"] == "auto"
        and not rcParams["savefig.transparent"]
        and rcParams["savefig.bbox"] is None  # also what "standard" is stored as
    )


def _title(ax: Axes, title: str, subtitle: str = "") -> None:
    """A bold title with an optional second line, wrapped where a line would leave the figure.

    The subtitle (what was simulated) grows with the population's and strategy's names; a
    line too long for the figure was cut at its edge (constrained layout moves titles, it
    does not break them: a paid_growth run's funnel title ended in "strategy pai"), so
    matplotlib wraps it at spaces to the figure's right edge (``wrap=True``), at each
    drawing. A title that fits keeps its lines; matplotlib lays a wrapped text out from its
    first line, so a two-line title sits about 2 px nearer its Axes than it did unwrapped.
    :func:`save_png_of` draws the same pixels in less time where no title needs wrapping.
    """
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontweight="bold", loc="left", wrap=True)


def _pooled_band(ax: Axes, n: np.ndarray, d: np.ndarray, users: np.ndarray, colour: str, label: str) -> None:
    """The 95 % binomial band of a pooled retention curve, named with its widest half-width."""
    half = binomial_half_width(d, users)
    shown = np.isfinite(d) & (users > 0)
    if not shown.any():
        return
    widest = float(np.nanmax(np.where(shown, half, np.nan)))
    ax.fill_between(
        n,
        100 * np.where(shown, d - half, np.nan),
        100 * np.where(shown, d + half, np.nan),
        color=colour,
        alpha=0.22,
        lw=0,
        label=f"{label} 95 % interval (± up to {100 * widest:.1f} pt)".strip(),
    )


def cohort_retention_figure(
    cohorts: pd.DataFrame, baseline_cohorts: pd.DataFrame | None, title: str, *, ax: Axes | None = None
) -> Figure:
    """:func:`retention_figure` of a run's long cohort table (``cohorts.parquet``) and its baseline's, if any.

    The pooled curves D_N of each (:func:`~sim.analysis.retention.pooled_curve_from_table`).
    """
    baseline = pooled_curve_from_table(baseline_cohorts) if baseline_cohorts is not None else None
    return retention_figure(*pooled_curve_from_table(cohorts), title, baseline=baseline, ax=ax)


def retention_figure(
    curve: np.ndarray,
    users: np.ndarray,
    title: str,
    *,
    baseline: tuple[np.ndarray, np.ndarray] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Classic retention D_N with its 95 % binomial interval, D1/D7/D30 marked; the baseline overlaid if given.

    Days N observed by fewer than :data:`MIN_POOLED_SHARE` of the users behind D1
    (the end of a short run) are not drawn.

    Args:
        curve: Pooled D_0 … D_K (shares; NaN where unobserved).
        users: Users behind each D_N.
        title: Subtitle (what was simulated).
        baseline: The organic baseline's ``(curve, users)`` on the same seed, or None.
        ax: Axes to draw on, or None for a new figure.

    """
    with house_style():
        fig, ax = _axes(ax, (7.5, 4.2))
        observed = np.isfinite(np.asarray(curve, dtype=float))
        if not observed[1:].any():  # no D_N with N >= 1: nobody acquired, or no cohort a day old yet
            _no_data(ax, "Retention, all cohorts pooled", NO_USERS_TEXT if not observed.any() else NO_RETENTION_TEXT)
            return fig
        users = np.asarray(users, dtype=float)
        enough = np.flatnonzero(users[: LONG_TERM_DAYS + 1] >= MIN_POOLED_SHARE * users[1]) if users.size > 1 else []
        shown = int(enough[-1]) + 1 if len(enough) else min(curve.size, LONG_TERM_DAYS + 1)
        n = np.arange(1, shown)
        series = [("strategy" if baseline is not None else "classic retention D_N", curve, users, STRATEGY)]
        if baseline is not None:
            series.append(("organic baseline", baseline[0], baseline[1], BASELINE))
        top = 0.0
        for label, c, u, colour in series:
            d = np.asarray(c[1:shown], dtype=float)
            if not np.isfinite(d).any():
                continue
            _pooled_band(ax, n, d, np.asarray(u[1:shown], dtype=float), colour, "" if baseline is None else label)
            ax.plot(n, 100 * d, color=colour, label=label, ls="-" if colour == STRATEGY else "--")
            top = max(top, float(np.nanmax(d)))
        d = np.asarray(curve, dtype=float)
        for day, marker in zip(HEADLINE_DAYS, ("o", "s", "D"), strict=True):
            if day < shown and np.isfinite(d[day]):
                y = 100 * d[day]
                ax.plot([day], [y], marker=marker, color=STRATEGY, ms=6, ls="none")
                ax.annotate(f"D{day} {y:.1f} %", (day, y), textcoords="offset points", xytext=(7, 5), fontsize=8.5)
        ax.set_ylim(0, 100 * (top or 1.0) * 1.15)
        ax.set_xlim(0, shown)
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel("days since acquisition (N)")
        ax.set_ylabel("active on day N (% of cohort)")
        ax.legend(loc="upper right")
        _title(ax, "Classic retention, all cohorts pooled", title)
    return fig


def retention_groups_figure(measures: pd.DataFrame, title: str, *, fig: Figure | None = None) -> Figure:
    """Classic retention D_N at the measured days, one line per acquisition channel and per segment.

    Args:
        measures: ``retention_measures.parquet`` (``by``, ``group``, ``measure``, ``day_n``, ``share``, ``users``).
        title: Subtitle (what was simulated).
        fig: Figure to draw on, or None for a new one.

    """
    groups = [by for by in ("channel", "segment") if (measures["by"] == by).any()]
    with house_style():
        if fig is None:
            fig = Figure(figsize=(4.2 * max(1, len(groups)) + 0.6, 4.0))
        axes = fig.subplots(1, max(1, len(groups)), squeeze=False)[0]
        for ax, by in zip(axes, groups, strict=False):
            rows = measures[(measures["by"] == by) & (measures["measure"] == GROUP_MEASURE)]
            for i, (name, g) in enumerate(rows.groupby("group", sort=False)):
                g = g.sort_values("day_n")
                users = int(g["users"].iloc[0]) if len(g) else 0
                ax.plot(
                    g["day_n"],
                    100 * g["share"],
                    marker="o",
                    color=PALETTE[i % len(PALETTE)],
                    label=f"{name} ({compact(users)} users)",
                )
            ax.set_xscale("symlog", linthresh=7)
            days = sorted(rows["day_n"].unique())
            ax.set_xticks(days, [f"D{d}" for d in days])
            ax.minorticks_off()
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(percent_formatter())
            ax.set_xlabel("day N since acquisition")
            ax.legend(loc="upper right")
            ax.set_ylabel("classic retention D_N (% of cohort)")
            _title(ax, f"By {by}")
        fig.suptitle(
            f"Retention by acquisition channel and segment\n{title}", x=0.01, ha="left", fontsize=10.5, wrap=True
        )
    return fig


def stages_figure(daily: pd.DataFrame, title: str, *, fig: Figure | None = None) -> Figure:
    """Acquired users by lifecycle stage: the active stages (with DAU) above, the lapsed ones below.

    Lapsed users (dormant, churned) pile up over a long horizon and would dwarf the
    active stages on one axis, so each group has its own.
    """
    with house_style():
        if fig is None:
            fig = Figure(figsize=(7.5, 5.4))
        if not daily[[*ACTIVE_STAGES, *LAPSED_STAGES]].to_numpy().any():
            _no_data(fig.add_subplot(), "Acquired users by lifecycle stage")
            return fig
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1.3, 1))
        top.stackplot(
            daily["day"], *[daily[s] for s in ACTIVE_STAGES], labels=ACTIVE_STAGES, colors=PALETTE[:3], alpha=0.85
        )
        top.plot(daily["day"], daily["dau"], color=NEUTRAL, lw=1.2, ls="--", label="DAU (visited that day)")
        top.yaxis.set_major_formatter(compact_formatter())
        top.set_ylabel("users")
        top.legend(loc="upper left", ncol=4)
        _title(top, "Acquired users by lifecycle stage", title)
        bottom.stackplot(
            daily["day"], *[daily[s] for s in LAPSED_STAGES], labels=LAPSED_STAGES, colors=LAPSED_COLOURS, alpha=0.8
        )
        bottom.yaxis.set_major_formatter(compact_formatter())
        bottom.set_ylabel("users")
        bottom.set_xlabel("day")
        bottom.legend(loc="upper left", ncol=2)
        _title(bottom, "Lapsed: dormant (silent 7+ days) and churned (30+ days)")
    return fig


def cohort_heatmap_figure(triangle: pd.DataFrame, title: str, *, ax: Axes | None = None) -> Figure:
    """Weekly cohort triangle: % of each acquisition week's users active in tenure week k, values in the cells.

    The values are written as one collection of outlines (:func:`sim.output.cell_labels.cell_labels`,
    its ``texts`` the numbers), not as ~600 ``Text`` artists: it draws in a fifth of the time.
    The cells are one ``QuadMesh`` (``pcolormesh``, one flat-coloured square per cell), not an
    image: ``imshow`` resamples the values to the Axes' pixels in floating point at every
    drawing (arrays of some 25 MB for a year of cohorts), which took a figure worker about
    40 ms the first time and 10–15 ms each time after (one-off timings here); the mesh is
    filled in one call.

    Week 0 (100 % by definition) is left out so the colour scale spends its range on the weeks that differ.
    The colour repeats the number written in its cell, so the figure has no colour bar, and
    its title says what the numbers are (:data:`HEATMAP_TITLE`): a colour bar, an Axes of its
    own with its ticks in the layout, took a quarter of the figure's CPU (40 of 164 ms, one-off
    timings here) and a sixth of its width.
    """
    cols = [c for c in triangle.columns if c.startswith("w") and c[1:].isdigit() and 1 <= int(c[1:]) <= HEATMAP_WEEKS]
    values = 100 * triangle[cols].to_numpy(dtype=float) if cols else np.zeros((len(triangle), 0))
    rows = len(triangle)
    with house_style():
        fig, ax = _axes(ax, (7.5, min(14.0, max(3.2, 0.2 * rows + 1.6))))
        if not rows or not np.isfinite(values).any():
            _no_data(ax, "Cohort retention by acquisition week")
            return fig
        finite = values[np.isfinite(values)]
        norm = Normalize(vmin=0, vmax=float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
        cells = ax.pcolormesh(
            np.arange(len(cols) + 1) - CELL_HALF,
            np.arange(rows + 1) - CELL_HALF,
            np.ma.masked_invalid(values),
            cmap="cividis",
            norm=norm,
        )
        ax.set_xlim(-CELL_HALF, len(cols) - CELL_HALF)
        ax.set_ylim(rows - CELL_HALF, -CELL_HALF)  # the first cohort at the top, as a table reads
        ax.grid(False)
        ax.set_xticks(range(len(cols)), [c[1:] for c in cols])
        step = max(1, rows // 26)
        ax.set_yticks(range(0, rows, step), [str(w) for w in triangle["cohort_week"].iloc[::step]])
        size = 7 if rows <= HEATMAP_DENSE_ROWS else 5.5
        row, column = np.nonzero(np.isfinite(values))
        cell_values = values[row, column]
        cell_labels(
            ax,
            column,
            row,
            [f"{v:.1f}" for v in cell_values],
            [text_colour_on(rgba) for rgba in cells.cmap(norm(cell_values))],
            size,
        )
        ax.set_xlabel("weeks since acquisition")
        ax.set_ylabel("acquisition week")
        _title(ax, HEATMAP_TITLE, title)
    return fig


#: Width of a bar, as a share of the distance between neighbouring x values.
BAR_WIDTH = 0.85


def _bars(ax: Axes, x: np.ndarray, height: np.ndarray, bottom: np.ndarray, colour: str, label: str) -> PolyCollection:
    """Vertical bars from ``bottom`` to ``bottom + height`` at each ``x``, as one collection.

    What ``ax.bar`` draws, as one artist instead of a ``Rectangle`` per bar: a year of
    weekly growth has some 200 bars, and adding and drawing them one by one took about
    half of the growth figure's time. A collection is a legend entry like a bar series.
    """
    x = np.asarray(x, dtype=float)
    left, right = x - BAR_WIDTH / 2, x + BAR_WIDTH / 2
    top = bottom + height
    corners = np.stack(
        [np.column_stack(pair) for pair in ((left, bottom), (left, top), (right, top), (right, bottom))], axis=1
    )
    bars = PolyCollection(corners, facecolors=to_rgba(colour), edgecolors="none", linewidths=0, label=label)
    ax.add_collection(bars)
    return bars


def growth_figure(growth: pd.DataFrame, title: str, *, ax: Axes | None = None) -> Figure:
    """Weekly growth accounting: new, resurrected and retained up, churned down; quick ratio."""
    weeks = growth.iloc[:-1] if len(growth) > 1 else growth  # the last week is usually partial
    x = weeks.iloc[:, 0].to_numpy()
    with house_style():
        fig, ax = _axes(ax, (7.5, 4.6))
        if not growth["active"].to_numpy().any():
            _no_data(ax, "Weekly growth accounting")
            return fig
        bottom = np.zeros(len(weeks))
        for name, colour in (("retained", PALETTE[5]), ("new", PALETTE[0]), ("resurrected", PALETTE[2])):
            height = weeks[name].to_numpy(dtype=float)
            _bars(ax, x, height, bottom, colour, name)
            bottom = bottom + height
        _bars(ax, x, -weeks["churned"].to_numpy(dtype=float), np.zeros(len(weeks)), COST, "churned (lapsed)")
        ax.autoscale_view()
        ax.axhline(0, color=NEUTRAL, lw=0.8)
        ax.yaxis.set_major_formatter(compact_formatter())
        ax.set_xlabel("week")
        ax.set_ylabel("users active in the week")
        ax2 = ax.twinx()
        ax2.plot(x, weeks["quick_ratio"], color=NEUTRAL, lw=1.4, marker=".", label="quick ratio (right axis)")
        ax2.axhline(1.0, color=NEUTRAL, lw=0.8, ls=":")
        ax2.set_ylabel("quick ratio (new + resurrected) / churned")
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax2.set_ylim(bottom=0)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=5)
        _title(ax, "Weekly growth accounting", title)
    return fig


def funnel_figure(funnel: dict[str, Any], title: str, *, ax: Axes | None = None) -> Figure:
    """Aware → acquired → retained → activated, with step conversion."""
    steps = ["aware", "acquired", "retained", "activated"]
    counts = [float(funnel[s]) for s in steps]
    with house_style():
        fig, ax = _axes(ax, (7.5, 3.2))
        bars = ax.barh(steps[::-1], counts[::-1], color=PALETTE[:4][::-1])
        for bar, step in zip(bars, steps[::-1], strict=True):
            rate = funnel.get(f"{step}_rate")
            text = f"{compact(funnel[step])}" + (
                f"  ({percent(rate)} of the step before)" if rate is not None and np.isfinite(rate) else ""
            )
            ax.annotate(
                text,
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8.5,
            )
        ax.set_xlim(0, max(counts) * 1.6 if max(counts) else 1)
        ax.xaxis.set_major_formatter(compact_formatter())
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("users (ever)")
        _title(ax, "Funnel", title)
    return fig


def payback_figure(daily: pd.DataFrame, economics: dict[str, Any], strategy: str, *, ax: Axes | None = None) -> Figure:
    """Cumulative lever cost vs cumulative incremental gross profit, payback day marked."""
    cur = economics["currency"]
    with house_style():
        fig, ax = _axes(ax, (7.5, 4.2))
        ax.plot(daily["day"], daily["cost_total"].cumsum(), color=COST, label="cumulative cost")
        if "incremental_gross_profit" in daily:
            ax.plot(
                daily["day"],
                daily["incremental_gross_profit"].cumsum(),
                color=GAIN,
                label="cumulative incremental gross profit (vs baseline)",
            )
        ax.plot(
            daily["day"],
            daily["gross_profit"].cumsum(),
            color=BASELINE,
            lw=1.2,
            ls=":",
            label="cumulative gross profit (all users)",
        )
        day = economics.get("payback_day")
        if day is not None:
            ax.axvline(day, color=NEUTRAL, lw=0.8)
            ax.annotate(f"pays back: day {day}", (day, 0), xytext=(5, 8), textcoords="offset points", fontsize=8.5)
        ax.yaxis.set_major_formatter(money_formatter(cur))
        ax.set_xlabel("day")
        ax.set_ylabel(f"cumulative amount ({cur})")
        ax.legend(loc="upper left")
        _title(ax, "Cost and gross profit", f"strategy {strategy}")
    return fig


def baseline_comparison_figure(
    daily: pd.DataFrame, currency: str, strategy: str, *, fig: Figure | None = None
) -> Figure:
    """Strategy vs organic baseline, day by day: new users, DAU and cumulative revenue (``baseline_*`` columns)."""
    panels = (
        ("new_users", "baseline_new_users", "new users per day", False),
        ("dau", "baseline_dau", "DAU", False),
        ("revenue", "baseline_revenue", f"cumulative revenue ({currency})", True),
    )
    with house_style():
        if fig is None:
            fig = Figure(figsize=(11, 3.6))
        axes = fig.subplots(1, len(panels))
        for ax, (ours, theirs, label, cumulative) in zip(axes, panels, strict=True):
            a, b = daily[ours].astype(float), daily[theirs].astype(float)
            if cumulative:
                a, b = a.cumsum(), b.cumsum()
            ax.plot(daily["day"], a, color=STRATEGY, label=f"strategy {strategy}")
            ax.plot(daily["day"], b, color=BASELINE, ls="--", label="organic baseline")
            ax.yaxis.set_major_formatter(money_formatter(currency) if cumulative else compact_formatter())
            ax.set_xlabel("day")
            ax.set_ylim(bottom=0)
            _title(ax, label)
        axes[0].legend(loc="upper left")
        fig.suptitle("Strategy vs organic baseline (same seed)", x=0.01, ha="left", fontsize=10.5, wrap=True)
    return fig


def spend_response_figure(table: pd.DataFrame, currency: str, *, fig: Figure | None = None) -> Figure:
    """Spend → incremental users acquired, per ad channel (saturation shows as a bend)."""
    channels = list(dict.fromkeys(table["channel"]))
    with house_style():
        if fig is None:
            fig = Figure(figsize=(max(5.0, 3.8 * len(channels) + 0.8), 3.9))
        axes = fig.subplots(1, len(channels), squeeze=False)
        for i, (ax, channel) in enumerate(zip(axes[0], channels, strict=True)):
            rows = table[table["channel"] == channel].sort_values("spend")
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(rows["spend"], rows["incremental_new_users"], color=colour, marker="o")
            current = rows[rows["budget_multiplier"] == 1.0]
            ax.plot(
                current["spend"],
                current["incremental_new_users"],
                marker="s",
                ms=9,
                color=colour,
                mfc="white",
                ls="none",
                label="configured budget",
            )
            ax.xaxis.set_major_formatter(money_formatter(currency))
            ax.yaxis.set_major_formatter(compact_formatter())
            ax.tick_params(axis="x", labelrotation=30)
            ax.set_xlabel(f"total spend on the channel ({currency})")
            ax.set_ylabel("users acquired vs zero budget")
            ax.legend(loc="lower right")
            _title(ax, channel)
        fig.suptitle("Spend response per ad channel", x=0.01, ha="left", fontsize=10.5, wrap=True)
    return fig


#: Observed points are drawn with ± this many standard errors.
OBSERVED_SE_BARS = 2


def calibration_figure(
    table: pd.DataFrame, title: str, *, fitted_label: str = "simulated (calibrated)", ax: Axes | None = None
) -> Figure:
    """Observed retention (± 2 SE) against the calibrated simulation and its band over other seeds.

    ``table``'s first column is the x axis (day or period); it has ``observed``,
    ``fitted`` and optionally ``observed_se``, ``band_low`` and ``band_high`` (shares).
    """
    with house_style():
        fig, ax = _axes(ax, (7.5, 4.2))
        x = table.iloc[:, 0]
        if "band_low" in table:
            ax.fill_between(
                x,
                100 * table["band_low"],
                100 * table["band_high"],
                color=STRATEGY,
                alpha=0.2,
                lw=0,
                label="95 % band (parameters' uncertainty)",
            )
        has_se = "observed_se" in table
        ax.errorbar(
            x,
            100 * table["observed"],
            yerr=100 * OBSERVED_SE_BARS * table["observed_se"] if has_se else None,
            fmt="o",
            color=NEUTRAL,
            ms=4,
            label=f"observed (± {OBSERVED_SE_BARS} SE)" if has_se else "observed",
        )
        ax.plot(x, 100 * table["fitted"], color=STRATEGY, label=fitted_label)
        ax.set_xlabel(table.columns[0])
        ax.set_ylabel("retention (%)")
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_ylim(bottom=0)
        ax.legend()
        _title(ax, title)
    return fig


def lift_figure(
    curve: pd.DataFrame,
    table: pd.DataFrame,
    parameter: str,
    title: str,
    *,
    fitted: tuple[float, float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Simulated relative lift of each metric against a lever's effect parameter, with the measured lift.

    ``curve``: the parameter's values (column ``parameter``) and ``lift_<metric>``;
    ``table``: per metric ``lift_observed`` and its 95 % bounds ``lift_observed_low|high``;
    ``fitted``: the fitted value and its 95 % interval, drawn as a line and a band.
    """
    with house_style():
        fig, ax = target_axes(ax, (7.5, 4.2))
        x = curve[parameter]
        for i, row in enumerate(table.itertuples()):
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(x, 100 * curve[f"lift_{row.metric}"], color=colour, label=f"{row.metric}: simulated")
            ax.axhspan(100 * row.lift_observed_low, 100 * row.lift_observed_high, color=colour, alpha=0.15, lw=0)
            ax.axhline(
                100 * row.lift_observed, color=colour, ls="--", lw=1, label=f"{row.metric}: measured (95 % band)"
            )
        if fitted is not None:
            value, low, high = fitted
            ax.axvspan(low, high, color=NEUTRAL, alpha=0.15, lw=0)
            ax.axvline(
                value, color=NEUTRAL, lw=1, label=f"fitted {parameter} = {value:.3g} (95 % {low:.3g} … {high:.3g})"
            )
        ax.set_xlabel(parameter)
        ax.set_ylabel("lift (% of control)")
        ax.legend()
        _title(ax, title)
    return fig
