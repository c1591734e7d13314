"""The house style of opsim's figures: one style file, a colour-blind-safe palette, number formatters.

``opsim.mplstyle`` (next to this module, shipped in the package) sets sizes, type,
a light grid, constrained layout (no clipped titles, labels or legends), no offset
or scientific notation on ticks, the Okabe–Ito palette and the ``cividis`` colour
map. It is applied with :func:`house_style` for the duration of a block, never
globally, so a notebook's settings stay as they were. Draw *and* save inside it
(``savefig.*`` settings are read when saving)::

    from matplotlib.figure import Figure
    from sim.output.style import house_style, money_formatter

    with house_style():
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot(days, cost)
        ax.yaxis.set_major_formatter(money_formatter("USD"))
        fig.savefig("cost.png")

The named colours below are the palette's, for series that must keep their colour
from one figure to the next (strategy vs baseline, cost vs gross profit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.colors import to_rgb
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.output.formatting import compact

__all__ = [
    "BASELINE",
    "COST",
    "GAIN",
    "LOSS",
    "NEUTRAL",
    "PALETTE",
    "STRATEGY",
    "STYLE_FILE",
    "compact_formatter",
    "house_style",
    "money_formatter",
    "percent_formatter",
    "text_colour_on",
]

#: The style file applied by :func:`house_style`.
STYLE_FILE = Path(__file__).with_name("opsim.mplstyle")

#: Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: The simulated strategy (blue) and its organic baseline (grey) in every comparison.
STRATEGY, BASELINE = PALETTE[0], "#7f7f7f"
#: Money in and out: gross profit (bluish green) and cost (vermillion).
GAIN, COST = PALETTE[2], PALETTE[3]
#: A loss highlighted (vermillion) and a neutral reference line (black).
LOSS, NEUTRAL = PALETTE[3], PALETTE[7]
#: Relative luminance at which black and white text have equal contrast ((L + 0.05)/0.05 = 1.05/(L + 0.05)):
#: text on a lighter cell is black, on a darker one white.
LIGHT_BACKGROUND = 0.179


@cache
def _style_settings() -> dict[str, Any]:
    """The settings of ``opsim.mplstyle`` as matplotlib's own types, read and validated once.

    Each value goes through matplotlib's validator for its key here, not on assignment:
    under Solara's per-session settings ``rcParams[key] = value`` stores what it is given.
    """
    read = matplotlib.rc_params_from_file(STYLE_FILE, use_default_template=False)
    validators = matplotlib.RcParams.validate
    return {key: validators[key](read[key]) for key in read}


@contextmanager
def house_style() -> Iterator[None]:
    """Apply ``opsim.mplstyle`` for the duration of the block; the settings it changed are put back afterwards.

    Only the style's own keys are set and restored, each as ``rcParams[key] = value`` with
    a validated value. ``matplotlib.style.context`` restores *every* setting with a raw
    dictionary update, which bypasses the per-session settings that Solara (the explorer's
    server) substitutes for the global ones: with matplotlib 3.11 the style file's unparsed
    text (``figure.figsize`` = ``"7.5, 4.2"``) was left behind and every later figure failed.
    """
    settings = _style_settings()
    params = matplotlib.rcParams
    before = {key: params[key] for key in settings}
    try:
        for key, value in settings.items():
            params[key] = value
        yield
    finally:
        for key, value in before.items():
            params[key] = value


def compact_formatter() -> FuncFormatter:
    """Tick labels with thousands separators, SI prefixes from 10,000 on: ``2,500``, ``25k``, ``1.2M``."""
    return FuncFormatter(lambda x, _pos: compact(x))


def money_formatter(currency: str) -> FuncFormatter:
    """Money tick labels: compact amounts followed by the currency (``1.2M USD``)."""
    return FuncFormatter(lambda x, _pos: f"{compact(x)} {currency}".strip())


def percent_formatter(decimals: int | None = None) -> PercentFormatter:
    """Tick labels for values already in percent (``12 %``)."""
    return PercentFormatter(xmax=100, decimals=decimals, symbol=" %")


def text_colour_on(rgba: tuple[float, ...]) -> str:
    """Black or white, whichever reads better on a cell of this colour (WCAG 2 relative luminance)."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(rgba))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > LIGHT_BACKGROUND else "white"
