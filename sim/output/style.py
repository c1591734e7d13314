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

Names in a config may be Chinese, Japanese or Korean (a segment ``新用户``). The house
style's font list ends with the CJK fonts of :data:`CJK_FAMILIES` that matplotlib finds
installed, and matplotlib (3.6 and later) takes each character its first font lacks from
the next font that has it. Where none is installed, :func:`one_warning_for_missing_cjk_font`
turns matplotlib's warning per missing glyph into one :class:`MissingFontWarning` per
process that says what to install.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.colors import to_rgb
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.output.formatting import compact

__all__ = [
    "BASELINE",
    "CJK_FAMILIES",
    "COST",
    "GAIN",
    "LOSS",
    "NEUTRAL",
    "PALETTE",
    "STRATEGY",
    "STYLE_FILE",
    "MissingFontWarning",
    "cjk_families",
    "compact_formatter",
    "has_cjk",
    "house_style",
    "money_formatter",
    "one_warning_for_missing_cjk_font",
    "percent_formatter",
    "text_colour_on",
    "warn_missing_cjk_font",
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

#: Fonts with Chinese, Japanese and Korean characters, in order of preference (simplified Chinese
#: first): Linux (Noto CJK, Source Han, WenQuanYi), Windows (Microsoft YaHei, SimHei), macOS
#: (PingFang, Hiragino). matplotlib lists a ``.ttc`` collection under its first font's name:
#: Debian's ``fonts-noto-cjk`` shows as "Noto Sans CJK JP", which has the simplified Chinese
#: characters too.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "SimHei",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
)
#: What to do when no font of :data:`CJK_FAMILIES` is installed. matplotlib keeps its list of
#: installed fonts in a file and does not look again: it is deleted so the new font is found.
CJK_FONT_HINT = (
    "figure text has Chinese, Japanese or Korean characters, but no font with them is installed: "
    "they are drawn as empty boxes. Install one (on Debian or Ubuntu: apt-get install fonts-noto-cjk; "
    "opsim uses the first it finds of sim.output.style.CJK_FAMILIES), then delete matplotlib's font list "
    "{cache}/fontlist-*.json so that it finds the new font"
)
#: Characters of Chinese, Japanese and Korean text: Hangul jamo; CJK radicals, punctuation, kana,
#: bopomofo and ideographs (U+2E80–U+9FFF); Hangul syllables; compatibility ideographs and forms;
#: half- and full-width forms; the supplementary ideographs (planes 2 and 3).
CJK_CHARACTERS = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)
#: matplotlib's warning for a character its fonts lack (the character's code point in decimal).
MISSING_GLYPH = re.compile(r"Glyph (\d+) \(.*\) missing from font\(s\)")


class MissingFontWarning(UserWarning):
    """Figure text has characters (Chinese, Japanese, Korean) that no installed font has."""


@cache
def _style_settings() -> dict[str, Any]:
    """The settings of ``opsim.mplstyle`` as matplotlib's own types, read and validated once.

    Each value goes through matplotlib's validator for its key here, not on assignment:
    under Solara's per-session settings ``rcParams[key] = value`` stores what it is given.
    """
    read = matplotlib.rc_params_from_file(STYLE_FILE, use_default_template=False)
    validators = matplotlib.RcParams.validate
    return {key: validators[key](read[key]) for key in read}


@cache
def cjk_families() -> tuple[str, ...]:
    """The fonts of :data:`CJK_FAMILIES` that matplotlib's font manager finds, in that order (looked up once)."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(family for family in CJK_FAMILIES if family in installed)


def _font_family(current: list[str]) -> list[str]:
    """The font list: the current one, then the installed CJK fonts it lacks (per-glyph fallback)."""
    return current + [family for family in cjk_families() if family not in current]


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a Chinese, Japanese or Korean character."""
    return CJK_CHARACTERS.search(text) is not None


def _is_missing_cjk_glyph(message: Warning | str) -> bool:
    """Whether a warning is matplotlib's for a CJK character that its fonts lack."""
    found = MISSING_GLYPH.match(str(message))
    return found is not None and has_cjk(chr(int(found.group(1))))


@cache  # once per process
def warn_missing_cjk_font() -> None:
    """Warn that no CJK font is installed, and what to install: the first time only."""
    warnings.warn(CJK_FONT_HINT.format(cache=matplotlib.get_cachedir()), MissingFontWarning, stacklevel=1)


@contextmanager
def one_warning_for_missing_cjk_font() -> Iterator[None]:
    """Draw in the block: matplotlib's warnings for missing CJK glyphs become one :class:`MissingFontWarning`.

    Only where no font of :data:`CJK_FAMILIES` is installed (else the block runs as it is,
    and a glyph that even the CJK fonts lack is still named). Other warnings of the block
    are passed on as they were raised.
    """
    if cjk_families():
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        yield
    missing = False
    for w in caught:
        if _is_missing_cjk_glyph(w.message):
            missing = True
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # through the filters, as raised
    if missing:
        warn_missing_cjk_font()


@contextmanager
def house_style() -> Iterator[None]:
    """Apply ``opsim.mplstyle`` for the duration of the block; the settings it changed are put back afterwards.

    Only the style's own keys are set and restored, each as ``rcParams[key] = value`` with
    a validated value. ``matplotlib.style.context`` restores *every* setting with a raw
    dictionary update, which bypasses the per-session settings that Solara (the explorer's
    server) substitutes for the global ones: with matplotlib 3.11 the style file's unparsed
    text (``figure.figsize`` = ``"7.5, 4.2"``) was left behind and every later figure failed.

    The font list (``font.family``) is the current one followed by the installed CJK fonts
    (:func:`cjk_families`): Latin text is drawn as before, a CJK character in the first CJK
    font. Only installed fonts are named, so matplotlib never warns of a font not found.
    """
    params = matplotlib.rcParams
    settings = {**_style_settings(), "font.family": _font_family(list(params["font.family"]))}
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
