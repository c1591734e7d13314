"""Figure text: Chinese, Japanese and Korean names drawn in a CJK font, or one warning that says what to install."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.output import figure_workers, style
from sim.output import figures as plots
from sim.output.style import MissingFontWarning, has_cjk, house_style

#: Two Chinese characters: drawn in a CJK font they differ; drawn as missing-glyph boxes they are the same box.
NEW, USE = "新", "用"
#: A character that neither DejaVu Sans nor a CJK font has (matplotlib warns of it as of any missing glyph).
NOT_CJK_MISSING = "\N{KHMER LETTER KA}"


def _groups(segments: tuple[str, ...]) -> pd.DataFrame:
    """``retention_measures.parquet`` rows: classic D1 and D7 of each segment."""
    rows = [
        {"by": "segment", "group": name, "measure": "classic", "day_n": day, "share": share, "users": 100}
        for name in segments
        for day, share in ((1, 0.4), (7, 0.2))
    ]
    return pd.DataFrame(rows)


def _pixels(text: str) -> np.ndarray:
    """The figure text ``text``, alone, large, rendered in the house style."""
    with house_style():
        fig = Figure(figsize=(0.6, 0.6), dpi=100)
        fig.text(0.5, 0.5, text, fontsize=24, ha="center", va="center")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _drawn_with_warnings(*figures: Figure) -> list[warnings.WarningMessage]:
    """The warnings raised while the figures are written as PNG, every one recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in figures:
            plots.save_png(fig, io.BytesIO())
    return caught


@pytest.fixture
def no_cjk_font(monkeypatch):
    """As on a machine with no CJK font (the once-per-process warning not given yet)."""
    monkeypatch.setattr(style, "cjk_families", lambda: ())
    style.warn_missing_cjk_font.cache_clear()
    yield
    style.warn_missing_cjk_font.cache_clear()


@pytest.mark.parametrize(
    ("text", "cjk"),
    [
        ("新用户", True),  # simplified Chinese
        ("かな カナ", True),  # hiragana, katakana
        ("한국어", True),  # Hangul syllables
        ("a，b", True),  # a full-width comma alone
        ("paid_growth café Ωμέγα", False),  # Latin and Greek
        ("", False),
    ],
)
def test_cjk_text_is_told_apart_from_other_text(text, cjk):
    assert has_cjk(text) is cjk


@pytest.mark.skipif(not style.cjk_families(), reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_chinese_characters_are_drawn_as_themselves_not_as_boxes():
    """Two different characters give different pixels, and nothing warns of a missing glyph."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new, use = _pixels(NEW), _pixels(USE)
    assert (new < 128).any() and (use < 128).any()  # something was drawn
    assert not np.array_equal(new, use)
    assert not [w for w in caught if "missing from font" in str(w.message)]


@pytest.mark.skipif(not style.cjk_families(), reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_latin_text_is_drawn_as_before_where_a_cjk_font_is_installed(monkeypatch):
    """The CJK font is a fallback only: a figure of Latin text has the same pixels with or without it."""
    fig = plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app, 90 days")
    with_fallback = _pixels("D7 12.5 % casual (100 users)")
    buf_with = io.BytesIO()
    plots.save_png(fig, buf_with)
    monkeypatch.setattr(style, "cjk_families", lambda: ())
    fig = plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app, 90 days")
    buf_without = io.BytesIO()
    plots.save_png(fig, buf_without)
    assert buf_with.getvalue() == buf_without.getvalue()
    assert np.array_equal(with_fallback, _pixels("D7 12.5 % casual (100 users)"))


def test_without_a_cjk_font_chinese_names_give_one_warning_that_says_what_to_install(no_cjk_font):
    """Not one warning per character and figure: one for the process, naming the Debian package."""
    first = plots.retention_groups_figure(_groups(("新用户", "核心用户")), "中文应用, 90 days")
    second = plots.retention_groups_figure(_groups(("新用户",)), "中文应用, 90 days")
    caught = _drawn_with_warnings(first, second)
    assert [w.category for w in caught] == [MissingFontWarning]
    assert "apt-get install fonts-noto-cjk" in str(caught[0].message)
    assert "fontlist-" in str(caught[0].message)  # matplotlib's font list, to delete so the new font is found
    assert _drawn_with_warnings(plots.retention_groups_figure(_groups(("新用户",)), "t")) == []  # given already


def test_without_a_cjk_font_latin_text_warns_of_nothing(no_cjk_font):
    assert _drawn_with_warnings(plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app")) == []


def test_without_a_cjk_font_other_missing_glyphs_are_still_named_one_by_one(no_cjk_font):
    """A missing character that no CJK font would have is matplotlib's warning as before, not the font hint."""
    caught = _drawn_with_warnings(plots.retention_groups_figure(_groups((f"fans {NOT_CJK_MISSING}",)), "t"))
    assert caught  # (matplotlib warns each time it lays the text out)
    assert {(w.category, str(w.message)) for w in caught} == {
        (UserWarning, f"Glyph {ord(NOT_CJK_MISSING)} (\\N{{KHMER LETTER KA}}) missing from font(s) DejaVu Sans.")
    }


def test_workers_warnings_are_raised_again_in_the_caller_each_once(monkeypatch, no_cjk_font):
    """Two workers without a CJK font each warn once: the caller raises the warning once."""
    monkeypatch.setattr(
        figure_workers,
        "draw_pngs",
        lambda data, names: {name: _png(plots.retention_groups_figure(_groups(("新用户",)), name)) for name in names},
    )
    first_drawn, first_raised = figure_workers._draw_share(None, ["a"])
    style.warn_missing_cjk_font.cache_clear()  # the second worker is another process
    second_drawn, second_raised = figure_workers._draw_share(None, ["b"])
    assert set(first_drawn) == {"a"} and set(second_drawn) == {"b"}
    assert [category for _, category, _, _ in first_raised + second_raised] == [MissingFontWarning] * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure_workers._raise_again(first_raised + second_raised)
    assert [(w.category, str(w.message)) for w in caught] == [(MissingFontWarning, first_raised[0][0])]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    plots.save_png(fig, buf)
    return buf.getvalue()
